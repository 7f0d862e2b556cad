"""`TrajectoryRecord`: one collected episode as a versioned training record."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from agentdistill.agents.memory import Trajectory
from agentdistill.llm.precision import Precision

SCHEMA_VERSION = 1


class PrefixInfo(BaseModel):
    """The first-thought prefix that seeded the first assistant turn, and where it sits in that turn."""

    text: str = Field(description="The prefix exactly as given to the model (e.g. 'Thought: ...').")
    style: str = Field(description="How it was cut from the chain of thought.")
    chain_of_thought: str = Field(description="The teacher's full chain-of-thought reply it came from.")
    char_span: tuple[int, int] = Field(description="[start, end) of the prefix in the first assistant message.")


class TrajectoryRecord(BaseModel):
    """A trajectory with its task, score and provenance; one JSON line in a trajectory store."""

    schema_version: int = SCHEMA_VERSION
    id: str = Field(description="task id + sample number: unique in a store.")
    task_id: str
    suite: str
    question: str
    gold: list[str]
    metric: str
    sample: int = 0
    teacher: str
    sampling: dict[str, Any] = Field(default_factory=dict)
    precision: Precision | None = Field(
        default=None,
        description="The dtype the model ran in and why; None: "
        "a server's own choice, or a record from before precision was recorded.",
    )
    model_build: str | None = Field(
        default=None,
        description="The build of the distilled student that ran (a digest of its trained weights); None: a model "
        "distill did not train, or a record from before builds were recorded.",
    )
    used_prefix: bool = False
    prefix: PrefixInfo | None = None
    trajectory: Trajectory
    score: float = 0.0
    correct: bool = False

    @property
    def messages(self) -> list[dict[str, str]]:
        return self.trajectory.messages

    @property
    def execution_errors(self) -> int:
        return sum(1 for s in self.trajectory.steps if s.error and s.code)

    @property
    def parse_failures(self) -> int:
        return sum(1 for s in self.trajectory.steps if s.code is None and not s.is_final)

    @property
    def recovered(self) -> bool:
        """Hit an execution error and still finished correctly: such records teach self-correction."""
        return self.correct and self.execution_errors > 0
