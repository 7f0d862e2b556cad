"""`Task`: one question with its gold answers and the metric that scores it."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

MetricName = Literal["exact_match", "f1", "numeric", "alias"]


class Task(BaseModel):
    """A question for an agent, with everything needed to score an answer."""

    id: str
    question: str
    answers: list[str] = Field(min_length=1, description="Gold answers; any one of them counts (aliases).")
    metric: MetricName = "exact_match"
    rel_tol: float = Field(default=1e-4, ge=0, description="Relative tolerance of the numeric metric.")
    abs_tol: float = Field(default=1e-6, ge=0, description="Absolute tolerance of the numeric metric.")
    suite: str
    split: Literal["train", "test", "all"] = "all"
    difficulty: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)

    @property
    def is_expression(self) -> bool:
        """The task is one bare arithmetic expression (its metadata says `expression: true`): the teacher study
        found such tasks solved by copying the expression into code, and hurt by a first-thought prefix."""
        return bool(self.metadata.get("expression"))
