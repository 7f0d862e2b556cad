"""`@tool`: a typed Python function becomes a tool that agents can call from their code."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, create_model

from agentdistill.errors import AgentDistillError


class ToolInputError(AgentDistillError, ValueError):
    """Arguments that do not match the tool's signature; the message is written for the model to read."""


class Tool:
    """A callable with a name, a description and pydantic-validated arguments."""

    def __init__(self, fn: Callable[..., Any], name: str | None = None, description: str | None = None) -> None:
        self.fn = fn
        self.name = name or fn.__name__
        self.description = inspect.cleandoc(description or fn.__doc__ or "").strip()
        if not self.description:
            raise ValueError(f"tool {self.name!r} needs a docstring or a description: the model reads it")
        self.signature = inspect.signature(fn, eval_str=True)  # resolves `from __future__` string annotations
        fields: dict[str, Any] = {
            p.name: (
                Any if p.annotation is inspect.Parameter.empty else p.annotation,
                ... if p.default is inspect.Parameter.empty else p.default,
            )
            for p in self.signature.parameters.values()
        }
        self.args_model: type[BaseModel] = create_model(
            f"{self.name}_args", __config__=ConfigDict(arbitrary_types_allowed=True), **fields
        )

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        try:
            bound = self.signature.bind(*args, **kwargs)
        except TypeError as error:
            raise ToolInputError(f"{self.name}{self.signature}: {error}") from None
        try:
            validated = self.args_model.model_validate(dict(bound.arguments))
        except ValidationError as error:
            problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors())
            raise ToolInputError(f"{self.name}{self.signature}: {problems}") from None
        return self.fn(**{name: getattr(validated, name) for name in bound.arguments})

    def describe(self) -> str:
        """Signature and docstring, as the model sees them in its prompt."""
        return f'def {self.name}{self.signature}:\n    """{self.description}"""'

    def __repr__(self) -> str:
        return f"Tool({self.name}{self.signature})"


def tool(fn: Callable[..., Any] | None = None, *, name: str | None = None, description: str | None = None):
    """Decorator: `@tool` or `@tool(name=..., description=...)` turns a typed function into a `Tool`."""
    if fn is None:
        return lambda f: Tool(f, name=name, description=description)
    return Tool(fn, name=name, description=description)
