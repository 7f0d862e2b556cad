"""Suites from `reasoning-gym` (public procedural generators on PyPI): problems no one here wrote.

Each suite is one reasoning-gym dataset with a fixed configuration and seed, so a task id always names the
same problem. The arithmetic ones are configured with many-digit numbers and long chains, the regime where a
small model must run code instead of computing in its head; `family_relationships` is multi-hop reasoning
over a short story. The split keeps one in four held out: by problem *template* for `gsm_symbolic` (the test
split asks kinds of problems the train split never shows), by task id for the others.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from agentdistill.tasks.schema import MetricName, Task


@dataclass(frozen=True)
class GymSuite:
    """One reasoning-gym dataset as a task suite."""

    dataset: str
    description: str
    options: dict[str, Any] = field(default_factory=dict)
    metric: MetricName = "numeric"
    size: int = 800
    seed: int = 17
    split_by_template: bool = False
    # Tasks that are one bare arithmetic expression (Task.is_expression): collect's `auto` recipe gives them no
    # first-thought prefix and the `exact` prompt (results/teacher-recipes/).
    expression: bool = False


GYM_SUITES: dict[str, GymSuite] = {
    suite.dataset: suite
    for suite in (
        GymSuite(
            "gsm_symbolic",
            "GSM8K-style word problems from GSM-Symbolic templates (reasoning-gym; test templates are held out)",
            split_by_template=True,
        ),
        GymSuite(
            "basic_arithmetic",
            "expressions of 3-6 terms with 3-5 digit numbers, + - * / and parentheses (reasoning-gym)",
            {"min_terms": 3, "max_terms": 6, "min_digits": 3, "max_digits": 5},
            expression=True,
        ),
        GymSuite(
            "chain_sum",
            "long sums and differences: 6-12 terms of 3-6 digits (reasoning-gym)",
            {"min_terms": 6, "max_terms": 12, "min_digits": 3, "max_digits": 6},
            expression=True,
        ),
        GymSuite(
            "family_relationships",
            "multi-hop kinship questions over a short family story (reasoning-gym)",
            {"min_family_size": 4, "max_family_size": 8},
            metric="exact_match",
        ),
    )
}


def _template(entry: dict[str, Any], dataset: Any, index: int) -> str:
    """The problem kind a task comes from: its GSM-Symbolic generator, else its size (terms or family members)."""
    if hasattr(dataset, "task_indices"):
        return f"template-{dataset.task_indices[index]:03d}"
    meta = entry["metadata"]
    if "num_terms" in meta:
        return f"{meta['num_terms']}-terms"
    return f"family-of-{meta.get('family_size', '?')}"


def generate(name: str) -> list[tuple[str, str, str, str]]:
    """(id, question, answer, template) of every problem of suite `name`, deterministic."""
    import reasoning_gym

    suite = GYM_SUITES[name]
    dataset = reasoning_gym.create_dataset(suite.dataset, size=suite.size, seed=suite.seed, **suite.options)
    problems = []
    for index in range(suite.size):
        entry = dataset[index]
        problems.append(
            (f"{name}-{index:04d}", entry["question"], str(entry["answer"]), _template(entry, dataset, index))
        )
    return problems


def tasks(name: str, split_of: Any) -> list[Task]:
    """The suite's tasks; `split_of(key)` maps a stable key (template or id) to "train" or "test"."""
    suite = GYM_SUITES[name]
    return [
        Task(
            id=task_id,
            question=question,
            answers=[answer],
            metric=suite.metric,
            suite=name,
            difficulty=template,
            split=split_of(f"{name}:{template}" if suite.split_by_template else task_id),
            metadata={"source": f"reasoning-gym:{suite.dataset}", "seed": suite.seed}
            | ({"expression": True} if suite.expression else {}),
        )
        for task_id, question, answer, template in generate(name)
    ]
