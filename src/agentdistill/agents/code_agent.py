"""`CodeAgent`: a LangGraph ReAct loop whose actions are Python code run in the confined sandbox.

    think --(parsed step)--> act --(observation)--> think ... --> END
      |                          \\--(max steps)--> finalize --> END
      \\--(context overflow)--> END

The state is a typed dict with list reducers; nodes are plain functions that receive their runtime
(model, sandbox) through LangGraph's `config["configurable"]`; the graph is built in `build_graph`.
"""

from __future__ import annotations

import operator
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, TypedDict

from langchain_core.runnables import RunnableConfig
from langgraph.graph import END, START, StateGraph

from agentdistill.agents.memory import ActionStep, PromptStyle, Trajectory
from agentdistill.agents.parsing import ParsedStep, extract_prose_answer, parse_step
from agentdistill.agents.prompts import render
from agentdistill.agents.sag import DEFAULT_SAG_TEMPERATURE, choose_action
from agentdistill.errors import ConfigError
from agentdistill.llm import (
    AgentChatModel,
    ChatMessage,
    Completion,
    ContextOverflow,
    SamplingParams,
    load_chat_model,
)
from agentdistill.llm.registry import DEFAULT_CHAT_MODEL
from agentdistill.tools.base import Tool
from agentdistill.tools.branching import BranchingSandbox
from agentdistill.tools.builtin import resolve_tool
from agentdistill.tools.sandbox import ExecutionResult, PythonSandbox, SandboxLimits

# Generation stops at a hallucinated observation or right after a closed code block.
STOP_STRINGS = ["Observation:", "\n```\n"]
_PROMPTS = "code_agent"


class AgentState(TypedDict, total=False):
    question: str
    messages: Annotated[list[ChatMessage], operator.add]
    steps: Annotated[list[ActionStep], operator.add]
    pending: dict[str, Any] | None  # the last model output, parsed but not yet acted on
    prefix: str | None  # assistant text the first step continues (first-thought prefix)
    final_answer: Any
    termination: str | None


def _runtime(config: RunnableConfig) -> tuple[CodeAgent, PythonSandbox]:
    configurable = config["configurable"]
    return configurable["agent"], configurable["sandbox"]


# -- nodes ----------------------------------------------------------------------------------------------
def think(state: AgentState, config: RunnableConfig) -> dict[str, Any]:
    """Ask the model for the next step (continuing the prefix on the first step, if there is one).

    A reply that ends without code and without a stated answer is continued once with an opened
    ```python fence: small models often stop after the thought, and this costs one short call instead
    of a whole wasted step. A conversation that no longer fits the model's context ends the episode.
    """
    try:
        return _think(state, config)
    except ContextOverflow:
        return {"pending": None, "termination": "context_overflow"}


def _think(state: AgentState, config: RunnableConfig) -> dict[str, Any]:
    agent, _ = _runtime(config)
    prefix = state.get("prefix") if not state.get("steps") else None
    started = time.perf_counter()
    call = (state["question"], len(state.get("steps", [])))  # what this step's seed is mixed from
    if agent.sag > 1:
        params = agent.sampling(*call, n=agent.sag)
        return {"pending": _sample_candidates(agent, state["messages"], prefix or "", params, started)}
    text, completion = _continue(agent, state["messages"], prefix or "", agent.sampling(*call))
    parsed = parse_step(text)
    if parsed.code is None and completion.finish_reason == "stop" and extract_prose_answer(text) is None:
        fence = text.rstrip() + "\n```python\n"
        text, more = _continue(agent, state["messages"], fence, agent.sampling(*call, "fence"))
        parsed = parse_step(text)
        completion = more.model_copy(
            update={"completion_tokens": completion.completion_tokens + more.completion_tokens}
        )
    return {
        "pending": {"parsed": parsed, "completion": completion, "latency": time.perf_counter() - started},
        "messages": [{"role": "assistant", "content": parsed.kept_text}],
    }


def _continue(
    agent: CodeAgent, messages: list[ChatMessage], prefix: str, params: SamplingParams
) -> tuple[str, Completion]:
    """One model call; with a non-empty `prefix` the model continues that partial assistant turn."""
    conversation = list(messages) + ([{"role": "assistant", "content": prefix}] if prefix else [])
    completion = agent.model.complete(conversation, params)[0]
    return prefix + completion.text, completion


def _sample_candidates(
    agent: CodeAgent, messages: list[ChatMessage], prefix: str, params: SamplingParams, started: float
) -> dict:
    """SAG: `agent.sag` candidate actions from one batched call (`params.n` samples)."""
    conversation = list(messages) + ([{"role": "assistant", "content": prefix}] if prefix else [])
    completions = agent.model.complete(conversation, params)
    texts = [prefix + c.text for c in completions]
    return {
        "texts": texts,
        "parsed": [parse_step(t) for t in texts],
        "completions": completions,
        "latency": time.perf_counter() - started,
    }


def act(state: AgentState, config: RunnableConfig) -> dict[str, Any]:
    """Run the pending code in the sandbox, or handle a reply that had no code."""
    _, sandbox = _runtime(config)
    pending = state["pending"]
    assert pending is not None, "think always leaves a pending reply for act"
    if "texts" in pending:
        assert isinstance(sandbox, BranchingSandbox), "SAG agents run in a branching sandbox"
        return _act_on_candidates(state, pending, sandbox)
    return _act_on(state, pending["parsed"], pending["completion"], pending["latency"], sandbox.run)


def _act_on_candidates(state: AgentState, pending: dict, sandbox: BranchingSandbox) -> dict[str, Any]:
    """SAG: run every runnable candidate in its own copy of the state, commit the vote's winner."""
    completions: list[Completion] = pending["completions"]
    winner, branch, candidates = choose_action(pending["texts"], pending["parsed"], completions, sandbox)
    if winner is None:  # nothing ran: treat the most probable reply like a single reply without code
        winner = max(range(len(completions)), key=lambda i: completions[i].mean_logprob or float("-inf"))

    def commit(code: str) -> ExecutionResult:
        assert branch is not None, "a candidate that ran has a branch"
        sandbox.commit(branch)
        return branch.result

    parsed: ParsedStep = pending["parsed"][winner]
    total = completions[winner].model_copy(update={"completion_tokens": sum(c.completion_tokens for c in completions)})
    update = _act_on(state, parsed, total, pending["latency"], commit)
    update["steps"] = [update["steps"][0].model_copy(update={"candidates": candidates})]
    update["messages"] = [{"role": "assistant", "content": parsed.kept_text}, *update.get("messages", [])]
    return update


def _act_on(
    state: AgentState, parsed: ParsedStep, completion: Completion, latency: float, run: Callable[[str], ExecutionResult]
) -> dict[str, Any]:
    step = ActionStep(
        index=len(state.get("steps", [])) + 1,
        model_output=parsed.kept_text,
        thought=parsed.thought,
        code=parsed.code,
        prompt_tokens=completion.prompt_tokens,
        completion_tokens=completion.completion_tokens,
        model_latency_s=latency,
    )
    update: dict[str, Any] = {"pending": None}
    if parsed.code is None:
        answer = extract_prose_answer(parsed.kept_text) if _has_useful_observation(state) else None
        if answer is not None:  # a prose answer after real observations: accept it rather than loop
            step = step.model_copy(update={"is_final": True, "final_answer": answer})
            return {**update, "steps": [step], "final_answer": answer, "termination": "extracted"}
        step.error = step.observation = "no code block"
        return {**update, "steps": [step], "messages": [_user(render(_PROMPTS, "no_code"))]}
    result = run(parsed.code)
    step = _with_result(step, result)
    if result.is_final:
        return {**update, "steps": [step], "final_answer": result.final_answer, "termination": "final_answer"}
    template = "observation_error" if result.error else "observation"
    observation = render(
        _PROMPTS, template, observation=step.observation, output=result.output.strip(), error=result.error or ""
    )
    return {**update, "steps": [step], "messages": [_user(observation)]}


def finalize(state: AgentState, config: RunnableConfig) -> dict[str, Any]:
    """Out of steps: ask once for the bare answer, so every episode ends with one."""
    agent, sandbox = _runtime(config)
    conversation = [*list(state["messages"]), _user(render(_PROMPTS, "final_fallback"))]
    try:
        params = agent.sampling(state["question"], "final", max_new_tokens=64)
        completion = agent.model.complete(conversation, params)[0]
    except ContextOverflow:  # no room left to ask: the episode ends without an answer
        return {"termination": "context_overflow"}
    parsed = parse_step(completion.text)
    answer: Any = None
    if parsed.code and "final_answer" in parsed.code:
        result = sandbox.run(parsed.code)
        answer = result.final_answer if result.is_final else None
    if answer is None:
        text = completion.text.strip()
        answer = extract_prose_answer(text) or (text.splitlines()[0].strip() if text else "")
    return {
        "messages": [*conversation[-1:], {"role": "assistant", "content": completion.text.strip()}],
        "final_answer": answer,
        "termination": "max_steps",
    }


def route_after_think(state: AgentState) -> Literal["act", "__end__"]:
    return "__end__" if state.get("termination") else "act"


def route_after_act(state: AgentState, config: RunnableConfig) -> Literal["think", "finalize", "__end__"]:
    agent, _ = _runtime(config)
    if state.get("termination"):
        return "__end__"  # END
    return "finalize" if len(state.get("steps", [])) >= agent.max_steps else "think"


def build_graph():
    """The agent's graph, compiled; runtime objects come in through `config["configurable"]`."""
    graph = StateGraph(AgentState)
    graph.add_node("think", think)
    graph.add_node("act", act)
    graph.add_node("finalize", finalize)
    graph.add_edge(START, "think")
    graph.add_conditional_edges("think", route_after_think, ["act", END])
    graph.add_conditional_edges("act", route_after_act, ["think", "finalize", END])
    graph.add_edge("finalize", END)
    return graph.compile()


def system_prompt(style: PromptStyle, tools: Sequence[Tool]) -> str:
    """The agent's system prompt, describing `tools`: `full` (few-shot), `plan` (few-shot, every quantity of the
    task named in code first), `exact` (few-shot, the task's expression copied into code as written), `nocopy`
    (few-shot, no number in the examples that another task could take as its answer) or `short` (distilled
    students)."""
    return render(_PROMPTS, f"system_{style}", tools=tools, tool_names=[t.name for t in tools], style=style)


def _user(content: str) -> ChatMessage:
    return {"role": "user", "content": content}


def _has_useful_observation(state: AgentState) -> bool:
    return any(s.code and not s.error for s in state.get("steps", []))


def _with_result(step: ActionStep, result: ExecutionResult) -> ActionStep:
    return step.model_copy(
        update={
            "observation": result.observation(),
            "error": result.error,
            "tool_calls": result.tool_calls,
            "is_final": result.is_final,
            "final_answer": result.final_answer,
            "execution_s": result.duration_s,
        }
    )


_GRAPH = None


class CodeAgent:
    """An agent that thinks in text and acts in Python, with tools callable from its code.

    >>> agent = CodeAgent("qwen2.5-coder-0.5b", tools=["retrieve"])   # doctest: +SKIP
    >>> agent.run("What is 1234 * 5678?").final_answer                   # doctest: +SKIP
    7006652
    """

    def __init__(
        self,
        model: AgentChatModel | str = DEFAULT_CHAT_MODEL,
        tools: Sequence[Tool | str] = (),
        *,
        max_steps: int = 6,
        prompt_style: PromptStyle = "full",
        max_new_tokens: int = 384,
        sandbox_limits: SandboxLimits | None = None,
        sag: int = 1,
        sampling: SamplingParams | None = None,
    ) -> None:
        """`sag` > 1 turns on self-consistent action generation with that many candidates per step.
        `sampling` (temperature, top_p, seed) applies to every model call of the agent, over the model's own
        defaults; SAG needs a temperature > 0 and samples at 0.7 where none is given."""
        if sag < 1:
            raise ConfigError("sag must be at least 1")
        sampling = sampling or SamplingParams()
        if sag > 1 and sampling.temperature == 0:
            raise ConfigError("self-consistent generation samples candidates: it needs temperature > 0")
        self.model = load_chat_model(model) if isinstance(model, str) else model
        self.tools = [resolve_tool(t) for t in tools if t != "python"]
        self.max_steps = max_steps
        self.prompt_style = prompt_style
        self.max_new_tokens = max_new_tokens
        self.sandbox_limits = sandbox_limits or SandboxLimits()
        self.sag = sag
        if sag > 1 and sampling.temperature is None:
            sampling = sampling.model_copy(update={"temperature": DEFAULT_SAG_TEMPERATURE})
        self.base_sampling = sampling

    @classmethod
    def materials(
        cls, model: AgentChatModel | str = DEFAULT_CHAT_MODEL, store: Any = None, **options: Any
    ) -> CodeAgent:
        """The materials agent: this agent with the materials tools over `store` (a `MaterialsStore`; default
        the embedded offline snapshot, or `MPStore()` for the live Materials Project) and the materials prompt.

        >>> CodeAgent.materials("qwen2.5-coder-1.5b").run("What is the band gap of GaAs?")  # doctest: +SKIP
        """
        from agentdistill.tools.materials.agent_tools import materials_tools

        return cls(model, tools=materials_tools(store), **options)

    @property
    def graph(self):
        global _GRAPH
        if _GRAPH is None:
            _GRAPH = build_graph()
        return _GRAPH

    def sampling(self, *call: object, **overrides: Any) -> SamplingParams:
        """The settings of one model call: the agent's `sampling`, its token budget and stop strings, `overrides`.
        A seeded agent's calls draw with the seed mixed with `call` (the question, the step): see `call_seed`."""
        chosen = self.base_sampling.for_call(*call).model_dump(exclude_none=True)
        return SamplingParams(**{"max_new_tokens": self.max_new_tokens, "stop": STOP_STRINGS, **chosen, **overrides})

    def system_prompt(self) -> str:
        return system_prompt(self.prompt_style, self.tools)

    def initial_messages(self, question: str) -> list[ChatMessage]:
        return [{"role": "system", "content": self.system_prompt()}, _user(render(_PROMPTS, "task", question=question))]

    def run(self, question: str, prefix: str | None = None) -> Trajectory:
        """Solve `question`; returns the whole trajectory. `prefix` seeds the first assistant turn."""
        trajectory = None
        for item in self.stream(question, prefix=prefix):
            trajectory = item
        assert isinstance(trajectory, Trajectory)
        return trajectory

    def stream(self, question: str, prefix: str | None = None) -> Iterator[ActionStep | Trajectory]:
        """Yield each `ActionStep` as it completes, then the finished `Trajectory`."""
        started, started_at = time.perf_counter(), datetime.now(UTC)
        state: AgentState = {
            "question": question,
            "messages": self.initial_messages(question),
            "steps": [],
            "prefix": prefix,
            "final_answer": None,
            "termination": None,
            "pending": None,
        }
        final: dict[str, Any] = dict(state)
        sandbox = (
            BranchingSandbox(self.tools, self.sandbox_limits)
            if self.sag > 1
            else PythonSandbox(tools=self.tools, limits=self.sandbox_limits)
        )
        config: RunnableConfig = {
            "configurable": {"agent": self, "sandbox": sandbox},
            "recursion_limit": 2 * self.max_steps + 5,
        }
        try:
            for mode, chunk in self.graph.stream(state, config, stream_mode=["updates", "values"]):
                if mode == "values":
                    final = chunk
                    continue
                for delta in chunk.values():
                    yield from (delta or {}).get("steps", [])
        finally:
            sandbox.close()
        yield Trajectory(
            question=question,
            model_id=self.model.model_id,
            prompt_style=self.prompt_style,
            steps=final["steps"],
            final_answer=final.get("final_answer"),
            termination=final.get("termination") or "error",
            messages=final["messages"],
            started_at=started_at,
            duration_s=time.perf_counter() - started,
            metadata={"prefix": prefix, "tools": [t.name for t in self.tools], "sandbox": sandbox.isolation},
        )
