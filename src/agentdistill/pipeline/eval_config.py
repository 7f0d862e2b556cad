"""`EvalConfig`: every setting of `eval`; the `eval` command is generated from it."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from agentdistill.agents.memory import PromptChoice
from agentdistill.config import DEFAULT_STUDENT, CommandConfig, ModelSpec, cli
from agentdistill.distill.distill_config import is_student
from agentdistill.pipeline.collect_config import CollectConfig, EpisodeSettings
from agentdistill.tasks import Split


class EvalConfig(EpisodeSettings, CommandConfig):
    """Settings of `eval` (see `agentdistill eval --help` for each)."""

    split: Split = Field("test", description="Which tasks of the suite: train, test or all.")
    n: int | None = Field(None, ge=1, description="Tasks to use (all if omitted).", json_schema_extra=cli("-n"))
    model: ModelSpec = Field(
        DEFAULT_STUDENT, description="Embedded name, hf:PATH or openai:MODEL@URL.", json_schema_extra=cli("-m")
    )
    out: str = Field(
        "runs/eval", description="Output folder: episodes.jsonl and summary.json.", json_schema_extra=cli("-o")
    )
    label: str | None = Field(None, description="Name of this run in reports (default: the model).")
    prompt_style: PromptChoice = Field(
        "auto",
        description="auto: short for students made by `distill` (they trained on it), else per task as `collect` "
        "picks it (exact on bare arithmetic expressions, full elsewhere); or full, plan, exact, nocopy or short.",
    )

    @property
    def resolved_prompt_style(self) -> PromptChoice:
        """The prompt handed to the episodes: a style, or `auto` for collect's choice per task (see
        `CollectConfig.prompt_for`), so a prompted model is evaluated with the prompt its teacher collected with."""
        if self.prompt_style == "auto" and is_student(self.model):
            return "short"
        return self.prompt_style

    def to_collect_config(self) -> CollectConfig:
        """Evaluation runs episodes exactly like collection does, on the chosen split, without a prefix."""
        shared = self.model_dump(include=set(EpisodeSettings.model_fields))
        return CollectConfig.build(
            **shared,
            teacher=self.model,
            out=str(Path(self.out) / "episodes.jsonl"),
            prompt_style=self.resolved_prompt_style,
            samples=1,  # one episode per task, at the evaluation's own temperature
            stop_after_correct=None,
            greedy_first=False,  # every episode at the evaluation's own temperature
            prefix=False,  # a prefix is a collection recipe; the evaluated model starts on its own
        )
