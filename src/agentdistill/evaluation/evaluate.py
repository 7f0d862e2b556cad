"""`evaluate`: run a model as an agent over held-out tasks; per-task records + a summary in one folder.

    out/episodes.jsonl   one TrajectoryRecord per task (resumable, like `collect`)
    out/summary.json     accuracy, mean steps, tokens and seconds per task, and the config
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from pydantic import BaseModel

from agentdistill.evaluation.eval_config import EvalConfig
from agentdistill.llm import AgentChatModel
from agentdistill.trajectories.collect import Collector
from agentdistill.trajectories.record import TrajectoryRecord
from agentdistill.trajectories.store import TrajectoryStore


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
    config: dict

    def row(self) -> list[str]:
        return [self.label, self.suite, str(self.tasks), f"{self.accuracy:.1%} ({self.correct}/{self.tasks})",
                f"{self.mean_steps:.2f}", f"{self.mean_completion_tokens:.0f}", f"{self.seconds_per_task:.1f}"]


SUMMARY_COLUMNS = ["run", "suite", "tasks", "accuracy", "mean steps", "tokens/task", "s/task"]


def summarize(records: list[TrajectoryRecord], config: EvalConfig) -> EvalSummary:
    """Summary over every record in the store (so a resumed run is summarised whole)."""
    n = len(records) or 1
    correct = sum(r.correct for r in records)
    return EvalSummary(
        label=config.label or Path(config.model.removeprefix("hf:")).name or config.model,
        model=config.model, suite=config.suite, split=config.split, prompt_style=config.resolved_prompt_style,
        sag=config.sag, tasks=len(records), correct=correct, accuracy=correct / n,
        mean_steps=sum(len(r.trajectory.steps) for r in records) / n,
        mean_completion_tokens=sum(r.trajectory.completion_tokens for r in records) / n,
        seconds_per_task=sum(r.trajectory.duration_s for r in records) / n,
        finished_rate=sum(r.trajectory.finished for r in records) / n, config=config.to_dict(),
    )


def evaluate(config: EvalConfig, model: AgentChatModel | None = None,
             on_record: Callable | None = None, total: Callable[[int, int], None] | None = None) -> EvalSummary:
    """Evaluate as `config` says; writes the folder and returns the summary."""
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    collector = Collector(config.to_collect_config(), model=model)
    collector.run(on_record=on_record, total=total)
    summary = summarize(list(TrajectoryStore(out / "episodes.jsonl")), config)
    (out / "summary.json").write_text(summary.model_dump_json(indent=2), encoding="utf-8")
    return summary


def load_summary(folder: str | Path) -> EvalSummary:
    path = Path(folder) / "summary.json"
    if not path.is_file():
        raise FileNotFoundError(f"{folder} has no summary.json (is it an `agentdistill eval` output folder?)")
    try:
        return EvalSummary.model_validate(json.loads(path.read_text(encoding="utf-8")))
    except ValueError as error:
        raise ValueError(f"{path} is not an eval summary: {error}") from None
