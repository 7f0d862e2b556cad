"""The feed's two agents. `ParserAgent`: command + feed + memory -> a validated `PreferenceUpdate`.
`PlannerAgent`: preferences -> a tool chain (`ToolCall`s). Both ask for JSON (decoded under its schema where the
backend can, unless `constrained=False`), validate it, and repair once."""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from agentdistill.agents.prompts import load_templates, render
from agentdistill.agents.structured import Structured, ask_structured, schema_enforced
from agentdistill.llm import AgentChatModel, ChatMessage, load_chat_model
from agentdistill.recsys.catalog import Catalog
from agentdistill.recsys.feed_tools import ToolCall, tool_call_schema
from agentdistill.recsys.preferences import (
    Preferences,
    PreferenceUpdate,
    update_schema,
    validate_update,
)

_PROMPTS = "recbot"
PromptStyle = Literal["full", "short"]  # full: rules and examples (prompted models); short: distilled students


class Plan(BaseModel):
    """The planner's answer: the tool chain to run, in order."""

    model_config = ConfigDict(extra="forbid")
    chain: list[ToolCall] = Field(min_length=1, max_length=12)


def plan_schema() -> dict[str, Any]:
    """`Plan`'s JSON schema for constrained decoding, each call with only its tool's arguments."""
    return {
        "type": "object",
        "properties": {"chain": {"type": "array", "items": tool_call_schema(), "minItems": 1, "maxItems": 12}},
        "required": ["chain"],
        "additionalProperties": False,
    }


def _model(model: AgentChatModel | str) -> AgentChatModel:
    return load_chat_model(model) if isinstance(model, str) else model


class ParserAgent:
    """Turns a command into a preference update that is valid for `catalog` (or raises StructuredOutputError)."""

    def __init__(
        self,
        model: AgentChatModel | str,
        catalog: Catalog,
        max_new_tokens: int = 200,
        constrained: bool = True,
        prompt_style: PromptStyle = "full",
    ) -> None:
        self.model, self.catalog, self.max_new_tokens = _model(model), catalog, max_new_tokens
        self.constrained, self.schema = constrained, update_schema(catalog)
        self.system = self.system_prompt(prompt_style)

    @property
    def student_system(self) -> str:
        """The short system prompt a distilled student learns (and runs with)."""
        return self.system_prompt("short")

    def system_prompt(self, style: PromptStyle) -> str:
        """The system prompt in a style."""
        if style == "short":
            return render(_PROMPTS, "parser_system_short", schema=self.catalog.describe())
        examples_key = f"examples_{self.catalog.name}"
        examples = render(_PROMPTS, examples_key) if examples_key in load_templates(_PROMPTS) else ""
        return render(_PROMPTS, "parser_system", schema=self.catalog.describe(), examples=examples)

    @property
    def schema_enforced(self) -> bool:
        """Whether this parser's replies are decoded under its JSON schema."""
        return schema_enforced(self.model, self.constrained)

    def messages(self, command: str, memory: Preferences, feed_titles: list[str]) -> list[ChatMessage]:
        return [
            {"role": "system", "content": self.system},
            {
                "role": "user",
                "content": render(
                    _PROMPTS,
                    "parser_user",
                    command=command,
                    memory=memory.model_dump_json(exclude_defaults=True),
                    feed="; ".join(feed_titles[:5]) or "empty",
                ),
            },
        ]

    def parse(self, command: str, memory: Preferences, feed_titles: list[str]) -> Structured[PreferenceUpdate]:
        return ask_structured(
            self.model,
            self.messages(command, memory, feed_titles),
            PreferenceUpdate,
            check=lambda update: validate_update(update, self.catalog),
            max_new_tokens=self.max_new_tokens,
            constrained=self.constrained,
            json_schema=self.schema,
        )


class PlannerAgent:
    """Turns preferences into a chain of feed tools (or raises StructuredOutputError)."""

    def __init__(
        self,
        model: AgentChatModel | str,
        max_new_tokens: int = 160,
        constrained: bool = True,
        prompt_style: PromptStyle = "full",
    ) -> None:
        self.model, self.max_new_tokens, self.constrained = _model(model), max_new_tokens, constrained
        self.system = render(_PROMPTS, "planner_system" if prompt_style == "full" else "planner_system_short")

    @property
    def student_system(self) -> str:
        """The short system prompt a distilled student learns (and runs with)."""
        return render(_PROMPTS, "planner_system_short")

    def messages(self, preferences: Preferences, command: str) -> list[ChatMessage]:
        return [
            {"role": "system", "content": self.system},
            {
                "role": "user",
                "content": render(
                    _PROMPTS,
                    "planner_user",
                    command=command,
                    preferences=json.dumps(preferences.model_dump(mode="json", exclude_defaults=True)),
                ),
            },
        ]

    def plan(self, preferences: Preferences, command: str) -> Structured[Plan]:
        return ask_structured(
            self.model,
            self.messages(preferences, command),
            Plan,
            max_new_tokens=self.max_new_tokens,
            constrained=self.constrained,
            json_schema=plan_schema(),
        )
