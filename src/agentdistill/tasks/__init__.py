"""Task suites with fixed splits and deterministic metrics.

Built-in suites run offline: `math` (generated word problems needing exact arithmetic), `facts`
(questions over the countryinfo knowledge base that must be retrieved) and `materials` (questions over
the Materials Project snapshot, answered with the materials tools). `load_task_file` reads the paper's
benchmarks from local files.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable
from functools import lru_cache, partial
from typing import Literal

from agentdistill.errors import ConfigError, UnknownNameError
from agentdistill.tasks import facts_suite, gym_suites, materials_suite, math_suite
from agentdistill.tasks.loaders import BENCHMARKS, TaskFileError, load_task_file
from agentdistill.tasks.metrics import score, score_task
from agentdistill.tasks.schema import Task

__all__ = ["BENCHMARKS", "SUITES", "Task", "TaskFileError", "load_suite", "load_task_file", "score", "score_task"]

Split = Literal["train", "test", "all"]
_TEST_SHARE = 4  # one task in four is held out


def _split_of(task_id: str) -> Literal["train", "test"]:
    """Split by a hash of the id: stable whatever the seed, count or order."""
    return "test" if int(hashlib.sha1(task_id.encode()).hexdigest(), 16) % _TEST_SHARE == 0 else "train"


def _math_pool() -> list[Task]:
    return [
        Task(
            id=f"math-{i:04d}",
            question=q,
            answers=[f"{a:g}" if isinstance(a, float) else str(a)],
            metric="numeric",
            suite="math",
            difficulty=template,
            split=_split_of(f"math-{i:04d}"),
        )
        for i, (q, a, template) in enumerate(math_suite.generate(800, seed=0))
    ]


def _facts_pool() -> list[Task]:
    return [
        Task(
            id=f"facts-{i:04d}",
            question=q,
            answers=answers,
            metric=metric,
            suite="facts",
            difficulty=template,
            rel_tol=1e-2 if metric == "numeric" else 1e-4,
            split=_split_of(f"facts-{i:04d}"),
            metadata={"tools": ["retrieve"]},
        )
        for i, (q, answers, metric, template) in enumerate(facts_suite.generate(400, seed=0))
    ]


@lru_cache(maxsize=1)  # generating asks the snapshot hundreds of queries: once per process
def _materials_pool() -> list[Task]:
    from agentdistill.tools.materials.agent_tools import MATERIALS_TOOL_NAMES

    return [
        Task(
            id=f"materials-{i:04d}",
            question=q,
            answers=answers,
            metric=metric,
            suite="materials",
            difficulty=template,
            split=_split_of(f"materials-{i:04d}"),
            **tolerances,
            metadata={
                "tools": list(MATERIALS_TOOL_NAMES),
                "regression_unit": materials_suite.REGRESSION_TEMPLATES.get(template),
            },
        )
        for i, (q, answers, metric, template, tolerances) in enumerate(materials_suite.generate(400, seed=0))
    ]


SUITES: dict[str, tuple[str, Callable[[], list[Task]]]] = {
    "math": ("grade-school word problems needing exact multi-step arithmetic (generated)", _math_pool),
    "facts": ("single/multi-hop questions over countryinfo, answered by retrieval (+ computation)", _facts_pool),
    "materials": (
        "Materials Project lookups, comparisons, counts and derived values (snapshot + pymatgen)",
        _materials_pool,
    ),
    **{
        name: (suite.description, lru_cache(maxsize=1)(partial(gym_suites.tasks, name, _split_of)))
        for name, suite in gym_suites.GYM_SUITES.items()
    },
}


def load_suite(name: str, split: Split = "test", n: int | None = None, seed: int = 0) -> list[Task]:
    """Tasks of a built-in suite (or a local benchmark file path), in an order shuffled by `seed`."""
    if n is not None and n < 1:
        raise ConfigError(f"the number of tasks must be at least 1, not {n}")
    if name in SUITES:
        tasks = [t for t in SUITES[name][1]() if split == "all" or t.split == split]
    else:
        from pathlib import Path

        if not Path(name).exists():
            raise UnknownNameError(f"unknown suite {name!r}; built-in: {', '.join(SUITES)} (or a path to a task file)")
        tasks = load_task_file(name)
    random.Random(seed).shuffle(tasks)
    return tasks[:n] if n else tasks
