"""Typed agent memory: the steps of an episode and the whole trajectory, as pydantic records.

A `Trajectory` is both what `CodeAgent.run` returns and the training record that collection writes:
`messages` is the exact conversation the model saw and produced, ready for chat-template SFT.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

# context_overflow: the conversation outgrew the model's context window (long observations over many steps)
Termination = Literal["final_answer", "extracted", "max_steps", "context_overflow", "error"]
# system prompts of the code agent (keys `system_<style>` of prompts/code_agent.yaml): `full`, `plan`, `exact` and
# `nocopy` are few-shot prompts for prompted models and teachers, `short` is the distilled students' prompt
PromptStyle = Literal["full", "plan", "exact", "nocopy", "short"]
# what a command accepts: a style, or `auto` (the command picks one per model or task)
PromptChoice = Literal["auto", "full", "plan", "exact", "nocopy", "short"]


class Candidate(BaseModel):
    """One sampled action of a self-consistent step, with what it produced and whether it won the vote."""

    text: str
    code: str | None = None
    output: str = ""
    error: str | None = None
    is_final: bool = False
    final_answer: Any = None
    mean_logprob: float | None = None
    vote_key: str | None = Field(default=None, description="What it was grouped by; None if it was dropped.")
    votes: int = 0
    chosen: bool = False


class ActionStep(BaseModel):
    """One think-act-observe cycle."""

    index: int = Field(description="1-based step number.")
    model_output: str = Field(description="The assistant turn as kept in the conversation.")
    thought: str = ""
    code: str | None = None
    observation: str = ""
    error: str | None = Field(default=None, description="Parse or execution error, if any.")
    tool_calls: list[str] = Field(default_factory=list)
    is_final: bool = False
    final_answer: Any = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    model_latency_s: float = 0.0
    execution_s: float = 0.0
    candidates: list[Candidate] = Field(default_factory=list, description="Self-consistent generation only.")


class Trajectory(BaseModel):
    """A whole episode: the question, each step, the answer, and the conversation for training."""

    question: str
    model_id: str
    prompt_style: PromptStyle = "full"
    steps: list[ActionStep] = Field(default_factory=list)
    final_answer: Any = None
    termination: Termination = "error"
    messages: list[dict[str, str]] = Field(default_factory=list)
    started_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    duration_s: float = 0.0
    metadata: dict[str, Any] = Field(default_factory=dict)

    @property
    def prompt_tokens(self) -> int:
        return sum(s.prompt_tokens for s in self.steps)

    @property
    def completion_tokens(self) -> int:
        return sum(s.completion_tokens for s in self.steps)

    @property
    def finished(self) -> bool:
        """True when the agent itself produced the answer (not the max-steps fallback)."""
        return self.termination in ("final_answer", "extracted")
