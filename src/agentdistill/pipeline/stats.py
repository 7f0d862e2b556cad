"""Statistics of runs: paired comparisons of two runs on the same tasks (which tasks only one of them solved, and
how likely so uneven a split is if the two do equally well: the exact McNemar test, i.e. a two-sided sign test
on the discordant tasks), and bootstrap intervals of a mean."""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from math import comb

from pydantic import BaseModel

CLAIM_FLOOR = 50
"""The fewest tasks an accuracy is stated on while its cell is still running (the project's rule for claims)."""


def stated(tasks: int, planned: int) -> bool:
    """Whether a report states a cell's accuracy: it ran all the tasks it planned, or at least `CLAIM_FLOOR`."""
    return tasks > 0 and (tasks >= planned or tasks >= CLAIM_FLOOR)


def mcnemar_exact(only_a: int, only_b: int) -> float:
    """Two-sided exact McNemar p-value from the discordant counts."""
    n = only_a + only_b
    if n == 0:
        return 1.0
    tail = sum(comb(n, k) for k in range(min(only_a, only_b) + 1)) / 2**n
    return min(1.0, 2 * tail)


class PairedComparison(BaseModel):
    """Run B against run A on the tasks both ran."""

    tasks: int
    both: int
    only_a: int
    only_b: int
    neither: int

    @property
    def p_value(self) -> float:
        return mcnemar_exact(self.only_a, self.only_b)

    @property
    def difference(self) -> float:
        """B's accuracy minus A's, on the shared tasks."""
        return (self.only_b - self.only_a) / self.tasks if self.tasks else 0.0


def paired(a: Mapping[str, bool], b: Mapping[str, bool]) -> PairedComparison:
    """Compare correctness by task id (`a[task] -> correct`) over the tasks in both."""
    shared = a.keys() & b.keys()
    return PairedComparison(
        tasks=len(shared),
        both=sum(a[t] and b[t] for t in shared),
        only_a=sum(a[t] and not b[t] for t in shared),
        only_b=sum(b[t] and not a[t] for t in shared),
        neither=sum(not a[t] and not b[t] for t in shared),
    )


def bootstrap_interval(values: Sequence[float], resamples: int = 2000, seed: int = 0) -> tuple[float, float]:
    """95% percentile bootstrap interval of a mean: a success rate (booleans) or a mean score such as Recall@10
    per session (deterministic by seed)."""
    if not values:
        return 0.0, 1.0
    rng = random.Random(seed)
    n = len(values)
    means = sorted(sum(rng.choices(values, k=n)) / n for _ in range(resamples))
    return means[int(0.025 * resamples)], means[int(0.975 * resamples) - 1]
