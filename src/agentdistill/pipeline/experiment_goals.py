"""An experiment's goals, stated in its config file and checked by its report: met, not met, or pending.

goals:
  - {kind: margin, name: distilled >= prompted + 15, row: student agent-distilled, baseline: student prompted,
     points: 15}
  - {kind: share, name: distilled >= 60% of the teacher, row: student agent-distilled, baseline: teacher agent,
     share: 0.6}
  - {kind: mae_ratio, name: MAE 10x lower than closed-book, row: student agent-distilled,
     baseline: student agent-distilled closed-book, suite: materials, ratio: 10}
  - {kind: wall_hours, name: the whole experiment in 14 hours, hours: 14}

A goal on accuracies averages the suites both rows ran (or the ones it names); it is `pending` until every cell
it reads has run all its test tasks, and shows the values so far. A margin comes with a paired bootstrap interval
(tasks resampled within each suite), so a goal met by chance can be told from one met clearly.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:  # the report's cell; imported lazily there, since the report imports the config
    from agentdistill.pipeline.experiment_report import Cell

Status = Literal["met", "not met", "pending"]


class GoalResult(BaseModel):
    name: str
    status: Status
    measured: str = Field(description="The values the verdict rests on, in words.")


class _Goal(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(description="What the report calls the goal.")

    def rows(self) -> list[str]:
        """The rows it reads (checked against the config's rows at load)."""
        return []

    def named_suites(self) -> list[str]:
        """The suites it names (checked against the config's suites at load)."""
        return []


class _RowGoal(_Goal):
    row: str
    baseline: str
    suites: list[str] | None = Field(None, description="Default: the suites both rows ran.")

    def rows(self) -> list[str]:
        return [self.row, self.baseline]

    def named_suites(self) -> list[str]:
        return self.suites or []

    def pairs(self, cells: Sequence[Cell]) -> tuple[list[tuple[Cell, Cell]], bool]:
        """(row cell, baseline cell) per shared suite, and whether all of them have run every test task."""
        mine = {c.suite: c for c in cells if c.row == self.row}
        theirs = {c.suite: c for c in cells if c.row == self.baseline}
        suites = self.suites or [s for s in mine if s in theirs]
        # two builds of one student are two models: such a pair waits for cells of one build
        pairs = [(mine[s], theirs[s]) for s in suites if s in mine and s in theirs and mine[s].comparable(theirs[s])]
        done = len(pairs) == len(suites) > 0 and all(c.tasks >= c.planned for pair in pairs for c in pair)
        return [(a, b) for a, b in pairs if a.stated and b.stated], done


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def _verdict(ok: bool, done: bool) -> Status:
    return "pending" if not done else ("met" if ok else "not met")


class MarginGoal(_RowGoal):
    """`row`'s mean accuracy is at least `baseline`'s plus `points` (percentage points)."""

    kind: Literal["margin"]
    points: float

    def check(self, cells: Sequence[Cell], hours: float) -> GoalResult:
        pairs, done = self.pairs(cells)
        if not pairs:
            return GoalResult(name=self.name, status="pending", measured="no cell of both rows yet")
        row, base = 100 * _mean([a.accuracy for a, _ in pairs]), 100 * _mean([b.accuracy for _, b in pairs])
        low, high = paired_difference_interval([(a.per_task, b.per_task) for a, b in pairs])
        measured = (
            f"{row:.1f} vs {base:.1f}: {row - base:+.1f} points (95% {100 * low:+.1f} to {100 * high:+.1f}; "
            f"target {self.points:+g}) over {', '.join(a.suite for a, _ in pairs)}"
        )
        return GoalResult(name=self.name, status=_verdict(row - base >= self.points, done), measured=measured)


class ShareGoal(_RowGoal):
    """`row`'s mean accuracy is at least `share` of `baseline`'s."""

    kind: Literal["share"]
    share: float = Field(gt=0)

    def check(self, cells: Sequence[Cell], hours: float) -> GoalResult:
        pairs, done = self.pairs(cells)
        if not pairs:
            return GoalResult(name=self.name, status="pending", measured="no cell of both rows yet")
        row, base = _mean([a.accuracy for a, _ in pairs]), _mean([b.accuracy for _, b in pairs])
        ratio = row / base if base else float("inf")
        measured = f"{100 * row:.1f} vs {100 * base:.1f}: {100 * ratio:.0f}% (target {100 * self.share:.0f}%)"
        return GoalResult(name=self.name, status=_verdict(ratio >= self.share, done), measured=measured)


class MaeRatioGoal(_Goal):
    """On `suite`, `baseline`'s MAE is at least `ratio` times `row`'s, for every regression quantity."""

    kind: Literal["mae_ratio"]
    row: str
    baseline: str
    suite: str = "materials"
    ratio: float = Field(gt=0)

    def rows(self) -> list[str]:
        return [self.row, self.baseline]

    def named_suites(self) -> list[str]:
        return [self.suite]

    def check(self, cells: Sequence[Cell], hours: float) -> GoalResult:
        mine = next((c for c in cells if c.row == self.row and c.suite == self.suite), None)
        theirs = next((c for c in cells if c.row == self.baseline and c.suite == self.suite), None)
        if mine is None or theirs is None or not (mine.mae and theirs.mae):
            return GoalResult(name=self.name, status="pending", measured="no regression answers of both rows yet")
        if not mine.comparable(theirs):
            measured = f"the rows ran different builds of {mine.model} ({mine.builds} vs {theirs.builds})"
            return GoalResult(name=self.name, status="pending", measured=measured)
        parts, ok = [], True
        for quantity in sorted(mine.mae.keys() & theirs.mae.keys()):
            a, b = mine.mae[quantity], theirs.mae[quantity]
            ratio = b["mae"] / a["mae"] if a["mae"] else float("inf")
            ok &= ratio >= self.ratio and a["answered"] > 0
            parts.append(
                f"{quantity}: {a['mae']:.3g} vs {b['mae']:.3g} {a['unit']} ({ratio:.1f}x; answered "
                f"{a['answered']}/{a['tasks']} vs {b['answered']}/{b['tasks']})"
            )
        done = mine.tasks >= mine.planned and theirs.tasks >= theirs.planned
        measured = "; ".join(parts) + f" (target {self.ratio:g}x)"
        return GoalResult(name=self.name, status=_verdict(ok, done), measured=measured)


class WallHoursGoal(_Goal):
    """Every stage, summed over resumed runs, takes at most `hours` of wall time."""

    kind: Literal["wall_hours"]
    hours: float = Field(gt=0)

    def check(self, cells: Sequence[Cell], hours: float) -> GoalResult:
        done = bool(cells) and all(c.tasks >= c.planned for c in cells)
        measured = f"{hours:.1f} h so far" if not done else f"{hours:.1f} h"
        status: Status = "not met" if hours > self.hours else _verdict(True, done)
        return GoalResult(name=self.name, status=status, measured=f"{measured} (target {self.hours:g} h)")


AnyGoal = MarginGoal | ShareGoal | MaeRatioGoal | WallHoursGoal
Goal = Annotated[AnyGoal, Field(discriminator="kind")]


def paired_difference_interval(
    suites: Sequence[tuple[dict[str, bool], dict[str, bool]]], resamples: int = 2000, seed: int = 0
) -> tuple[float, float]:
    """95% paired bootstrap interval of the suite-averaged accuracy difference (row minus baseline): the tasks
    of each suite are resampled together for both rows, so what the rows share cancels."""
    paired: list[list[float]] = []
    for row, baseline in suites:
        shared = sorted(row.keys() & baseline.keys())
        paired.append([float(row[t]) - float(baseline[t]) for t in shared])
    paired = [d for d in paired if d]
    if not paired:
        return 0.0, 0.0
    rng = random.Random(seed)
    means = sorted(_mean([sum(rng.choices(d, k=len(d))) / len(d) for d in paired]) for _ in range(resamples))
    return means[int(0.025 * resamples)], means[int(0.975 * resamples) - 1]


def check_goals(goals: Sequence[AnyGoal], cells: Sequence[Cell], hours: float) -> list[GoalResult]:
    """Each goal's verdict from the report's cells and the stages' summed wall hours."""
    return [goal.check(cells, hours) for goal in goals]
