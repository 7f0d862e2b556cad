"""`evaluate`: run a model as an agent over held-out tasks; per-task records + a summary in one folder.

out/episodes.jsonl   one TrajectoryRecord per task (resumable, like `collect`)
out/summary.json     accuracy, mean steps, tokens and seconds per task, and the config
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from pydantic import BaseModel, Field

from agentdistill.errors import InputFileError, MissingFileError
from agentdistill.llm import AgentChatModel
from agentdistill.llm.precision import describe_precisions
from agentdistill.pipeline.collect import Collector
from agentdistill.pipeline.eval_config import EvalConfig
from agentdistill.tasks import load_suite
from agentdistill.tasks.metrics import extract_number, wilson_interval
from agentdistill.trajectories.record import TrajectoryRecord
from agentdistill.trajectories.store import TrajectoryStore


class RegressionError(BaseModel):
    """Mean absolute error of numeric answers on one kind of regression-style task."""

    unit: str
    tasks: int
    answered: int
    mae: float


class EvalSummary(BaseModel):
    """Scores of one evaluated model on one suite split."""

    label: str
    model: str
    suite: str
    split: str
    prompt_style: str
    sag: int
    tasks: int
    correct: int
    accuracy: float
    mean_steps: float
    mean_completion_tokens: float
    seconds_per_task: float
    finished_rate: float
    precision: str = Field(default="-", description="What the model computed in (see llm.precision).")
    mae: dict[str, RegressionError] = Field(default_factory=dict, description="Per regression-style template.")
    config: dict

    def row(self) -> list[str]:
        mae = "; ".join(
            f"{name} {e.mae:.3g} {e.unit} ({e.answered}/{e.tasks})" if e.answered else f"{name} - (0/{e.tasks})"
            for name, e in self.mae.items()
        )
        low, high = wilson_interval(self.correct, self.tasks)
        accuracy = f"{self.accuracy:.1%} ({self.correct}/{self.tasks}; 95% CI {low:.0%}–{high:.0%})"
        return [
            self.label,
            self.suite,
            str(self.tasks),
            accuracy,
            mae or "-",
            f"{self.mean_steps:.2f}",
            f"{self.mean_completion_tokens:.0f}",
            f"{self.seconds_per_task:.1f}",
            self.precision,
        ]


SUMMARY_COLUMNS = [
    "run",
    "suite",
    "tasks",
    "accuracy",
    "MAE (answered/tasks)",
    "mean steps",
    "tokens/task",
    "s/task",
    "precision",
]


def regression_errors(records: list[TrajectoryRecord], suite: str) -> dict[str, RegressionError]:
    """MAE of numeric answers on tasks marked `regression_unit` (LLaMP-style), over the tasks answered with a
    number; unanswered tasks are counted, not guessed."""
    try:
        tasks = {t.id: t for t in load_suite(suite, "all")}
    except (KeyError, ValueError, OSError):
        return {}
    errors: dict[str, list[float]] = {}
    totals: dict[str, tuple[int, str]] = {}
    for record in records:
        task = tasks.get(record.task_id)
        unit = task.metadata.get("regression_unit") if task else None
        if task is None or not unit:
            continue
        name = task.difficulty or "value"
        count, _ = totals.get(name, (0, unit))
        totals[name] = (count + 1, unit)
        value, gold = extract_number(record.trajectory.final_answer), extract_number(task.answers[0])
        if value is not None and gold is not None:
            errors.setdefault(name, []).append(abs(value - gold))
    return {
        name: RegressionError(
            unit=unit,
            tasks=count,
            answered=len(errors.get(name, [])),
            mae=sum(errors.get(name, [])) / max(len(errors.get(name, [])), 1),
        )
        for name, (count, unit) in sorted(totals.items())
    }


def prompt_styles(records: list[TrajectoryRecord]) -> str:
    """The system prompts the episodes ran with, e.g. `full` or `exact+full` (auto picks one per task)."""
    return "+".join(sorted({r.trajectory.prompt_style for r in records}))


def summarize(records: list[TrajectoryRecord], config: EvalConfig) -> EvalSummary:
    """Summary over every record in the store (so a resumed run is summarised whole)."""
    n = len(records) or 1
    correct = sum(r.correct for r in records)
    return EvalSummary(
        label=config.label or Path(config.model.removeprefix("hf:")).name or config.model,
        model=config.model,
        suite=config.suite,
        split=config.split,
        prompt_style=prompt_styles(records) or config.resolved_prompt_style,
        sag=config.sag,
        tasks=len(records),
        correct=correct,
        accuracy=correct / n,
        mean_steps=sum(len(r.trajectory.steps) for r in records) / n,
        mean_completion_tokens=sum(r.trajectory.completion_tokens for r in records) / n,
        seconds_per_task=sum(r.trajectory.duration_s for r in records) / n,
        finished_rate=sum(r.trajectory.finished for r in records) / n,
        precision=describe_precisions(r.precision for r in records),
        mae=regression_errors(records, config.suite),
        config=config.to_dict(),
    )


def evaluate(
    config: EvalConfig,
    model: AgentChatModel | None = None,
    on_record: Callable | None = None,
    total: Callable[[int, int], None] | None = None,
) -> EvalSummary:
    """Evaluate as `config` says; writes the folder and returns the summary."""
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    with Collector(config.to_collect_config(), model=model) as collector:
        collector.run(on_record=on_record, total=total)
    return write_summary(config)


def write_summary(config: EvalConfig) -> EvalSummary:
    """Summarise the episodes in `config.out` into its summary.json (no model needed) and return the summary."""
    out = Path(config.out)
    summary = summarize(list(TrajectoryStore(out / "episodes.jsonl")), config)
    (out / "summary.json").write_text(summary.model_dump_json(indent=2), encoding="utf-8")
    return summary


def load_summary(folder: str | Path) -> EvalSummary:
    path = Path(folder) / "summary.json"
    if not path.is_file():
        raise MissingFileError(f"{folder} has no summary.json (is it an `agentdistill eval` output folder?)")
    try:
        return EvalSummary.model_validate(json.loads(path.read_text(encoding="utf-8")))
    except ValueError as error:
        raise InputFileError(f"{path} is not an eval summary: {error}") from None
