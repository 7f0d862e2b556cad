"""Structured output from a chat model: ask for JSON, validate it with pydantic (plus a domain check), and on
failure show the model its error and ask once more. Invalid output never leaks past this point."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from agentdistill.agents.prompts import render
from agentdistill.errors import AgentDistillError
from agentdistill.llm import AgentChatModel, ChatMessage, SamplingParams

M = TypeVar("M", bound=BaseModel)
_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.DOTALL)


class StructuredOutputError(AgentDistillError, ValueError):
    """The model's output stayed invalid after the repair attempt; `outputs` holds what it wrote."""

    def __init__(self, message: str, outputs: list[str]) -> None:
        super().__init__(message)
        self.outputs = outputs


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
) -> tuple[M, list[ChatMessage]]:
    """The validated answer and the conversation that produced it (the last assistant turn is valid JSON)."""
    params = SamplingParams(max_new_tokens=max_new_tokens, temperature=temperature)
    conversation = list(messages)
    outputs: list[str] = []
    error = ""
    for attempt in range(2):
        text = model.complete(conversation, params)[0].text.strip()
        outputs.append(text)
        try:
            value = check(schema.model_validate(extract_json(text)))
            return value, [*conversation, {"role": "assistant", "content": json.dumps(value.model_dump(mode="json"))}]
        except (ValueError, ValidationError) as problem:
            error = _describe(problem)
            if attempt == 0:
                conversation = [
                    *conversation,
                    {"role": "assistant", "content": text},
                    {"role": "user", "content": render("structured", "repair", error=error)},
                ]
    raise StructuredOutputError(f"the model's output is not a valid {schema.__name__} ({error})", outputs)


def _describe(problem: Exception) -> str:
    if isinstance(problem, ValidationError):
        return "; ".join(f"{'.'.join(map(str, e['loc'])) or 'value'}: {e['msg']}" for e in problem.errors()[:5])
    return str(problem)[:300]
