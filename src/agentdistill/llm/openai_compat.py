"""Any OpenAI-compatible chat server: `vllm serve` (the production teacher), llama.cpp, Ollama, OpenAI."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from pydantic import Field, PrivateAttr

from agentdistill.llm.base import (
    AgentChatModel,
    Capabilities,
    ChatMessage,
    Completion,
    ContextOverflow,
    SamplingParams,
    continues_assistant,
    raise_if_stopping,
)

# how servers say that a prompt does not fit: llama.cpp's error type and message, OpenAI's code, vLLM's message
_CONTEXT_OVERFLOW = (
    "exceed_context_size_error",
    "exceeds the available context size",
    "context_length_exceeded",
    "maximum context length",
)


def _as_context_overflow(error: Any, where: str) -> ContextOverflow | None:
    """`error` (the client's `BadRequestError`) as `ContextOverflow` when the server says the prompt does not fit;
    its text holds the whole error body (type, code and message)."""
    if not any(marker in str(error) for marker in _CONTEXT_OVERFLOW):
        return None
    said = error.body.get("message") if isinstance(error.body, dict) else None
    return ContextOverflow(f"{where}: {said or error}")


class OpenAIChatModel(AgentChatModel):
    """Chat completions over HTTP; `n` samples come from the server in one request.

    A trailing assistant message is continued through vLLM's `continue_final_message` /
    `add_generation_prompt` extensions (servers without them start a fresh message instead). What a server
    does not honour is never passed off as done: fewer choices than `n` are filled with further requests,
    a continuation that echoes the prefilled text has it stripped, and missing log-probabilities stay None.
    `sampling_defaults` are sent with every request (for servers whose own defaults differ, e.g. llama.cpp's
    repeat penalty), so greedy runs agree across backends.
    """

    model: str
    base_url: str | None = None
    api_key: str | None = None
    timeout_s: float = 120.0
    logprobs: bool = True
    max_concurrency: int = 8
    sampling_defaults: dict[str, Any] = Field(default_factory=dict)
    _client: Any = PrivateAttr(default=None)

    def model_post_init(self, context: Any) -> None:
        from openai import OpenAI

        key = self.api_key or os.environ.get("OPENAI_API_KEY") or "EMPTY"  # local servers ignore the key
        self._client = OpenAI(base_url=self.base_url, api_key=key, timeout=self.timeout_s, max_retries=1)

    @property
    def capabilities(self) -> Capabilities:
        # what the OpenAI API promises; what a given server actually does is checked on every answer
        return Capabilities(parallel_requests=True, json_schema=True, logprobs=self.logprobs)

    def _request(self, conversation: list[ChatMessage], p: SamplingParams) -> list[Completion]:
        raise_if_stopping()  # a request in flight ends with the server's answer (seconds); none starts after
        want = p.n or 1
        completions = self._choices(conversation, p, want)
        while len(completions) < want:  # a server that ignores `n`: ask again, one sample at a time
            seed = None if p.seed is None else p.seed + len(completions)
            more = self._choices(conversation, p.model_copy(update={"seed": seed}), 1)
            if not more:
                raise RuntimeError(f"{self.base_url} answered with no choice at all")
            completions += more
        return completions[:want]

    def _choices(self, conversation: list[ChatMessage], p: SamplingParams, n: int) -> list[Completion]:
        from openai import BadRequestError  # imported with the client already (model_post_init), so free here

        extra: dict[str, Any] = dict(self.sampling_defaults)
        prefix = conversation[-1]["content"] if continues_assistant(conversation) else ""
        if prefix:
            extra.update(continue_final_message=True, add_generation_prompt=False)
        schema = (
            {
                "response_format": {
                    "type": "json_schema",
                    "json_schema": {"name": "output", "strict": True, "schema": p.json_schema},
                }
            }
            if p.json_schema is not None
            else {}
        )
        try:
            response = self._client.chat.completions.create(
                model=self.model,
                messages=conversation,
                n=n,
                max_tokens=p.max_new_tokens,
                temperature=p.temperature,
                top_p=p.top_p,
                seed=p.seed,
                stop=p.stop or None,
                logprobs=self.logprobs or None,
                extra_body=extra or None,
                **schema,
            )
        except BadRequestError as error:
            if overflow := _as_context_overflow(error, self.model):
                raise overflow from None
            raise
        usage = response.usage
        prompt_tokens = usage.prompt_tokens if usage else 0
        details = getattr(usage, "prompt_tokens_details", None)
        cached = getattr(details, "cached_tokens", None)
        timings = (response.model_extra or {}).get("timings") or {}  # llama.cpp's server adds these
        completions = []
        for choice in response.choices:
            tokens = [t.logprob for t in (choice.logprobs.content or [])] if choice.logprobs else []
            text = choice.message.content or ""
            if prefix and text.startswith(prefix):
                text = text[len(prefix) :]  # llama.cpp returns the prefilled text with its continuation
            completions.append(
                Completion(
                    text=text,
                    finish_reason="length" if choice.finish_reason == "length" else "stop",
                    prompt_tokens=prompt_tokens,
                    completion_tokens=len(tokens)
                    or (usage.completion_tokens // max(len(response.choices), 1) if usage else 0),
                    mean_logprob=sum(tokens) / len(tokens) if tokens else None,
                    cached_tokens=cached if cached is not None else timings.get("cache_n"),
                    prefill_ms=timings.get("prompt_ms"),
                    decode_ms=timings.get("predicted_ms"),
                )
            )
        return completions

    def complete_batch(
        self, conversations: list[list[ChatMessage]], params: SamplingParams | None = None
    ) -> list[list[Completion]]:
        p = self.resolve(params)
        with ThreadPoolExecutor(max_workers=min(self.max_concurrency, max(len(conversations), 1))) as pool:
            return list(pool.map(lambda c: self._request(c, p), conversations))
