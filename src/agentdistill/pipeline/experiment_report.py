"""The report of an experiment, from its files only: per cell accuracy with a 95% bootstrap interval, the
paired comparisons it asks for, failures by kind, the teacher's trajectories, the students' training, and a
chart."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from agentdistill.pipeline.collect import episodes_left
from agentdistill.pipeline.experiment_config import ExperimentConfig, Row
from agentdistill.pipeline.experiment_goals import check_goals
from agentdistill.pipeline.failures import FAILURE_KINDS, failure_counts, hit_a_tool_error, used_a_tool
from agentdistill.pipeline.markdown import markdown_rows
from agentdistill.pipeline.stats import PairedComparison, bootstrap_interval, paired, stated
from agentdistill.pipeline.wall_time import read_runs, work_done
from agentdistill.pipeline.yields import yield_at
from agentdistill.trajectories.store import TrajectoryStore

PAIRED_COLUMNS = ["suite", "tasks", "only A", "only B", "B - A (points)", "McNemar p"]
FINAL_STEPS = 20  # the students table's loss: the mean over this many last logged steps


class Cell(BaseModel):
    """One row on one suite."""

    row: str
    suite: str
    model: str = Field("", description="What the row evaluates: student, teacher, or a student run's name.")
    builds: list[str] = Field(
        default_factory=list,
        description="The builds of the distilled student whose episodes the cell holds ('unrecorded': from before "
        "builds were recorded); empty for a model distill did not train.",
    )
    tasks: int
    planned: int
    correct: int
    interval: tuple[float, float]
    seconds_per_task: float
    tokens_per_task: float
    failures: dict[str, int]
    tool_errors: int = Field(0, description="Wrong episodes in which a tool call failed, whatever their kind.")
    tool_use: float | None = Field(
        None, description="Share of the episodes given tools that called one; None where none was given any."
    )
    mae: dict[str, dict] = Field(default_factory=dict, description="Regression-style templates: MAE (LLaMP-style).")
    per_task: dict[str, bool] = Field(description="Task id -> correct.")

    @property
    def stated(self) -> bool:
        """Whether the report states this cell's accuracy (see `stats.stated`)."""
        return stated(self.tasks, self.planned)

    @property
    def accuracy(self) -> float:
        return self.correct / self.tasks if self.tasks else 0.0

    def comparable(self, other: Cell) -> bool:
        """Whether the two cells may be compared task by task: not two different builds of one student (a student
        retrained on a fresh machine is another model, however alike its recipe)."""
        return self.model != other.model or self.builds == other.builds


class TeacherCell(BaseModel):
    """One teacher run on one suite: the trajectories its students learn from."""

    run: str
    suite: str
    tasks: int = Field(description="Tasks with at least one episode so far.")
    planned: int
    episodes: int
    solved: int = Field(description="Tasks with a correct trajectory.")
    solved_ci: tuple[float, float]
    distinct_correct: int = Field(description="Correct trajectories left after dropping near-identical ones.")
    wall_minutes: float
    episodes_left: int = Field(0, description="Episodes best-of-k may still draw; 0 once the run is finished.")
    per_task: dict[str, bool] = Field(default_factory=dict, description="Task id -> solved by one of its samples.")

    @property
    def finished(self) -> bool:
        """Whether the run's solved count is final and stated (best-of-k has nothing left to draw)."""
        return not self.episodes_left and stated(self.tasks, self.planned)


def teacher_cells(config: ExperimentConfig) -> list[TeacherCell]:
    """Every teacher run on every suite, from its store and the collect stage's logged runs."""
    minutes: dict[tuple[str, str], float] = {}
    for logged in read_runs(config.stage_log):
        if logged.get("stage") == "collect":
            key = (logged["name"], logged["suite"])
            minutes[key] = minutes.get(key, 0.0) + logged["seconds"] / 60
    cells = []
    for run in config.teacher_runs:
        for suite in config.suites_of(run):
            collect = config.collect_config(run, suite)
            records = [r for r in TrajectoryStore(collect.out) if r.sample < collect.samples]
            got = yield_at(records, collect.samples).model_dump(exclude={"k"})
            per_task: dict[str, bool] = {}
            for record in records:
                per_task[record.task_id] = per_task.get(record.task_id, False) or bool(record.correct)
            wall = round(minutes.get((run.name, suite), 0.0), 1)
            left = episodes_left(collect)
            cells.append(
                TeacherCell(
                    run=run.name,
                    suite=suite,
                    planned=run.train_tasks,
                    wall_minutes=wall,
                    episodes_left=left,
                    per_task=per_task,
                    **got,
                )
            )
    return cells


def teacher_rows(cells: list[TeacherCell]) -> list[list[str]]:
    """A row per teacher cell that has run; its share of tasks solved only once the run is finished (its later
    best-of-k rounds can still solve tasks) and stated (`stats.stated`)."""
    rows = []
    for c in cells:
        if not c.tasks:
            continue
        low, high = c.solved_ci
        solved = f"{c.solved} ({100 * low:.0f}–{100 * high:.0f}%)" if c.finished else str(c.solved)
        tasks = f"running, {c.tasks}/{c.planned}" if c.episodes_left else f"{c.tasks}/{c.planned}"
        counts = [tasks, str(c.episodes), solved, str(c.distinct_correct)]
        rows.append([c.run, c.suite, *counts, f"{c.wall_minutes:.1f}"])
    return rows


def teacher_comparisons(cells: list[TeacherCell]) -> list[tuple[str, str, str, PairedComparison]]:
    """Every two finished teacher runs of one suite, paired on the train tasks both ran: what a setting (a
    first-thought prefix, a closed book) does to the teacher shows in what its students learn from."""
    found = []
    for i, first in enumerate(cells):
        for second in cells[i + 1 :]:
            if first.suite != second.suite or not (first.finished and second.finished):
                continue
            if (comparison := paired(first.per_task, second.per_task)).tasks:
                found.append((first.run, second.run, first.suite, comparison))
    return found


def paired_rows(compared: list[tuple[str, str, str, PairedComparison]]) -> list[list[str]]:
    """Table rows of paired comparisons: tasks, discordant counts, the difference and its exact McNemar p."""
    return [
        [a, b, s, str(c.tasks), str(c.only_a), str(c.only_b), f"{100 * c.difference:+.1f}", f"{c.p_value:.3f}"]
        for a, b, s, c in compared
    ]


def paired_records(compared: list[tuple[str, str, str, PairedComparison]]) -> list[dict[str, Any]]:
    """Paired comparisons as summary.json states them."""
    return [{"a": a, "b": b, "suite": s, **c.model_dump(), "p": c.p_value} for a, b, s, c in compared]


def read_cell(config: ExperimentConfig, row: Row, suite: str) -> Cell:
    from agentdistill.pipeline.evaluate import regression_errors

    store = Path(config.eval_config(row, suite).out) / "episodes.jsonl"
    records = list(TrajectoryStore(store)) if store.is_file() else []
    per_task = {r.task_id: r.correct for r in sorted(records, key=lambda r: r.task_id)}
    n = len(records) or 1
    builds = {r.model_build or "unrecorded" for r in records} if config.student_of(row) else set()
    return Cell(
        row=row.name,
        suite=suite,
        model=row.model,
        builds=sorted(builds),
        tasks=len(records),
        planned=config.test_tasks,
        correct=sum(per_task.values()),
        interval=bootstrap_interval(list(per_task.values())),
        seconds_per_task=sum(r.trajectory.duration_s for r in records) / n,
        tokens_per_task=sum(r.trajectory.completion_tokens for r in records) / n,
        failures=dict(failure_counts(records)),
        tool_errors=sum(hit_a_tool_error(r) for r in records),
        tool_use=_share([used for r in records if (used := used_a_tool(r)) is not None]),
        mae={name: e.model_dump() for name, e in regression_errors(records, suite).items()},
        per_task=per_task,
    )


def _share(flags: list[bool]) -> float | None:
    return sum(flags) / len(flags) if flags else None


def _accuracy(cell: Cell) -> str:
    if not cell.tasks:
        return "-"
    if not cell.stated:
        return f"running, {cell.tasks}/{cell.planned}"
    done = "" if cell.tasks >= cell.planned else f", {cell.tasks}/{cell.planned} run"
    low, high = cell.interval
    return f"{100 * cell.accuracy:.1f} ({100 * low:.0f}–{100 * high:.0f}{done})"


def accuracy_table(config: ExperimentConfig, cells: list[Cell]) -> str:
    suites = config.suites
    rows = []
    for row in config.rows:
        mine = {c.suite: c for c in cells if c.row == row.name}
        scored = [mine[s] for s in suites if s in mine and mine[s].stated]
        rows.append([row.name, *(_accuracy(mine[s]) if s in mine else "n/a" for s in suites), _mean(scored, mine)])
    return markdown_rows(["row", *suites, "mean"], rows)


def _mean(scored: list[Cell], planned: dict[str, Cell]) -> str:
    # a row's mean over some of its suites is not its mean: it says over how many, until all have a score
    if not scored:
        return "-"
    mean = f"{100 * sum(c.accuracy for c in scored) / len(scored):.1f}"
    return mean if len(scored) == len(planned) else f"{mean} ({len(scored)} of {len(planned)} suites)"


def comparisons(config: ExperimentConfig, cells: list[Cell]) -> list[tuple[str, str, str, PairedComparison]]:
    found = []
    for a, b in config.compare:
        for suite in config.suites:
            first = next((c for c in cells if c.row == a and c.suite == suite), None)
            second = next((c for c in cells if c.row == b and c.suite == suite), None)
            if first and second and first.stated and second.stated and first.comparable(second):
                found.append((a, b, suite, paired(first.per_task, second.per_task)))
    return found


def build_notes(cells: list[Cell]) -> list[str]:
    """One line per student whose cells ran more than one build: which rows ran which (never paired)."""
    notes = []
    for model in sorted({c.model for c in cells if c.builds}):
        ran: dict[str, list[str]] = {}
        for cell in cells:
            if cell.model == model:
                for build in cell.builds:
                    ran.setdefault(build, []).append(f"{cell.row} on {cell.suite}")
        if len(ran) > 1:
            each = "; ".join(f"build {build}: {', '.join(where)}" for build, where in sorted(ran.items()))
            notes.append(f"- student `{model}` ran as {len(ran)} builds, never paired with each other ({each})")
    return notes


def cost_rows(cells: list[Cell]) -> list[list[str]]:
    """Per stated cell: generated tokens and seconds per task, its failures by kind, and how often it used a tool."""
    return [
        [c.row, c.suite, f"{c.tokens_per_task:.0f}", f"{c.seconds_per_task:.1f}", str(c.tasks - c.correct)]
        + [str(c.failures.get(k, 0)) for k in FAILURE_KINDS]
        + [str(c.tool_errors), "-" if c.tool_use is None else f"{100 * c.tool_use:.0f}%"]
        for c in cells
        if c.stated
    ]


def stage_times(config: ExperimentConfig) -> dict[str, dict[str, Any]]:
    """Per stage: logged runs, work done per unit (episodes, steps), and wall seconds, summed over resumed runs.
    A unit is summed on its own, so that a log whose unit changed between runs adds up without mixing them."""
    times: dict[str, dict[str, Any]] = {}
    for run in read_runs(config.stage_log):
        count, unit = work_done(run)
        stage = times.setdefault(run["stage"], {"runs": 0, "work": {}, "seconds": 0.0})
        stage["runs"] += 1
        stage["work"][unit] = stage["work"].get(unit, 0) + count
        stage["seconds"] += run["seconds"]
    return times


def stage_table(times: dict[str, dict[str, Any]]) -> str:
    def work(counts: dict[str, int]) -> str:
        return " + ".join(f"{count} {unit}" for unit, count in counts.items())

    rows = [[stage, str(t["runs"]), work(t["work"]), f"{t['seconds'] / 3600:.2f}"] for stage, t in times.items()]
    runs, seconds = sum(t["runs"] for t in times.values()), sum(t["seconds"] for t in times.values())
    rows.append(["all", str(runs), "", f"{seconds / 3600:.2f}"])
    return markdown_rows(["stage", "runs", "work", "wall hours"], rows)


def write_experiment_report(config: ExperimentConfig) -> Path:
    """`summary.json`, `report.md` and `accuracy.png` in the experiment folder; returns the report's path."""
    cells = [read_cell(config, row, suite) for row in config.rows for suite in config.suites_of(row)]
    compared = comparisons(config, cells)
    training = {s.name: _training_summary(config.student_path(s)) for s in config.students}
    folder = config.folder
    folder.mkdir(parents=True, exist_ok=True)
    stages = stage_times(config)
    teacher = teacher_cells(config)
    teacher_pairs = teacher_comparisons(teacher)
    goals = check_goals(config.goals, cells, sum(t["seconds"] for t in stages.values()) / 3600)
    summary = {
        "experiment": config.name,
        "cells": [c.model_dump(mode="json") for c in cells],
        "comparisons": paired_records(compared),
        "teacher": [c.model_dump(mode="json") for c in teacher],
        "teacher_comparisons": paired_records(teacher_pairs),
        "training": training,
        "stages": stages,
        "goals": [g.model_dump() for g in goals],
    }
    (folder / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    parts = [
        f"Experiment `{config.name}`: teacher `{config.teacher}`, student `{config.student}`, "
        f"{config.test_tasks} test tasks per suite.",
        "",
        "Accuracy (%) with a 95% bootstrap interval; `mean` averages the suites a row ran.",
        "",
        accuracy_table(config, cells),
    ]
    if goals:
        rows = [[g.name, g.measured, g.status] for g in goals]
        parts += ["", "Goals (`pending` until every cell a goal reads has run all its tasks):", ""]
        parts.append(markdown_rows(["goal", "measured", "status"], rows))
    if compared:
        paired_table = markdown_rows(["A", "B", *PAIRED_COLUMNS], paired_rows(compared))
        parts += ["", "Paired on the same tasks (exact McNemar):", "", paired_table]
    if notes := build_notes(cells):
        parts += ["", "Students retrained during the experiment (a build is a digest of the trained weights):", ""]
        parts += notes
    parts += [
        "",
        "Cost per task, and failures by kind (`pipeline/failures.py`); `tool errors` counts the wrong episodes in",
        "which a tool call failed, whatever their kind; `used a tool`, the episodes given tools that called one:",
        "",
        markdown_rows(
            ["row", "suite", "tokens/task", "s/task", "wrong", *FAILURE_KINDS, "tool errors", "used a tool"],
            cost_rows(cells),
        ),
    ]
    mae_rows = [
        [c.row, c.suite, name, f"{e['mae']:.3g} {e['unit']}", f"{e['answered']}/{e['tasks']}"]
        for c in cells
        if c.stated
        for name, e in c.mae.items()
    ]
    if mae_rows:
        header = ["row", "suite", "quantity", "MAE", "answered"]
        parts += [
            "",
            "Mean absolute error on regression-style tasks (agent vs closed-book):",
            "",
            markdown_rows(header, mae_rows),
        ]
    if rows := teacher_rows(teacher):
        header = ["run", "suite", "tasks", "episodes", "solved (95% CI)", "distinct correct", "wall min"]
        parts += ["", "Teacher trajectories, per run and train suite (what the students learn from):", ""]
        parts.append(markdown_rows(header, rows))
    if teacher_pairs:
        title = "Teacher runs paired on the train tasks both ran (solved by one of a task's samples; exact McNemar):"
        parts += ["", title, "", markdown_rows(["run A", "run B", *PAIRED_COLUMNS], paired_rows(teacher_pairs))]
    if any(training.values()):
        rows = [
            [name, str(t.get("examples", "-")), f"{t.get('tokens_per_second', 0):.0f}", _loss_cell(t.get("final_loss"))]
            for name, t in training.items()
            if t
        ]
        parts += [
            "",
            "Students (loss curves: students/NAME/loss.png):",
            "",
            markdown_rows(["student", "examples", "tokens/s", f"loss, last {FINAL_STEPS} steps"], rows),
        ]
    if stages:
        title = "Wall time of each stage, summed over resumed runs (`stages.jsonl`):"
        parts += ["", title, "", stage_table(stages)]
    report = folder / "report.md"
    report.write_text("\n".join(parts) + "\n", encoding="utf-8")
    plot_cells(cells, folder / "accuracy.png")
    plot_examples(config, cells, training, folder / "accuracy_vs_examples.png")
    return report


def _loss_cell(loss: float | None) -> str:
    return "-" if loss is None else f"{loss:.3f}"


def _training_summary(folder: Path) -> dict:
    """The student's `summary.json`, with `final_loss`: the mean loss of its last FINAL_STEPS logged steps (one
    batch's loss swings by about 0.05 either way, too much to compare two students by)."""
    try:
        summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    try:
        steps = [json.loads(line) for line in (folder / "train_log.jsonl").read_text(encoding="utf-8").splitlines()]
    except (OSError, ValueError):
        steps = []
    losses = [step["loss"] for step in steps if "loss" in step][-FINAL_STEPS:]
    return {**summary, "final_loss": sum(losses) / len(losses) if losses else None}


def plot_cells(cells: list[Cell], path: Path) -> None:
    """Accuracy per row and suite, with the bootstrap intervals as error bars."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    scored = [c for c in cells if c.stated]
    suites = list(dict.fromkeys(c.suite for c in scored))
    rows = list(dict.fromkeys(c.row for c in scored))
    width = 0.8 / max(len(rows), 1)
    fig, ax = plt.subplots(figsize=(max(6, 1.2 * len(suites) * max(len(rows), 1) / 2 + 3), 4))
    for j, row in enumerate(rows):
        mine = {c.suite: c for c in scored if c.row == row}
        xs = [i + j * width for i, s in enumerate(suites) if s in mine]
        cs = [mine[s] for s in suites if s in mine]
        errors = [[100 * (c.accuracy - c.interval[0]) for c in cs], [100 * (c.interval[1] - c.accuracy) for c in cs]]
        ax.bar(xs, [100 * c.accuracy for c in cs], width, yerr=errors, capsize=2, label=row)
    ax.set_xticks([i + width * (len(rows) - 1) / 2 for i in range(len(suites))], suites)
    ax.set_ylabel("accuracy (%)")
    ax.set_ylim(0, 105)
    if rows:
        ax.legend(fontsize=7)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_examples(config: ExperimentConfig, cells: list[Cell], training: dict[str, dict], path: Path) -> None:
    """Mean accuracy of each distilled row against the number of trajectories its student trained on (no
    file when fewer than two students have trained)."""
    points = []
    for row in config.rows:
        examples = training.get(row.model, {}).get("examples")
        scored = [c for c in cells if c.row == row.name and c.stated]
        if examples and scored:
            points.append((examples, 100 * sum(c.accuracy for c in scored) / len(scored), row.name))
    if len({p[0] for p in points}) < 2:
        path.unlink(missing_ok=True)
        return
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for examples, accuracy, name in points:
        ax.scatter(examples, accuracy)
        ax.annotate(name, (examples, accuracy), fontsize=7, xytext=(3, 3), textcoords="offset points")
    ax.set_xlabel("training trajectories")
    ax.set_ylabel("mean accuracy over suites (%)")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
