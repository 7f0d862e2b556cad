"""Benchmarks the user has as local files (the paper's: HotpotQA, MuSiQue, 2Wiki, Bamboogle, MATH-500,
GSM-Hard, AIME): JSON, JSONL, CSV or parquet in, `Task`s out, with the right metric."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from agentdistill.errors import InputFileError
from agentdistill.tasks.metrics import is_plain_number
from agentdistill.tasks.schema import MetricName, Task

# benchmark -> metric; a record's question, answer, aliases and id come from the first key present of each tuple below
BENCHMARKS: dict[str, MetricName] = {
    "hotpotqa": "f1",
    "musique": "f1",
    "2wiki": "f1",
    "bamboogle": "f1",
    "math500": "numeric",
    "gsm-hard": "numeric",
    "aime": "numeric",
}
_QUESTION_KEYS = ("question", "problem", "Question", "Problem", "input", "query")
_ANSWER_KEYS = ("answer", "answers", "Answer", "target", "gold", "golden_answers", "solution_answer")
_ALIAS_KEYS = ("answer_aliases", "aliases")
_ID_KEYS = ("id", "_id", "unique_id", "ID", "qid")


class TaskFileError(InputFileError):
    pass


def read_records(path: str | Path) -> list[dict[str, Any]]:
    """Rows of a .json (a list, or {"data": [...]}) / .jsonl / .csv / .parquet file."""
    path = Path(path)
    if not path.exists():
        raise TaskFileError(f"{path}: no such file")
    suffix = path.suffix.lower()
    try:
        if suffix == ".jsonl":
            return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        if suffix == ".json":
            data = json.loads(path.read_text(encoding="utf-8"))
            rows = data.get("data", data.get("examples", [])) if isinstance(data, dict) else data
            return rows if isinstance(rows, list) else []
        if suffix == ".csv":
            with path.open(encoding="utf-8", newline="") as rows:
                return list(csv.DictReader(rows))
        if suffix == ".parquet":
            import pandas as pd

            return pd.read_parquet(path).to_dict(orient="records")
    except (ValueError, OSError) as error:
        raise TaskFileError(f"{path}: cannot read ({error})") from None
    raise TaskFileError(f"{path}: unsupported file type {suffix!r} (use .json, .jsonl, .csv or .parquet)")


def _first(record: dict[str, Any], keys: tuple[str, ...]) -> Any:
    return next((record[k] for k in keys if k in record and record[k] not in (None, "")), None)


def _answers(record: dict[str, Any]) -> list[str]:
    answer = _first(record, _ANSWER_KEYS)
    answers = [str(a) for a in answer] if isinstance(answer, (list, tuple)) else [] if answer is None else [str(answer)]
    aliases = _first(record, _ALIAS_KEYS) or []
    return answers + [str(a) for a in aliases if str(a) not in answers]


def load_task_file(path: str | Path, benchmark: str | None = None, suite: str | None = None) -> list[Task]:
    """Tasks from a local benchmark file; `benchmark` picks the metric (guessed from the file name if None)."""
    path = Path(path)
    name = benchmark or next((b for b in BENCHMARKS if b.replace("-", "") in path.stem.lower().replace("-", "")), None)
    records = read_records(path)
    tasks = []
    for n, record in enumerate(records, 1):
        question, answers = _first(record, _QUESTION_KEYS), _answers(record)
        if question is None or not answers:
            raise TaskFileError(f"{path}: record {n} has no question or answer (keys: {', '.join(record)})")
        metric: MetricName = BENCHMARKS.get(name or "", "f1")
        if metric == "numeric" and not is_plain_number(answers[0]):
            metric = "exact_match"  # e.g. a MATH answer that is an expression, not a number
        tasks.append(
            Task(
                id=str(_first(record, _ID_KEYS) or f"{path.stem}-{n}"),
                question=str(question),
                answers=answers,
                metric=metric,
                suite=suite or name or path.stem,
            )
        )
    return tasks
