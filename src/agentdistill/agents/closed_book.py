"""`ClosedBookAgent`: the no-tools baseline. The model answers from memory in one reply; comparing it with the
tool-using agent on the same tasks measures what retrieval buys (LLaMP's closed-book vs agent comparison).
With `reasoning=True` the reply first reasons step by step (chain of thought): the teacher's such replies are
the training data of the paper's CoT-distilled baseline."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from agentdistill.agents.memory import ActionStep, Trajectory
from agentdistill.agents.parsing import extract_prose_answer
from agentdistill.agents.prompts import render
from agentdistill.llm import (
    AgentChatModel,
    ChatMessage,
    SamplingParams,
    load_chat_model,
)

_PROMPTS = "closed_book"
# the `agent` a closed-book trajectory's metadata names: with a chain of thought, and answering at once
CHAIN_OF_THOUGHT, CLOSED_BOOK = "chain-of-thought", "closed-book"
CLOSED_BOOK_AGENTS = (CHAIN_OF_THOUGHT, CLOSED_BOOK)


class ClosedBookAgent:
    """Answers in one model call, with no tools; same `run` interface and `Trajectory` as `CodeAgent`.

    >>> ClosedBookAgent("qwen2.5-coder-0.5b").run("What is the band gap of GaN in eV?").final_answer  # doctest: +SKIP
    """

    def __init__(
        self,
        model: AgentChatModel | str,
        *,
        reasoning: bool = False,
        max_new_tokens: int | None = None,
        sampling: SamplingParams | None = None,
    ) -> None:
        self.model = load_chat_model(model) if isinstance(model, str) else model
        self.reasoning = reasoning
        self.max_new_tokens = max_new_tokens or (384 if reasoning else 48)
        self.base_sampling = sampling or SamplingParams()

    def sampling(self, *call: object) -> SamplingParams:
        """The settings of its one model call: the agent's `sampling` and its token budget; a seeded agent's
        seed is mixed with `call` (the question), so that tasks do not share their random draws (`call_seed`)."""
        chosen = self.base_sampling.for_call(*call).model_dump(exclude_none=True)
        return SamplingParams(**{"max_new_tokens": self.max_new_tokens, **chosen})

    def initial_messages(self, question: str) -> list[ChatMessage]:
        return [
            {"role": "system", "content": render(_PROMPTS, "system_cot" if self.reasoning else "system")},
            {"role": "user", "content": render(_PROMPTS, "task", question=question)},
        ]

    def run(self, question: str, prefix: str | None = None) -> Trajectory:
        """Ask once; the answer is the reply's stated answer, else its first line. `prefix` is not used."""
        started, started_at = time.perf_counter(), datetime.now(UTC)
        messages = self.initial_messages(question)
        completion = self.model.complete(messages, self.sampling(question))[0]
        text = completion.text.strip()
        answer = extract_prose_answer(text) or (text.splitlines()[0].strip().rstrip(".") if text else "")
        step = ActionStep(
            index=1,
            model_output=text,
            is_final=True,
            final_answer=answer,
            prompt_tokens=completion.prompt_tokens,
            completion_tokens=completion.completion_tokens,
            model_latency_s=time.perf_counter() - started,
        )
        return Trajectory(
            question=question,
            model_id=self.model.model_id,
            steps=[step],
            final_answer=answer,
            termination="final_answer" if text else "error",
            messages=[*messages, {"role": "assistant", "content": text}],
            started_at=started_at,
            duration_s=time.perf_counter() - started,
            metadata={"agent": CHAIN_OF_THOUGHT if self.reasoning else CLOSED_BOOK, "tools": []},
        )
