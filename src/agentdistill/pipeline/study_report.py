"""The markdown report of a teacher study: accuracy, best-of-k yield, cost and failure kinds per cell."""

from __future__ import annotations

from typing import TYPE_CHECKING

from agentdistill.pipeline.failures import FAILURE_KINDS
from agentdistill.pipeline.markdown import markdown_rows
from agentdistill.pipeline.stats import CLAIM_FLOOR, paired, stated

if TYPE_CHECKING:
    from agentdistill.pipeline.study import CellSummary, StudyConfig


def _rate(hits: int, total: int, interval: tuple[float, float]) -> str:
    if not total:
        return "-"
    return f"{hits}/{total} ({hits / total:.0%}; {interval[0]:.0%}–{interval[1]:.0%})"


def _status(s: CellSummary) -> str:
    return "" if s.complete else f" (running: {s.tasks}/{s.cell.n})"


def accuracy_rows(summaries: list[CellSummary]) -> list[list[str]]:
    return [
        [
            s.cell.suite,
            s.cell.split,
            s.cell.condition + _status(s),
            _rate(s.correct_first, s.tasks, s.accuracy_ci),
            str(s.episodes),
            f"{s.wall_seconds / 60:.1f}",
            f"{s.correct_per_wall_minute:.2f}",
        ]
        for s in summaries
        if s.tasks
    ]


def yield_rows(summaries: list[CellSummary]) -> list[list[str]]:
    rows = []
    for s in (s for s in summaries if s.tasks):
        for y in s.yields:
            minutes = s.minutes_for(y.episodes)
            rows.append(
                [
                    s.cell.suite,
                    s.cell.split,
                    s.cell.condition + _status(s),
                    str(y.k),
                    str(y.episodes),
                    _rate(y.solved, y.tasks, y.solved_ci),
                    str(y.distinct_correct),
                    f"{y.per_task:.2f}",
                    f"{y.distinct_correct / minutes:.2f}" if minutes else "-",
                ]
            )
        for stop in s.early_stop:
            minutes = s.minutes_for(stop.episodes)
            rows.append(
                [
                    s.cell.suite,
                    s.cell.split,
                    f"{s.cell.condition}, until {stop.enough} distinct correct",
                    f"≤{stop.k}",
                    str(stop.episodes),
                    f"{stop.solved}/{s.tasks}",
                    str(stop.distinct_correct),
                    f"{stop.distinct_correct / max(s.tasks, 1):.2f}",
                    f"{stop.distinct_correct / minutes:.2f}" if minutes else "-",
                ]
            )
    return rows


def failure_rows(summaries: list[CellSummary]) -> list[list[str]]:
    return [
        [s.cell.suite, s.cell.split, s.cell.condition + _status(s), str(s.tasks - s.correct_first)]
        + [str(s.failures.get(kind, 0)) for kind in FAILURE_KINDS]
        + [str(s.prompt_answers)]
        for s in summaries
        if s.tasks
    ]


def paired_rows(study: StudyConfig, summaries: list[CellSummary]) -> list[list[str]]:
    """Each condition against its baseline condition on the same suite split, task by task (first samples)."""
    rows = []
    for s in summaries:
        baseline = study.baseline_of(s.cell.condition)
        base = next(
            (
                b
                for b in summaries
                if b.cell.condition == baseline and (b.cell.suite, b.cell.split) == (s.cell.suite, s.cell.split)
            ),
            None,
        )
        if base is None or s is base or not s.tasks:
            continue
        c = paired(base.first_correct, s.first_correct)
        rows.append(
            [
                s.cell.suite,
                s.cell.split,
                s.cell.condition + _status(s),
                baseline,
                str(c.tasks),
                str(c.both),
                str(c.only_b),
                str(c.only_a),
                f"{100 * c.difference:+.0f} points",
                f"{c.p_value:.2f}",
            ]
        )
    return rows


def condition_rows(study: StudyConfig, summaries: list[CellSummary]) -> list[list[str]]:
    """What each condition of the report runs, as `collect` resolves it (`auto` settings say what they pick)."""
    rows = []
    for name, cell in {s.cell.condition: s.cell for s in summaries}.items():
        c = study.collect_config(cell)
        stop = "all samples" if c.stop_after_correct is None else f"{c.stop_after_correct} distinct correct"
        if c.greedy_first is None:
            stop += " (1 on expressions)"
        rows.append(
            [
                name,
                c.teacher,
                str(c.samples),
                f"{c.temperature:g}",
                stop,
                {None: "auto (none on expressions)", True: f"yes ({c.prefix_style})", False: "no"}[c.prefix],
                "auto (exact on expressions, else full)" if c.prompt_style == "auto" else c.prompt_style,
                {None: "auto (on expressions)", True: "yes", False: "no"}[c.greedy_first],
                str(c.sag),
            ]
        )
    return rows


def render_report(study: StudyConfig, summaries: list[CellSummary]) -> str:
    """The report of the cells with an accuracy to state; running cells below the claim floor are only named."""
    waiting = [s for s in summaries if s.tasks and not stated(s.tasks, s.cell.n)]
    summaries = [s for s in summaries if stated(s.tasks, s.cell.n)]
    hardware = sorted({h for s in summaries for h in s.hardware}) or ["-"]
    parts = [
        f"Study `{study.name}`: teacher `{study.teacher}`, {study.concurrency} episodes at once, on "
        + "; ".join(hardware)
        + ".",
        "",
        "Accuracy of one episode per task (the first sample), 95% Wilson interval; wall minutes of the runs; "
        "distinct correct trajectories per wall minute (at the largest k the cell drew).",
        "",
        markdown_rows(
            ["suite", "split", "condition", "correct (first sample)", "episodes", "wall min", "correct/min"],
            accuracy_rows(summaries),
        ),
        "",
        "Best-of-k yield, read off the first k samples of each task: tasks with a correct trajectory (pass@k, 95% "
        "interval) and distinct correct trajectories (near-identical ones dropped); per minute uses the cell's wall "
        "time in proportion to episodes.",
        "",
        markdown_rows(
            [
                "suite",
                "split",
                "condition",
                "k",
                "episodes",
                "tasks solved",
                "distinct correct",
                "per task",
                "per wall min",
            ],
            yield_rows(summaries),
        ),
        "",
        "Each condition against its baseline (greedy, unless the study names another) on the same tasks (first "
        "samples): solved by both, only by the condition, only by the baseline; exact McNemar p.",
        "",
        markdown_rows(
            [
                "suite",
                "split",
                "condition",
                "against",
                "tasks",
                "both",
                "only it",
                "only the baseline",
                "difference",
                "p",
            ],
            paired_rows(study, summaries),
        ),
        "",
        "Failures of the first samples, by kind (`pipeline/failures.py`). `answer from the prompt` counts the wrong",
        "answers that are a number of the system prompt, whatever their kind (also those that then ran out of steps).",
        "",
        markdown_rows(
            ["suite", "split", "condition", "wrong", *FAILURE_KINDS, "answer from the prompt"],
            failure_rows(summaries),
        ),
        "",
        "The conditions, as `collect` runs them (settings left at `auto` pick per task; see `collect --help`).",
        "",
        markdown_rows(
            ["condition", "model", "samples", "temperature", "stop at", "prefix", "prompt", "greedy first", "SAG"],
            condition_rows(study, summaries),
        ),
    ]
    if waiting:
        names = ", ".join(f"{s.cell.suite} {s.cell.split} {s.cell.condition} ({s.tasks}/{s.cell.n})" for s in waiting)
        parts += ["", f"Running, with fewer than {CLAIM_FLOOR} tasks so far (no accuracy stated yet): {names}."]
    return "\n".join(parts) + "\n"
