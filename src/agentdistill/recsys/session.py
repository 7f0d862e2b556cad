"""`FeedSession`: one user's interactive feed. Each command runs one LangGraph turn:

    parse --(valid update)--> plan --> act --> END
          \\--(invalid after repair)--> END   (the feed and the memory stay as they were)

Nodes are plain functions; the runtime (agents, feed services) comes in through `config["configurable"]`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypedDict

import numpy as np
from langchain_core.runnables import RunnableConfig
from langgraph.graph import END, START, StateGraph
from pydantic import BaseModel, Field

from agentdistill.agents.structured import Attempt, StructuredOutputError
from agentdistill.recsys.agents import ParserAgent, PlannerAgent
from agentdistill.recsys.catalog import Catalog, Item
from agentdistill.recsys.feed_tools import (
    FEED_SIZE,
    FeedState,
    ToolCall,
    ToolEffect,
    apply,
    default_plan,
)
from agentdistill.recsys.preferences import Preferences, PreferenceUpdate, consolidate
from agentdistill.recsys.recommender import ItemEmbeddings, ItemKNN


class TurnResult(BaseModel):
    """Everything one command did, for the UI, the evaluation and the distillation data."""

    command: str
    update: PreferenceUpdate | None = None
    preferences: Preferences
    plan: list[ToolCall] = Field(default_factory=list)
    planner_fallback: bool = Field(False, description="The planner's output was invalid: the default plan ran.")
    effects: list[ToolEffect] = Field(default_factory=list)
    feed: list[Item] = Field(default_factory=list)
    error: str | None = None
    parser_messages: list[dict] = Field(default_factory=list)
    planner_messages: list[dict] = Field(default_factory=list)
    parser_attempts: list[Attempt] = Field(default_factory=list, description="The parser's replies, repairs included.")
    planner_attempts: list[Attempt] = Field(default_factory=list)
    models: dict[str, str] = Field(default_factory=dict, description="Which model answered, per agent.")
    constrained: bool = Field(False, description="Decoding followed the JSON schemas.")
    seconds: dict[str, float] = Field(default_factory=dict)

    def malformed_outputs(self) -> int:
        """Replies that were not JSON of the right shape (domain errors, e.g. an unknown value, not counted)."""
        return sum(a.problem == "malformed" for a in [*self.parser_attempts, *self.planner_attempts])


class TurnState(TypedDict, total=False):
    command: str
    memory: Preferences
    update: PreferenceUpdate | None
    preferences: Preferences
    plan: list[ToolCall]
    planner_fallback: bool
    effects: list[ToolEffect]
    error: str | None
    parser_messages: list[dict]
    planner_messages: list[dict]
    parser_attempts: list[Attempt]
    planner_attempts: list[Attempt]
    seconds: dict[str, float]


def _runtime(config: RunnableConfig) -> FeedSession:
    return config["configurable"]["session"]


def parse(state: TurnState, config: RunnableConfig) -> dict[str, Any]:
    session = _runtime(config)
    session.emit({"stage": "parsing"})
    started = time.perf_counter()
    titles = [item.title for item in session.feed]
    try:
        parsed = session.parser.parse(state["command"], state["memory"], titles)
    except StructuredOutputError as error:
        return {
            "error": str(error),
            "parser_attempts": error.attempts,
            "seconds": {"parse": time.perf_counter() - started},
        }
    preferences = consolidate(state["memory"], parsed.value)
    session.emit({"stage": "parsed", "preferences": preferences.model_dump(mode="json")})
    return {
        "update": parsed.value,
        "preferences": preferences,
        "parser_messages": parsed.conversation,
        "parser_attempts": parsed.attempts,
        "seconds": {"parse": time.perf_counter() - started},
    }


def plan(state: TurnState, config: RunnableConfig) -> dict[str, Any]:
    session = _runtime(config)
    started = time.perf_counter()
    try:
        planned = session.planner.plan(state["preferences"], state["command"])
        chain, messages, attempts, fallback = planned.value.chain, planned.conversation, planned.attempts, False
    except StructuredOutputError as error:
        chain, messages, attempts, fallback = default_plan(state["preferences"]), [], error.attempts, True
    if not any(c.tool == "filter" for c in chain) and state["preferences"].constraints:
        chain = [ToolCall(tool="filter"), *chain]  # hard constraints are never optional
    session.emit({"stage": "planned", "plan": [c.model_dump(mode="json") for c in chain], "fallback": fallback})
    return {
        "plan": chain,
        "planner_fallback": fallback,
        "planner_messages": messages,
        "planner_attempts": attempts,
        "seconds": {**state.get("seconds", {}), "plan": time.perf_counter() - started},
    }


def act(state: TurnState, config: RunnableConfig) -> dict[str, Any]:
    session = _runtime(config)
    started = time.perf_counter()
    feed = session.new_feed_state()
    effects = [apply(call, feed, state["preferences"]) for call in state["plan"]]
    session.feed_state = feed
    return {"effects": effects, "seconds": {**state.get("seconds", {}), "act": time.perf_counter() - started}}


def _after_parse(state: TurnState) -> str:
    return END if state.get("error") else "plan"


def build_turn_graph():
    graph = StateGraph(TurnState)
    graph.add_node("parse", parse)
    graph.add_node("plan", plan)
    graph.add_node("act", act)
    graph.add_edge(START, "parse")
    graph.add_conditional_edges("parse", _after_parse, ["plan", END])
    graph.add_edge("plan", "act")
    graph.add_edge("act", END)
    return graph.compile()


_GRAPH = None


class FeedServices:
    """What every session over one catalogue shares: the base recommender and the item embeddings."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self.base = ItemKNN(catalog)
        self.embeddings = ItemEmbeddings(catalog)


class FeedSession:
    """One user's feed, preferences memory and command history."""

    def __init__(
        self,
        services: FeedServices,
        parser: ParserAgent,
        planner: PlannerAgent,
        history: list[int] | None = None,
        on_event: Callable[[dict], None] | None = None,
    ) -> None:
        self.services, self.parser, self.planner = services, parser, planner
        self.history = list(history or [])
        self.memory = Preferences()
        self.turns: list[TurnResult] = []
        self.on_event = on_event
        self.on_turn: Callable[[TurnResult], None] | None = None  # called before "done" (the server stores it)
        self.feed_state = self.new_feed_state()

    def restore(
        self,
        history: list[int],
        memory: Preferences,
        turns: list[TurnResult],
        scores: np.ndarray | None,
        allowed: np.ndarray | None,
    ) -> None:
        """Take back a stored session: its history, memory, turns and feed (None: the feed before any command)."""
        self.history, self.memory, self.turns = list(history), memory, list(turns)
        self.feed_state = self.new_feed_state()
        if scores is not None and allowed is not None:
            self.feed_state.scores, self.feed_state.allowed = scores, allowed

    def new_feed_state(self) -> FeedState:
        s = self.services
        return FeedState(s.catalog, s.base, s.embeddings, self.history)

    @property
    def feed(self) -> list[Item]:
        return [self.services.catalog.items[i] for i in self.feed_state.top(FEED_SIZE)]

    def emit(self, event: dict) -> None:
        if self.on_event:
            self.on_event(event)

    def command(self, text: str) -> TurnResult:
        """Apply one command; on an invalid parse the memory and the feed are left exactly as they were."""
        global _GRAPH
        if _GRAPH is None:
            _GRAPH = build_turn_graph()
        state = _GRAPH.invoke({"command": text, "memory": self.memory}, {"configurable": {"session": self}})
        common = {
            "command": text,
            "error": state.get("error"),
            "parser_attempts": state.get("parser_attempts", []),
            "planner_attempts": state.get("planner_attempts", []),
            "models": {"parser": self.parser.model.model_id, "planner": self.planner.model.model_id},
            "constrained": self.parser.schema_enforced,
            "seconds": state.get("seconds", {}),
        }
        if state.get("error"):
            result = TurnResult(preferences=self.memory, feed=self.feed, **common)
        else:
            self.memory = state["preferences"]
            result = TurnResult(
                update=state["update"],
                preferences=self.memory,
                plan=state["plan"],
                planner_fallback=state["planner_fallback"],
                effects=state["effects"],
                feed=self.feed,
                parser_messages=state["parser_messages"],
                planner_messages=state["planner_messages"],
                **common,
            )
        self.turns.append(result)
        if self.on_turn:
            self.on_turn(result)
        self.emit(
            {"stage": "done", "turn": result.model_dump(mode="json", exclude={"parser_messages", "planner_messages"})}
        )
        return result
