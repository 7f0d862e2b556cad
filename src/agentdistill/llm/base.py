"""The one chat-model interface every backend implements.

`AgentChatModel` is a LangChain `BaseChatModel`, so it plugs into LangGraph/LangChain as is, and adds
what agents and distillation need on top: several samples per call, batched prompts, token usage,
mean log-probabilities, and continuing a partial assistant message (first-thought prefixes).
"""

from __future__ import annotations

import hashlib
import threading
from abc import abstractmethod
from typing import Any, Literal

from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from pydantic import BaseModel, Field

from agentdistill.errors import AgentDistillError
from agentdistill.llm.precision import Precision

ChatMessage = dict[str, str]  # {"role": "system"|"user"|"assistant"|"tool", "content": "..."}

_ROLE_OF_TYPE = {"system": "system", "human": "user", "ai": "assistant", "tool": "tool"}


class Completion(BaseModel):
    """One sampled continuation of one conversation."""

    text: str = Field(description="Generated text; with a partial assistant message, only the continuation.")
    finish_reason: Literal["stop", "length"] = "stop"
    prompt_tokens: int = 0
    completion_tokens: int = 0
    mean_logprob: float | None = Field(
        default=None,
        description="Mean log-probability of the generated tokens; "
        "None where the backend returned none (never a made-up tie).",
    )
    cached_tokens: int | None = Field(
        default=None,
        description="Prompt tokens served from the backend's prompt "
        "cache instead of being prefilled again; None where it does not say.",
    )
    prefill_ms: float | None = Field(
        default=None, description="Time the server spent on the prompt (llama.cpp reports it); None where unknown."
    )
    decode_ms: float | None = Field(default=None, description="Time the server spent generating; None where unknown.")


class SamplingParams(BaseModel):
    """Per-call generation settings; any field left None falls back to the model's defaults."""

    n: int | None = Field(default=None, ge=1)
    max_new_tokens: int | None = Field(default=None, ge=1)
    temperature: float | None = Field(default=None, ge=0.0)
    top_p: float | None = Field(default=None, gt=0.0, le=1.0)
    seed: int | None = None
    stop: list[str] | None = None
    json_schema: dict[str, Any] | None = Field(
        default=None,
        description="Constrain the output to JSON valid under this schema (backends with `capabilities.json_schema`).",
    )

    def for_call(self, *keys: object) -> SamplingParams:
        """These settings for one call, its seed mixed with `keys` (its question, step): see `call_seed`."""
        if not keys or self.seed is None:
            return self
        return self.model_copy(update={"seed": call_seed(self.seed, *keys)})


def call_seed(seed: int | None, *keys: object) -> int | None:
    """The seed of one model call, mixed from a run's `seed` and what sets the call apart (its question, step).

    A backend that honours seeds draws the same random numbers for every call with the same seed: with one seed
    per run, every task of a best-of-k round (and every step of an episode) would be pushed the same way, and
    one lucky seed would lift a whole round. None stays None (the backend draws its own)."""
    if seed is None:
        return None
    digest = hashlib.blake2b(repr((seed, *keys)).encode(), digest_size=4).digest()
    return int.from_bytes(digest, "big") & 0x7FFFFFFF


class Capabilities(BaseModel):
    """What a backend can do; callers ask this instead of testing a backend's class."""

    batched_generate: bool = Field(
        default=False,
        description="Prompts of concurrent callers are best coalesced "
        "into one batched call (`BatchingChatModel`): an in-process model.",
    )
    parallel_requests: bool = Field(
        default=False,
        description="Concurrent calls are served in parallel as they "
        "come (a server with parallel slots or continuous batching).",
    )
    json_schema: bool = Field(default=False, description="`SamplingParams.json_schema` is enforced while decoding.")
    prefix_cache: bool = Field(
        default=False,
        description="A prompt sharing a prefix with an earlier one is only "
        "prefilled from where they differ, across calls.",
    )
    logprobs: bool = Field(default=False, description="`Completion.mean_logprob` is filled.")


class GenerationStopped(AgentDistillError, RuntimeError):
    """The process is stopping (`stop_generation`): no generation runs to its end any more."""


_STOPPING = threading.Event()


def stop_generation() -> None:
    """End every generation in this process, running or to come, at its next token with `GenerationStopped`.

    For a process that is stopping (Ctrl-C, SIGTERM): a signal interrupts only the main thread, and Python
    waits at exit for the threads that run episodes, each inside a generation that can take minutes on a CPU.
    """
    _STOPPING.set()


def resume_generation() -> None:
    """Undo `stop_generation` (a process that handled the interruption and goes on)."""
    _STOPPING.clear()


def raise_if_stopping() -> None:
    """Raise `GenerationStopped` once `stop_generation` was called; backends call it before and during work."""
    if _STOPPING.is_set():
        raise GenerationStopped("generation stopped: the process is stopping")


class ContextOverflow(AgentDistillError, ValueError):
    """The conversation does not fit the model's context window; every backend raises this one error for it, so an
    agent can end the episode (`termination="context_overflow"`) instead of the run."""


class UnsupportedRequest(AgentDistillError, ValueError):
    """A request for something the backend cannot do (rather than silently doing something else)."""


def to_chat_messages(messages: list[BaseMessage] | list[ChatMessage]) -> list[ChatMessage]:
    """LangChain messages (or plain role/content dicts) -> plain role/content dicts."""
    out: list[ChatMessage] = []
    for message in messages:
        if isinstance(message, dict):
            out.append({"role": message["role"], "content": message["content"]})
            continue
        role = _ROLE_OF_TYPE.get(message.type)
        if role is None:
            raise ValueError(f"unsupported message type {message.type!r}")
        out.append({"role": role, "content": message.text if hasattr(message, "text") else str(message.content)})
    return out


def continues_assistant(conversation: list[ChatMessage]) -> bool:
    """A conversation whose last message is from the assistant asks the model to continue that message."""
    return bool(conversation) and conversation[-1]["role"] == "assistant"


def truncate_at_stop(text: str, stop: list[str]) -> tuple[str, bool]:
    """Cut `text` at the earliest stop string (the stop string itself is dropped, as OpenAI servers do)."""
    cut = min((i for s in stop if s and (i := text.find(s)) >= 0), default=-1)
    return (text[:cut], True) if cut >= 0 else (text, False)


class AgentChatModel(BaseChatModel):
    """Base class of all backends: implement `complete_batch`, get LangChain's `invoke`/`batch` for free."""

    model_id: str = Field(description="What this model is, for trajectories and reports.")
    max_new_tokens: int = Field(default=256, ge=1)
    temperature: float = Field(default=0.0, ge=0.0, description="0 means greedy decoding.")
    top_p: float = Field(default=1.0, gt=0.0, le=1.0)
    seed: int | None = None
    n: int = Field(default=1, ge=1, description="Samples per call.")
    precision: Precision | None = Field(
        default=None,
        description="The dtype it computes in and why; None where "
        "a server decides (recorded with every trajectory and evaluation).",
    )

    def resolve(self, params: SamplingParams | None) -> SamplingParams:
        """Fill every unset field of `params` from this model's defaults."""
        params = params or SamplingParams()
        return SamplingParams(
            n=params.n or self.n,
            max_new_tokens=params.max_new_tokens or self.max_new_tokens,
            temperature=self.temperature if params.temperature is None else params.temperature,
            top_p=params.top_p or self.top_p,
            seed=self.seed if params.seed is None else params.seed,
            stop=list(params.stop or []),
            json_schema=params.json_schema,
        )

    @property
    def capabilities(self) -> Capabilities:
        """What this backend can do (see `Capabilities`); backends override it."""
        return Capabilities()

    @abstractmethod
    def complete_batch(
        self, conversations: list[list[ChatMessage]], params: SamplingParams | None = None
    ) -> list[list[Completion]]:
        """Generate `params.n` completions for each conversation, batched where the backend can."""

    def close(self) -> None:
        """Release what the model holds outside this process (an engine server); a no-op for most backends."""

    def complete(self, conversation: list[ChatMessage], params: SamplingParams | None = None) -> list[Completion]:
        """`complete_batch` for a single conversation."""
        return self.complete_batch([conversation], params)[0]

    # -- LangChain plumbing -------------------------------------------------------------------------
    @property
    def _llm_type(self) -> str:
        return type(self).__name__

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"model_id": self.model_id, "temperature": self.temperature, "top_p": self.top_p}

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: Any = None,
        **kwargs: Any,
    ) -> ChatResult:
        fields = set(SamplingParams.model_fields)
        params = SamplingParams(stop=stop, **{k: v for k, v in kwargs.items() if k in fields})
        completions = self.complete(to_chat_messages(messages), params)
        generations = [
            ChatGeneration(
                message=AIMessage(
                    content=c.text,
                    usage_metadata={
                        "input_tokens": c.prompt_tokens,
                        "output_tokens": c.completion_tokens,
                        "total_tokens": c.prompt_tokens + c.completion_tokens,
                    },
                    response_metadata={"finish_reason": c.finish_reason, "model_id": self.model_id},
                ),
                generation_info={"finish_reason": c.finish_reason, "mean_logprob": c.mean_logprob},
            )
            for c in completions
        ]
        return ChatResult(generations=generations, llm_output={"model_id": self.model_id})
