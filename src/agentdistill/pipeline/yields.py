"""Correct-trajectory yield of a collection: how many distinct correct demonstrations each task gave.

Best-of-k collection samples up to k trajectories per task and keeps the correct ones. Samples are numbered
in the order they were drawn, so one run at k = 8 also tells what k = 1 or 4 would have given (its first
samples), and what "sample until the first (or the second) distinct correct one" would have cost.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from pydantic import BaseModel, Field

from agentdistill.tasks.metrics import wilson_interval
from agentdistill.trajectories.filters import demonstration_key
from agentdistill.trajectories.record import TrajectoryRecord


class YieldAtK(BaseModel):
    """What the first `k` samples of every task gave."""

    k: int
    tasks: int
    episodes: int = Field(description="Episodes run (tasks x k, fewer where a task has fewer samples).")
    solved: int = Field(description="Tasks with at least one correct trajectory (pass@k).")
    solved_ci: tuple[float, float]
    distinct_correct: int = Field(description="Correct trajectories left after dropping near-identical ones.")

    @property
    def per_task(self) -> float:
        return self.distinct_correct / self.tasks if self.tasks else 0.0


class EarlyStopCost(BaseModel):
    """Sampling a task until it has `enough` distinct correct trajectories, at most `k` times (`collect
    --samples k --stop-after-correct enough`)."""

    k: int
    enough: int = 1
    episodes: int
    solved: int
    distinct_correct: int = 0


def _by_task(records: Iterable[TrajectoryRecord]) -> dict[str, list[TrajectoryRecord]]:
    tasks: dict[str, list[TrajectoryRecord]] = defaultdict(list)
    for record in records:
        tasks[record.task_id].append(record)
    return {task: sorted(samples, key=lambda r: r.sample) for task, samples in tasks.items()}


def yield_at(records: Iterable[TrajectoryRecord], k: int) -> YieldAtK:
    """Yield of the first `k` samples of each task."""
    tasks = _by_task(records)
    episodes = solved = distinct = 0
    for samples in tasks.values():
        first = [r for r in samples if r.sample < k]
        episodes += len(first)
        correct = {demonstration_key(r) for r in first if r.correct}
        solved += bool(correct)
        distinct += len(correct)
    return YieldAtK(
        k=k,
        tasks=len(tasks),
        episodes=episodes,
        solved=solved,
        solved_ci=wilson_interval(solved, len(tasks)),
        distinct_correct=distinct,
    )


def early_stop_cost(records: Iterable[TrajectoryRecord], k: int, enough: int = 1) -> EarlyStopCost:
    """What sampling until `enough` distinct correct trajectories (at most `k` samples) costs and yields, read
    off a run that drew at least `k` samples per task."""
    episodes = solved = distinct = 0
    for samples in _by_task(records).values():
        correct: set[tuple] = set()
        for record in samples[:k]:
            episodes += 1
            if record.correct:
                correct.add(demonstration_key(record))
                if len(correct) >= enough:
                    break
        solved += bool(correct)
        distinct += len(correct)
    return EarlyStopCost(k=k, enough=enough, episodes=episodes, solved=solved, distinct_correct=distinct)


def yield_table(records: list[TrajectoryRecord], ks: Iterable[int], upto: int | None = None) -> list[YieldAtK]:
    """Yield at each k of `ks` up to `upto` (default: the most samples any task drew)."""
    most = max((r.sample for r in records), default=-1) + 1
    return [yield_at(records, k) for k in sorted(set(ks)) if k <= (most if upto is None else min(upto, most))]
