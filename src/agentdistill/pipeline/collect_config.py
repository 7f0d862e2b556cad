"""`CollectConfig`: every setting of teacher-trajectory collection; the `collect` command is generated from it.

`EpisodeSettings` holds what collection and evaluation share (both run agent episodes over a task suite)."""

from __future__ import annotations

from pathlib import Path
from typing import Self

from pydantic import Field, field_validator, model_validator

from agentdistill.agents.first_thought import PrefixStyle
from agentdistill.agents.memory import PromptChoice, PromptStyle
from agentdistill.config import (
    DEFAULT_TEACHER,
    CommandConfig,
    ModelSettings,
    ModelSpec,
    SamplingSettings,
    cli,
)
from agentdistill.tasks import SUITES, Split, Task


class EpisodeSettings(ModelSettings, SamplingSettings):
    """How agent episodes run over a task suite (shared by `collect` and `eval`)."""

    suite: str = Field(
        "math", description="Suite name (math, facts, materials, gsm_symbolic, ...: see `tasks`) or a task file path."
    )
    split: Split = Field("train", description="Which tasks of the suite: train, test or all.")
    n: int | None = Field(20, ge=1, description="Tasks to use (all if omitted).", json_schema_extra=cli("-n"))
    max_steps: int = Field(5, ge=1, description="Think-act-observe steps per episode.")
    max_new_tokens: int = Field(320, ge=16, description="Tokens per model call.")
    concurrency: int = Field(1, ge=1, description="Episodes at once (batched generate for local models).")
    resume: bool = Field(True, description="Skip tasks already in the output.")
    sag: int = Field(1, ge=1, le=64, description="Self-consistent actions: N candidates per step.")
    closed_book: bool = Field(
        False,
        description="No tools: the model answers from memory in one reply (the baseline tool use is measured against).",
    )
    reasoning: bool = Field(
        False, description="With --closed-book: reason step by step first (chain of thought; the CoT baseline)."
    )

    @field_validator("suite")
    @classmethod
    def _tasks_not_sessions(cls, value: str) -> str:
        if value == "recbot":
            raise ValueError(
                "recbot runs simulated sessions, not tasks: use `agentdistill recbot eval` or "
                "`agentdistill recbot collect`"
            )
        if value not in SUITES and not Path(value).is_file():
            raise ValueError(f"unknown suite {value!r}; built-in: {', '.join(SUITES)} (or a path to a task file)")
        return value

    @model_validator(mode="after")
    def _closed_book_is_one_reply(self) -> Self:
        if self.closed_book and self.sag > 1:
            raise ValueError("closed-book answers in one reply: it takes no --sag")
        if self.reasoning and not self.closed_book:
            raise ValueError("--reasoning is the chain of thought of a closed-book answer: it needs --closed-book")
        return self


class CollectConfig(EpisodeSettings, CommandConfig):
    """Settings of `collect` (see `agentdistill collect --help` for each)."""

    teacher: ModelSpec = Field(DEFAULT_TEACHER, description="Teacher model: embedded name, hf:PATH, openai:MODEL@URL.")
    out: str = Field(
        "runs/teacher.jsonl", description="Trajectory store (JSONL, appended to).", json_schema_extra=cli("-o")
    )
    # The default recipe (experiments/teacher-recipes.yaml, results/teacher-recipes/report.md): the teacher's own
    # greedy chain of thought, cut to its first thought, starts every agent episode, then best-of-4 at T=0.7 stops
    # a task at 2 distinct correct trajectories (`prefix-k4`: on 100 gsm_symbolic train tasks 2.8x greedy's
    # distinct correct trajectories, 1.8x per wall minute). `auto` treats a bare arithmetic expression
    # (Task.is_expression) apart: no prefix, whose chain of thought adds the terms in prose for the agent to follow
    # step by step (chain_sum: 25 of 100 with it, 73 without), the `exact` prompt (chain_sum: 100 of 100), and a
    # greedy first sample that ends the task when correct: sampled at T=0.7, the teacher goes back to splitting
    # the sum by hand (`exact` at T=0.7: 40 of 100 chain_sum tasks), and the one-line program that copies the
    # expression is the same every time, so a second distinct correct one never comes. Only tasks that greedy
    # fails are sampled (basic_arithmetic: 97 of 100 solved, against greedy's 55).
    # Plain greedy collection: --samples 1 --temperature 0 --no-prefix --prompt-style full --no-greedy-first.
    prefix: bool | None = Field(
        None,
        description="Seed each agent episode with a first-thought prefix from the teacher's own chain of thought; "
        "unset (auto): on, except on bare arithmetic expressions and closed-book episodes.",
    )
    prefix_style: PrefixStyle = Field("substantive+code", description="Where the prefix is cut.")
    temperature: float = Field(0.7, ge=0.0, description="Sampling temperature (0 = greedy; the recipe: 0.7).")
    samples: int = Field(4, ge=1, description="Trajectories per task, at most (above 1 needs --temperature > 0).")
    stop_after_correct: int | None = Field(
        2,
        ge=1,
        description="Best-of-k: stop sampling a task once it has this many distinct correct trajectories "
        "(null in a file: draw all --samples).",
    )
    greedy_first: bool | None = Field(
        None,
        description="Draw each task's first sample greedily (T=0) and the others at --temperature; unset (auto): "
        "on for bare arithmetic expressions, where a correct first sample also ends the task.",
    )
    prompt_style: PromptChoice = Field(
        "auto",
        description="System prompt: full, plan, exact or nocopy (few-shot; plan names every quantity first, exact "
        "copies the task's expression as written, nocopy's examples hold no number to copy) or short; auto: exact "
        "for bare arithmetic expressions, else full.",
    )

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.samples > 1 and self.temperature == 0:
            raise ValueError(
                "several samples per task need --temperature > 0 (greedy repeats itself); "
                "for greedy collection pass --samples 1"
            )
        if self.closed_book and self.prefix:
            raise ValueError("closed-book answers in one reply: it takes no --prefix")
        if self.greedy_first and self.sag > 1:
            raise ValueError("--greedy-first with --sag would make every candidate of the first sample the same")
        return self

    def prefix_for(self, task: Task) -> bool:
        """Whether `task`'s episodes start from a first-thought prefix: as set, or (auto) unless closed-book or
        the task is a bare arithmetic expression."""
        if self.prefix is not None:
            return self.prefix
        return not self.closed_book and not task.is_expression

    def greedy_first_for(self, task: Task) -> bool:
        """Whether `task`'s first sample is greedy: as set, or (auto) when the task is a bare expression and no
        SAG candidates need sampling."""
        return self.greedy_first if self.greedy_first is not None else task.is_expression and self.sag == 1

    def enough_for(self, task: Task) -> int | None:
        """Distinct correct trajectories that end `task`'s sampling (None: draw all --samples): as set, but under
        auto greedy-first a bare expression stops at its first, since its right program is one line."""
        if self.greedy_first is None and task.is_expression:
            return 1
        return self.stop_after_correct

    def prompt_for(self, task: Task) -> PromptStyle:
        """The system prompt of `task`'s episodes: as set, or (auto) `exact` for a bare expression, else `full`."""
        if self.prompt_style != "auto":
            return self.prompt_style
        return "exact" if task.is_expression else "full"
