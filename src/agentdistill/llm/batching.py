"""`BatchingChatModel`: many threads call `complete`, the wrapped model sees one batched call.

Episodes run in threads (one LangGraph run each); whenever several of them wait for the model at the
same time, their prompts go into a single `complete_batch` (one `generate` for a local model). This is
what lets a local teacher step many episodes in lockstep without the agent code knowing.
"""

from __future__ import annotations

import queue
import threading
from concurrent.futures import Future
from typing import Any

from pydantic import Field, PrivateAttr

from agentdistill.llm.base import (
    AgentChatModel,
    Capabilities,
    ChatMessage,
    Completion,
    SamplingParams,
)

_STOP = object()  # queued by close(): the worker ends once everything before it is served


class BatchingChatModel(AgentChatModel):
    """Coalesces concurrent calls with equal sampling settings into batches of at most `max_batch` prompts."""

    inner: AgentChatModel
    max_batch: int = 8
    wait_s: float = 0.05  # how long the first caller waits for company before the batch goes
    _queue: Any = PrivateAttr(default=None)
    _worker: Any = PrivateAttr(default=None)
    batch_sizes: list[int] = Field(default_factory=list)

    def model_post_init(self, context: Any) -> None:
        self.precision = self.precision or self.inner.precision
        self._queue = queue.Queue()
        self._worker = threading.Thread(target=self._serve, daemon=True, name="batching-chat-model")
        self._worker.start()

    @property
    def capabilities(self) -> Capabilities:
        return self.inner.capabilities.model_copy(update={"batched_generate": False, "parallel_requests": True})

    def complete_batch(
        self, conversations: list[list[ChatMessage]], params: SamplingParams | None = None
    ) -> list[list[Completion]]:
        if not self._worker.is_alive():
            raise RuntimeError("this BatchingChatModel is closed")
        future: Future = Future()
        self._queue.put((conversations, self.inner.resolve(params), future))
        return future.result()

    def close(self) -> None:
        """Stop the batching thread once the calls already queued are answered (the inner model stays open:
        whoever made it closes it)."""
        if self._worker.is_alive():
            self._queue.put(_STOP)
            self._worker.join()

    def _serve(self) -> None:
        pending: list = []
        while True:
            first = pending.pop(0) if pending else self._queue.get()
            if first is _STOP:
                return
            batch, size = [first], len(first[0])
            key = first[1].model_dump_json()
            while size < self.max_batch:
                try:
                    item = self._queue.get(timeout=self.wait_s)
                except queue.Empty:
                    break
                if item is _STOP:
                    pending.append(item)  # stop after this batch and those already waiting
                    break
                if item[1].model_dump_json() == key and size + len(item[0]) <= self.max_batch:
                    batch.append(item)
                    size += len(item[0])
                else:
                    pending.append(item)  # other settings: served by a later batch
            self._run(batch)

    def _run(self, batch: list) -> None:
        conversations = [c for item in batch for c in item[0]]
        self.batch_sizes.append(len(conversations))
        try:
            results = self.inner.complete_batch(conversations, batch[0][1])
        except Exception as error:
            for _, _, future in batch:
                future.set_exception(error)
            return
        start = 0
        for convs, _, future in batch:
            future.set_result(results[start : start + len(convs)])
            start += len(convs)
