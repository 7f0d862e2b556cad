"""`RunConfig`: the settings of `agentdistill run` (one agent, one question), and the agent they describe."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal, Self

from pydantic import Field, field_validator, model_validator

if TYPE_CHECKING:
    from agentdistill.agents.code_agent import CodeAgent

from agentdistill.agents.memory import PromptStyle
from agentdistill.config import (
    DEFAULT_STUDENT,
    CommandConfig,
    ModelSettings,
    ModelSpec,
    SamplingSettings,
    cli,
    split_commas,
)

RUN_TOOLS = ("python", "retrieve")


class RunConfig(ModelSettings, SamplingSettings, CommandConfig):
    """Settings of `run` (see `agentdistill run --help`)."""

    question: str = Field(description="The task for the agent.", json_schema_extra=cli(argument=True))
    model: ModelSpec = Field(
        DEFAULT_STUDENT,
        description="Embedded model name, hf:PATH or openai:MODEL@BASE_URL.",
        json_schema_extra=cli("-m"),
    )
    tools: list[str] = Field(
        ["python", "retrieve"], description="Tools (comma-separated or repeated): python (always on), retrieve."
    )
    corpus: str | None = Field(None, description="Index folder for `retrieve` (default: the built-in countries).")
    max_steps: int = Field(6, ge=1, le=50, description="Think-act-observe cycles before a fallback answer.")
    prompt_style: PromptStyle = Field(
        "full", description="full, plan, exact or nocopy (few-shot, for prompted models) or short (distilled students)."
    )
    max_new_tokens: int = Field(384, ge=16, description="Token budget of one step.")
    sag: int = Field(1, ge=1, le=64, description="Self-consistent actions: sample N per step, vote.")
    agent: Literal["code", "materials"] = Field(
        "code", description="code (python + --tools) or materials (the materials tools)."
    )
    store: str = Field(
        "snapshot",
        description="Materials data for --agent materials: snapshot, mp (live API, needs "
        "MP_API_KEY) or a snapshot file path.",
    )
    as_json: bool = Field(
        False, description="Print the trajectory as JSON instead of the live view.", json_schema_extra=cli("--json")
    )

    @field_validator("tools", mode="before")
    @classmethod
    def _tool_list(cls, value: Any) -> Any:
        return split_commas(value)

    @model_validator(mode="after")
    def _known_tools(self) -> Self:
        unknown = sorted(set(self.tools) - set(RUN_TOOLS))
        if unknown:
            raise ValueError(f"unknown tool(s) {', '.join(unknown)}; known: {', '.join(RUN_TOOLS)}")
        return self


def build_agent(config: RunConfig) -> CodeAgent:
    """The CodeAgent `config` describes: its tools first (a missing corpus or store fails in a second), then its
    model."""
    from agentdistill.agents.code_agent import CodeAgent

    tools: list[Any] = list(config.tools)
    if config.agent == "materials":
        from agentdistill.tools.materials.agent_tools import materials_tools
        from agentdistill.tools.materials.snapshot import open_store

        tools = materials_tools(open_store(config.store))
    elif config.corpus is not None and "retrieve" in config.tools:
        from agentdistill.tools.retriever import Retriever

        tools = [t for t in config.tools if t != "retrieve"] + [Retriever.load(config.corpus).as_tool()]
    model = config.load_model(config.model)  # last: the slow part
    return CodeAgent(
        model,
        tools=tools,
        max_steps=config.max_steps,
        prompt_style=config.prompt_style,
        max_new_tokens=config.max_new_tokens,
        sag=config.sag,
        sampling=config.sampling(config.sag),
    )
