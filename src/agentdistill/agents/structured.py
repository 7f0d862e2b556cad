"""Structured output from a chat model: JSON under a schema, validated with pydantic (plus a domain check), and on
failure the model sees its error and answers once more. Invalid output never leaks past this point.

Where the backend can (`capabilities.json_schema`: the engine, any OpenAI-compatible server, transformers through
llguidance), decoding is constrained to the JSON schema, so malformed JSON cannot be produced at all; the repair
round then only ever sees domain errors (a value the catalogue lacks, contradictory constraints). Callers can pass
a schema narrower than the pydantic model's own (enums of a catalogue's real values).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ValidationError

from agentdistill.agents.prompts import render
from agentdistill.errors import AgentDistillError
from agentdistill.llm import AgentChatModel, ChatMessage, SamplingParams

M = TypeVar("M", bound=BaseModel)
_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.DOTALL)


class Attempt(BaseModel):
    """One reply of the model: its text, and what was wrong with it (None: it was accepted)."""

    text: str
    problem: Literal["malformed", "domain"] | None = None
    error: str = ""


class StructuredOutputError(AgentDistillError, ValueError):
    """The model's output stayed invalid after the repair attempt; `attempts` holds what it wrote."""

    def __init__(self, message: str, attempts: list[Attempt]) -> None:
        super().__init__(message)
        self.attempts = attempts

    @property
    def outputs(self) -> list[str]:
        return [a.text for a in self.attempts]


class Structured(BaseModel, Generic[M]):
    """A validated answer, the conversation that produced it (its last assistant turn is the answer as
    `canonical_json`), every attempt, and whether decoding was constrained to the schema."""

    value: M
    conversation: list[ChatMessage]
    attempts: list[Attempt]
    constrained: bool


def schema_enforced(model: AgentChatModel, constrained: bool = True) -> bool:
    """Whether `ask_structured` will decode under the JSON schema with this model (asked, and the backend can)."""
    return constrained and model.capabilities.json_schema


def canonical_json(value: BaseModel) -> str:
    """The answer as the conversation keeps it, and so as a student learns it: the shortest equivalent JSON (keys
    left at their defaults left out) in the layout the grammar enforces. Every token a reply need not write is
    decode time saved on every command."""
    return json.dumps(value.model_dump(mode="json", exclude_defaults=True))


def extract_json(text: str) -> object:
    """The first JSON object in `text` (inside a ``` fence or bare); raises ValueError if there is none."""
    fenced = _FENCE.search(text)
    body = fenced.group(1) if fenced else text
    start = body.find("{")
    if start < 0:
        raise ValueError("no JSON object found")
    value, _ = json.JSONDecoder().raw_decode(body[start:])
    return value


def ask_structured(
    model: AgentChatModel,
    messages: list[ChatMessage],
    schema: type[M],
    check: Callable[[M], M] = lambda value: value,
    max_new_tokens: int = 256,
    temperature: float | None = None,
    *,
    constrained: bool = True,
    json_schema: dict[str, Any] | None = None,
) -> Structured[M]:
    """Ask, validate, repair once. With `constrained` (the default) and a backend that can, decoding follows
    `json_schema` (default: `schema`'s own JSON schema)."""
    enforce = schema_enforced(model, constrained)
    params = SamplingParams(
        max_new_tokens=max_new_tokens,
        temperature=temperature,
        json_schema=(json_schema or schema.model_json_schema()) if enforce else None,
    )
    conversation = list(messages)
    attempts: list[Attempt] = []
    for attempt in range(2):
        text = model.complete(conversation, params)[0].text.strip()
        try:
            parsed = schema.model_validate(extract_json(text))
        except (ValueError, ValidationError) as problem:
            attempts.append(Attempt(text=text, problem="malformed", error=_describe(problem)))
        else:
            try:
                value = check(parsed)
            except ValueError as problem:
                attempts.append(Attempt(text=text, problem="domain", error=_describe(problem)))
            else:
                attempts.append(Attempt(text=text))
                answer = {"role": "assistant", "content": canonical_json(value)}
                return Structured[schema](  # type: ignore[valid-type]
                    value=value, conversation=[*conversation, answer], attempts=attempts, constrained=enforce
                )
        if attempt == 0:
            conversation = [
                *conversation,
                {"role": "assistant", "content": text},
                {"role": "user", "content": render("structured", "repair", error=attempts[-1].error)},
            ]
    raise StructuredOutputError(f"the model's output is not a valid {schema.__name__} ({attempts[-1].error})", attempts)


def _describe(problem: Exception) -> str:
    if isinstance(problem, ValidationError):
        return "; ".join(f"{'.'.join(map(str, e['loc'])) or 'value'}: {e['msg']}" for e in problem.errors()[:5])
    return str(problem)[:300]
