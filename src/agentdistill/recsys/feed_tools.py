"""The planner's tools: each takes the feed state, changes the candidate set or the scores, and reports its
effect (what entered and left the top of the feed) so the user can see why the feed changed."""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from agentdistill.recsys.catalog import Catalog
from agentdistill.recsys.preferences import Preferences
from agentdistill.recsys.recommender import ItemEmbeddings, ItemKNN

FEED_SIZE = 10
Tool = Literal["filter", "match", "attenuate", "rerank", "search"]
# the arguments each tool reads (a text, where a tool reads one, is required)
TOOL_ARGUMENTS: dict[str, tuple[str, ...]] = {
    "filter": (),
    "match": ("text", "weight"),
    "attenuate": ("text", "weight"),
    "search": ("text", "k"),
    "rerank": ("alpha",),
}
_ARGUMENT_SCHEMAS: dict[str, dict[str, Any]] = {
    "text": {"type": "string", "minLength": 1, "maxLength": 200},
    "weight": {"type": "number"},
    "alpha": {"type": "number"},
    "k": {"type": "integer"},
}


class ToolCall(BaseModel):
    """One step of a plan; the planner model writes a list of these as JSON."""

    model_config = ConfigDict(extra="forbid")  # a key the model invents is an error, not ignored

    tool: Tool
    text: str | None = Field(None, max_length=200, description="Phrase for match/attenuate, query for search.")
    weight: float = Field(1.0, ge=0.0, le=5.0, description="Strength of match/attenuate.")
    alpha: float = Field(0.3, ge=0.0, le=1.0, description="rerank: share of the base recommender's score.")
    k: int = Field(100, ge=1, le=5000, description="search: how many items to recall.")

    @model_validator(mode="after")
    def _only_its_own_arguments(self) -> ToolCall:
        """An argument the tool does not read goes back to its default, so that a call has one written form (the
        canonical JSON leaves defaults out) and a filter that carries a stray text trains no one to write it."""
        for name, field in type(self).model_fields.items():
            if name != "tool" and name not in TOOL_ARGUMENTS[self.tool]:
                setattr(self, name, field.default)
        return self


def tool_call_schema() -> dict[str, Any]:
    """JSON schema of one call for constrained decoding: per tool, only the arguments it reads (the pydantic
    model's own schema would let every tool carry every argument, which a model then fills in)."""
    return {
        "anyOf": [
            {
                "type": "object",
                "properties": {"tool": {"const": tool}, **{a: _ARGUMENT_SCHEMAS[a] for a in arguments}},
                "required": ["tool", "text"] if "text" in arguments else ["tool"],
                "additionalProperties": False,
            }
            for tool, arguments in TOOL_ARGUMENTS.items()
        ]
    }


class ToolEffect(BaseModel):
    """What one tool call did to the feed."""

    call: ToolCall
    summary: str
    candidates_before: int
    candidates_after: int
    entered: list[str] = Field(default_factory=list, description="Titles that entered the top of the feed.")
    left: list[str] = Field(default_factory=list)


class FeedState:
    """Scores over every item plus the mask of allowed items; `top()` is the feed."""

    def __init__(self, catalog: Catalog, base: ItemKNN, embeddings: ItemEmbeddings, history: list[int]) -> None:
        self.catalog, self.embeddings = catalog, embeddings
        self.base_scores = base.scores(history)
        self.scores = self.base_scores.copy()
        self.allowed = np.ones(len(catalog.items), dtype=bool)
        self.history = set(history)

    def top(self, k: int = FEED_SIZE) -> list[int]:
        ranked = np.argsort(-np.where(self.allowed, self.scores, -np.inf), kind="stable")
        return [int(i) for i in ranked[: min(k, int(self.allowed.sum()))]]


def _z(values: np.ndarray) -> np.ndarray:
    return (values - values.mean()) / (values.std() or 1.0)


def apply(call: ToolCall, state: FeedState, preferences: Preferences) -> ToolEffect:
    """Run one tool on `state` in place and describe its effect."""
    before_top, before_count = state.top(), int(state.allowed.sum())
    if call.tool == "filter":
        ok = np.array([preferences.matches(item) for item in state.catalog.items])
        if not ok[state.allowed].any():
            summary = "no item meets every constraint: kept the previous candidates"
        else:
            state.allowed &= ok
            summary = f"kept items meeting {', '.join(c.label() for c in preferences.constraints) or 'no constraint'}"
    elif call.tool in ("match", "attenuate"):
        if not call.text:
            summary = f"{call.tool} needs a text: skipped"
        else:
            sign = 1.0 if call.tool == "match" else -1.0
            state.scores = state.scores + sign * call.weight * _z(state.embeddings.similarity(call.text))
            summary = f"{'boosted' if sign > 0 else 'down-weighted'} items like {call.text!r} (weight {call.weight:g})"
    elif call.tool == "rerank":
        state.scores = (1 - call.alpha) * _z(state.scores) + call.alpha * _z(state.base_scores)
        summary = f"blended with the base recommender ({call.alpha:.0%})"
    else:  # search
        if not call.text:
            summary = "search needs a query: skipped"
        else:
            recalled = np.zeros_like(state.allowed)
            recalled[state.embeddings.search(call.text, call.k)] = True
            if (recalled & state.allowed).any():
                state.allowed &= recalled
            state.scores = state.scores + _z(state.embeddings.similarity(call.text))
            summary = f"recalled the {call.k} items nearest to {call.text!r}"
    after_top = state.top()
    titles = state.catalog.items
    return ToolEffect(
        call=call,
        summary=summary,
        candidates_before=before_count,
        candidates_after=int(state.allowed.sum()),
        entered=[titles[i].title for i in after_top if i not in before_top],
        left=[titles[i].title for i in before_top if i not in after_top],
    )


def default_plan(preferences: Preferences, command: str = "") -> list[ToolCall]:
    """The plan a careful planner makes: filter hard constraints, match wanted phrases, attenuate unwanted ones,
    then blend in the base recommender. Used when the planner model's output cannot be repaired."""
    plan = [ToolCall(tool="filter")] if preferences.constraints else []
    plan += [ToolCall(tool="match" if s.positive else "attenuate", text=s.text) for s in preferences.soft]
    return [*plan, ToolCall(tool="rerank", alpha=0.2)]
