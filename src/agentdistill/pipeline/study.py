"""A teacher study: collection recipes compared on the same tasks, resumably, from one config file.

    run_study_file("experiments/teacher-recipes.yaml")   # every cell not yet complete; rerun to continue
    write_report(StudyConfig.load("experiments/teacher-recipes.yaml"))   # summary.json and report.md

A *cell* is one condition (a set of `collect` settings: greedy, best-of-k sampling, self-consistent actions,
a first-thought prefix) on the first `n` tasks of a suite split. Every cell's episodes are a trajectory store
under `out/episodes/`, so a stopped run resumes task by task, and each run's wall time is appended beside it,
so the cost of a cell is known across sessions.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, Self

from pydantic import BaseModel, Field, model_validator

from agentdistill.config import DEFAULT_TEACHER, CommandConfig, ModelSpec
from agentdistill.errors import AgentDistillError
from agentdistill.llm import AgentChatModel, load_chat_model
from agentdistill.pipeline.collect import Collector
from agentdistill.pipeline.collect_config import CollectConfig
from agentdistill.pipeline.failures import answers_from_prompt, failure_counts
from agentdistill.pipeline.wall_time import counting_episodes, read_runs, timed_run
from agentdistill.pipeline.yields import EarlyStopCost, YieldAtK, early_stop_cost, yield_table
from agentdistill.tasks import Split, Task, load_suite
from agentdistill.tasks.metrics import wilson_interval
from agentdistill.trajectories.filters import demonstration_key
from agentdistill.trajectories.record import TrajectoryRecord
from agentdistill.trajectories.store import TrajectoryStore


class StudyCell(BaseModel):
    """One condition on the first `n` tasks of a suite split."""

    suite: str
    split: Split = "train"
    n: int = Field(ge=1)
    condition: str

    @property
    def name(self) -> str:
        return f"{self.suite}-{self.split}-{self.condition}"


class StudyConfig(CommandConfig):
    """Conditions (collect settings by name) and the cells that run them, in the order they run."""

    name: str
    teacher: ModelSpec = DEFAULT_TEACHER
    out: str | None = Field(None, description="Result folder (default: results/NAME).")
    concurrency: int = Field(4, ge=1)
    ks: list[int] = Field(default_factory=lambda: [1, 4, 8], description="Best-of-k sizes to report.")
    conditions: dict[str, dict[str, Any]]
    cells: list[StudyCell]
    baselines: dict[str, str] = Field(
        default_factory=dict,
        description="The condition each condition is compared with task by task, where not `greedy` (e.g. a prompt "
        "variant of the student against the student's own few-shot prompt).",
    )

    def baseline_of(self, condition: str) -> str:
        return self.baselines.get(condition, "greedy")

    @model_validator(mode="after")
    def _cells_are_runnable(self) -> Self:
        for condition, baseline in self.baselines.items():
            if not {condition, baseline} <= self.conditions.keys():
                raise ValueError(f"baselines: {condition!r} against {baseline!r}: both must be conditions")
        for cell in self.cells:
            if cell.condition not in self.conditions:
                raise ValueError(
                    f"cell {cell.name}: no condition {cell.condition!r} (have {', '.join(self.conditions)})"
                )
            self.collect_config(cell)  # a bad setting fails at load, not hours into the run
        return self

    @property
    def folder(self) -> Path:
        return Path(self.out or f"results/{self.name}")

    def store_path(self, cell: StudyCell) -> Path:
        return self.folder / "episodes" / f"{cell.name}.jsonl"

    def collect_config(self, cell: StudyCell) -> CollectConfig:
        return CollectConfig.build(
            **{
                "teacher": self.teacher,
                "concurrency": self.concurrency,
                **self.conditions[cell.condition],
                "suite": cell.suite,
                "split": cell.split,
                "n": cell.n,
                "out": str(self.store_path(cell)),
            }
        )


class CellSummary(BaseModel):
    """What one cell measured so far."""

    cell: StudyCell
    settings: dict[str, Any]
    tasks: int
    episodes: int
    complete: bool
    correct_first: int = Field(description="Tasks whose first sample is correct (accuracy of one episode).")
    accuracy_ci: tuple[float, float]
    yields: list[YieldAtK]
    early_stop: list[EarlyStopCost]
    failures: dict[str, int] = Field(description="Failures of the first samples, by kind.")
    prompt_answers: int = Field(0, description="Wrong first samples that answered a number of the prompt.")
    first_correct: dict[str, bool] = Field(description="Per task: is its first sample correct (paired tests).")
    wall_seconds: float = Field(description="Wall time of the runs that collected the episodes, summed.")
    hardware: list[str]

    def minutes_for(self, episodes: int) -> float:
        """The cell's wall minutes shared out by episodes: what `episodes` of them cost."""
        return self.wall_seconds / 60 * episodes / self.episodes if self.episodes else 0.0

    @property
    def correct_per_wall_minute(self) -> float:
        """Distinct correct trajectories per wall minute at the largest k every task has drawn, charged only the
        episodes of that k, so a running best-of-k cell is not charged for rounds it has not finished."""
        minutes = self.minutes_for(self.yields[-1].episodes) if self.yields else 0.0
        return self.yields[-1].distinct_correct / minutes if minutes else 0.0


def _runs_path(store: Path) -> Path:
    return store.with_suffix(".runs.jsonl")


def _complete(records: list[TrajectoryRecord], tasks: dict[str, Task], config: CollectConfig) -> bool:
    """Every task drew all its samples, or (best-of-k with early stop) has enough distinct correct ones."""
    by_task: dict[str, list[TrajectoryRecord]] = {}
    for record in records:
        by_task.setdefault(record.task_id, []).append(record)

    def done(task_id: str, samples: list[TrajectoryRecord]) -> bool:
        enough = config.enough_for(tasks[task_id])
        distinct = len({demonstration_key(r) for r in samples if r.correct})
        return len(samples) >= config.samples or (enough is not None and distinct >= enough)

    return len(by_task) >= len(tasks) and all(done(task_id, samples) for task_id, samples in by_task.items())


def _rounds_done(records: list[TrajectoryRecord], tasks: int) -> int:
    """How many samples every task has drawn (a best-of-k run goes round by round)."""
    rounds = 0
    while tasks and sum(r.sample == rounds for r in records) >= tasks:
        rounds += 1
    return rounds


def summarize_cell(study: StudyConfig, cell: StudyCell) -> CellSummary:
    config = study.collect_config(cell)
    store = study.store_path(cell)
    # a store can be shared by cells of one condition with different n (the first 50 tasks, then 100): a cell
    # counts the records of its own tasks only
    tasks = {t.id: t for t in load_suite(cell.suite, cell.split, cell.n, config.seed)}
    stored: list[TrajectoryRecord] = list(TrajectoryStore(store))  # empty when nothing is stored yet
    records = [r for r in stored if r.task_id in tasks]
    first = [r for r in records if r.sample == 0]
    runs = read_runs(_runs_path(store))
    correct = sum(r.correct for r in first)
    # a best-of-k cell draws round by round: report k only where every task has drawn it (an early-stopping
    # cell, only once complete)
    complete = _complete(records, tasks, config)
    draws_all = all(config.enough_for(task) is None for task in tasks.values())
    rounds = config.samples if complete else (_rounds_done(records, len(first)) if draws_all else 0)
    return CellSummary(
        cell=cell,
        settings=study.conditions[cell.condition],
        tasks=len(first),
        episodes=len(records),
        complete=complete,
        correct_first=correct,
        accuracy_ci=wilson_interval(correct, len(first)),
        yields=yield_table(records, [*study.ks, config.samples], upto=rounds),
        early_stop=[early_stop_cost(records, k, enough) for enough in (1, 2) for k in study.ks if 1 < k <= rounds],
        failures=dict(failure_counts(first)),
        prompt_answers=sum(answers_from_prompt(r) for r in first),
        first_correct={r.task_id: r.correct for r in sorted(first, key=lambda r: r.task_id)},
        wall_seconds=sum(run["seconds"] for run in runs),
        hardware=sorted({run["hardware"] for run in runs}),
    )


def run_cell(study: StudyConfig, cell: StudyCell, model: AgentChatModel, on_record: Callable | None = None) -> None:
    """Collect what the cell still lacks, and append the run's wall time beside its store, also when the run is
    interrupted (Ctrl-C), so the cost of a cell adds up across sessions."""
    log = _runs_path(study.store_path(cell))
    with (
        timed_run(log, "episodes", concurrency=study.concurrency) as run,
        Collector(study.collect_config(cell), model=model) as collector,
    ):
        collector.run(on_record=counting_episodes(run, on_record))


def run_study(
    study: StudyConfig,
    model: AgentChatModel | None = None,
    only: Callable[[StudyCell], bool] | None = None,
    on_cell: Callable[[CellSummary], None] | None = None,
    on_record: Callable | None = None,
) -> list[CellSummary]:
    """Run every incomplete cell in order (those `only` accepts), writing the report after each. A condition
    may name its own `teacher` (a prompt variant for the student, say); each model loads once, when first
    needed. A given `model` answers for every cell."""
    loaded: dict[str, AgentChatModel] = {}
    try:
        for cell in study.cells:
            if (only and not only(cell)) or summarize_cell(study, cell).complete:
                continue
            spec = study.collect_config(cell).teacher
            if model is None and spec not in loaded:
                loaded[spec] = load_chat_model(spec)
            run_cell(study, cell, model or loaded[spec], on_record)
            write_report(study)
            if on_cell:
                on_cell(summarize_cell(study, cell))
    finally:
        for owned in loaded.values():
            owned.close()
    return write_report(study)


def write_report(study: StudyConfig) -> list[CellSummary]:
    """`summary.json` (every cell) and `report.md` (the tables) in the study folder, from the stores."""
    from agentdistill.pipeline.study_report import render_report

    # of cells sharing a store, the one with the most tasks stands for them all
    largest = {study.store_path(c): c for c in sorted(study.cells, key=lambda c: c.n)}
    summaries = [summarize_cell(study, cell) for cell in study.cells if largest[study.store_path(cell)] == cell]
    study.folder.mkdir(parents=True, exist_ok=True)
    payload = {"study": study.name, "teacher": study.teacher, "cells": [s.model_dump(mode="json") for s in summaries]}
    (study.folder / "summary.json").write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    (study.folder / "report.md").write_text(render_report(study, summaries), encoding="utf-8")
    return summaries


def run_study_file(
    path: str | Path,
    only: Callable[[StudyCell], bool] = lambda cell: True,
    on_cell_start: Callable[[StudyCell, int], None] | None = None,
    on_cell: Callable[[CellSummary], None] | None = None,
    on_record: Callable | None = None,
) -> list[CellSummary]:
    """Run the study in the file cell by cell, reading the file again before each cell (cells can be added or
    reordered while it runs); each teacher stays loaded across cells (a new engine server would prefill its
    prompts again). Stops when every cell `only` accepts is complete, or one makes no progress."""
    loaded: dict[str, AgentChatModel] = {}
    try:
        while True:
            study = StudyConfig.from_file(path)
            todo = [c for c in study.cells if only(c) and not summarize_cell(study, c).complete]
            if not todo:
                return write_report(study)
            cell = todo[0]
            if on_cell_start:
                on_cell_start(cell, len(todo))
            spec = study.collect_config(cell).teacher
            if spec not in loaded:
                loaded[spec] = load_chat_model(spec)
            before = summarize_cell(study, cell).episodes
            run_study(study, model=loaded[spec], only=cell.__eq__, on_cell=on_cell, on_record=on_record)
            if summarize_cell(study, cell).episodes == before:
                raise AgentDistillError(f"study cell {cell.name} made no progress; stopping")
    finally:
        for model in loaded.values():
            model.close()
