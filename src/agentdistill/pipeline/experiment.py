"""`experiment`: the paper's comparison from one config file, every stage resumable.

    collect   each teacher run on the train split of its suites       out/teacher/RUN-SUITE.jsonl
    train     each student on the correct trajectories of its runs     out/students/NAME/ (export/, model/, ...)
    evaluate  each row on the test split of its suites                 out/eval/ROW-SUITE/
    report    accuracy with 95% intervals, paired tests, failures      out/summary.json, out/report.md, out/*.png

Every run of a stage's part that did some work appends its wall time to out/stages.jsonl, so the report can
give what each stage cost across resumed runs. With both `train` and `evaluate`, a student trains just before the
first row that evaluates it, so the rows of the table that the students ready first fill in first (a student for a
late row, such as a smaller training set, costs the earlier rows nothing); a student no row uses trains at the end.

Collection and evaluation resume task by task, a trained student is reused, so an interrupted experiment is
continued by running it again; the config file can grow between runs (more tasks, another row).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable
from typing import Any, Literal

from agentdistill.errors import AgentDistillError
from agentdistill.pipeline.collect import Collector, episodes_left
from agentdistill.pipeline.evaluate import EvalSummary, evaluate, write_summary
from agentdistill.pipeline.experiment_config import ExperimentConfig, StudentRun
from agentdistill.pipeline.models import ModelCache
from agentdistill.pipeline.wall_time import counting_episodes, timed_run
from agentdistill.trajectories.filters import FilterConfig, filter_records
from agentdistill.trajectories.record import TrajectoryRecord
from agentdistill.trajectories.store import TrajectoryStore

Stage = Literal["collect", "train", "evaluate", "report"]
STAGES: tuple[Stage, ...] = ("collect", "train", "evaluate", "report")
Announce = Callable[[str], None]


def run_experiment(
    config: ExperimentConfig,
    stages: Iterable[Stage] = STAGES,
    announce: Announce = lambda message: None,
    progress: Callable | None = None,
    models: ModelCache | None = None,
    rows: Iterable[str] | None = None,
) -> list[EvalSummary]:
    """Run (or continue) the chosen stages in order (training interleaved with evaluation, see above); returns
    the evaluation summaries so far. `rows` names the rows to evaluate (default: all, in the file's order)."""
    chosen = set(stages)
    config.folder.mkdir(parents=True, exist_ok=True)
    config.save(config.folder / "config.yaml")  # what ran, next to what it produced
    cache = models or ModelCache(config.dtype, config.backend)
    try:
        if "collect" in chosen:
            collect_teacher(config, cache, announce, progress)
        train = "train" in chosen
        summaries = evaluate_rows(config, cache, announce, progress, train, rows) if "evaluate" in chosen else []
        if train:  # the students no row evaluates (all of them, without `evaluate`)
            evaluated = {row.model for row in config.rows} if "evaluate" in chosen else set()
            for student in config.students:
                if student.name not in evaluated:
                    ready_student(config, student, cache, announce, train)
    finally:
        if models is None:
            cache.close()
    if "report" in chosen:
        from agentdistill.pipeline.experiment_report import write_experiment_report

        write_experiment_report(config)
    return summaries


def collect_teacher(config: ExperimentConfig, models: ModelCache, announce: Announce, progress=None) -> None:
    for run in config.teacher_runs:
        for suite in config.suites_of(run):
            collect_config = config.collect_config(run, suite)
            if episodes_left(collect_config) == 0:
                continue  # finished: no model to load (best-of-k's stopping rule says so, not the task count)
            announce(f"teacher run {run.name}: {run.train_tasks} {suite} train tasks")
            with (
                timed_run(config.stage_log, "episodes", stage="collect", name=run.name, suite=suite) as timed,
                Collector(collect_config, model=models(config.teacher)) as collector,
            ):
                collector.run(on_record=counting_episodes(timed, progress))


def training_records(config: ExperimentConfig, student: StudentRun) -> tuple[list[TrajectoryRecord], dict[str, Any]]:
    """The correct, finished, distinct trajectories of the student's teacher runs, capped per task."""
    records: list[TrajectoryRecord] = []
    for name in student.data:
        run = next(r for r in config.teacher_runs if r.name == name)
        for suite in config.suites_of(run):
            records += list(TrajectoryStore(config.collect_config(run, suite).out))
    kept, stats = filter_records(records, FilterConfig(max_per_task=student.max_per_task))
    if student.max_examples is not None and len(kept) > student.max_examples:
        # one seeded order for every size, so a student on 100 trajectories sees the 50 of the smaller one
        random.Random(0).shuffle(kept)
        kept = kept[: student.max_examples]
    return kept, dict(stats)


def ready_student(
    config: ExperimentConfig, student: StudentRun, models: ModelCache, announce: Announce, train: bool
) -> None:
    """Make sure the student is trained: train it (`train`) unless a finished one is there already."""
    from agentdistill.distill.distill_config import is_student

    if is_student(config.student_model(student)):
        return
    if not train:
        raise AgentDistillError(f"student {student.name} is not trained yet: run the experiment's train stage")
    models.close()  # training needs the memory the loaded models hold
    train_student(config, student, announce)


def train_student(config: ExperimentConfig, student: StudentRun, announce: Announce) -> None:
    """Export and distill the student (a stopped training resumes from its last checkpoint)."""
    from agentdistill.distill.trainer import distill
    from agentdistill.trajectories.export import export_dataset

    folder = config.student_path(student)
    kept, stats = training_records(config, student)
    if not kept:
        raise AgentDistillError(f"student {student.name}: the filter kept no trajectory ({stats}); collect first")
    announce(f"student {student.name}: distill {len(kept)} trajectories into {config.student}")
    # the optimizer steps of this run, not the examples: a stopped training resumes from its checkpoint, and the
    # sum over its runs is then the steps trained (plus any lost since a checkpoint), not the data counted twice
    with timed_run(config.stage_log, "steps", stage="train", name=student.name) as timed:
        export_dataset(kept, folder / "export")
        distill(config.distill_config(student), on_step=lambda done: timed.update(steps=done))


def evaluate_rows(
    config: ExperimentConfig,
    models: ModelCache,
    announce: Announce,
    progress=None,
    train: bool = False,
    only: Iterable[str] | None = None,
) -> list[EvalSummary]:
    """Evaluate every row (or the rows named in `only`) on its suites, readying (with `train`, training) the
    student a row evaluates first. A finished cell is summarised from its episodes without a model, so the
    finished rows of a run resumed on a fresh machine (results committed, weights gone) load, or retrain, nothing."""
    summaries = []
    names = set(only) if only is not None else None
    for row in config.rows:
        if names is not None and row.name not in names:
            continue
        cells = [config.eval_config(row, suite) for suite in config.suites_of(row)]
        unfinished = {cell.suite for cell in cells if episodes_left(cell.to_collect_config()) > 0}
        student = config.student_of(row)
        if student is not None and unfinished:
            ready_student(config, student, models, announce, train)
        for eval_config in cells:
            suite = eval_config.suite
            if suite not in unfinished:
                summaries.append(write_summary(eval_config))
                continue
            announce(f"evaluate {row.name} on {config.test_tasks} {suite} test tasks")
            with timed_run(config.stage_log, "episodes", stage="evaluate", name=row.name, suite=suite) as timed:
                model = models(eval_config.model)
                summaries.append(evaluate(eval_config, model=model, on_record=counting_episodes(timed, progress)))
    return summaries
