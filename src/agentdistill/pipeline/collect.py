"""`collect`: run a teacher agent over a task suite and store scored trajectories, resumably.

Episodes run concurrently in threads; for a local model their model calls are coalesced into batched
`generate` calls (`BatchingChatModel`), for a server they are concurrent HTTP requests.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor, as_completed

from pydantic import BaseModel

from agentdistill.agents.closed_book import ClosedBookAgent
from agentdistill.agents.code_agent import CodeAgent
from agentdistill.agents.first_thought import chains_of_thought, cut_prefix
from agentdistill.distill.distill_config import student_build
from agentdistill.errors import OutputExistsError
from agentdistill.llm import AgentChatModel
from agentdistill.llm.batching import BatchingChatModel
from agentdistill.llm.precision import Precision
from agentdistill.pipeline.collect_config import CollectConfig
from agentdistill.tasks import Task, load_suite, score_task
from agentdistill.trajectories.filters import demonstration_key
from agentdistill.trajectories.record import PrefixInfo, TrajectoryRecord
from agentdistill.trajectories.store import TrajectoryStore


class CollectSummary(BaseModel):
    """What one `collect` run did."""

    done: int = 0
    skipped: int = 0
    stopped_early: int = 0
    correct: int = 0
    steps: int = 0
    completion_tokens: int = 0
    errors: int = 0
    seconds: float = 0.0

    def add(self, record: TrajectoryRecord, seconds: float) -> None:
        self.done += 1
        self.correct += record.correct
        self.steps += len(record.trajectory.steps)
        self.completion_tokens += record.trajectory.completion_tokens
        self.errors += record.execution_errors
        self.seconds = seconds

    @property
    def accuracy(self) -> float:
        return self.correct / self.done if self.done else 0.0

    @property
    def episodes_per_minute(self) -> float:
        return 60 * self.done / self.seconds if self.seconds else 0.0


def record_id(task: Task, sample: int) -> str:
    return f"{task.id}#{sample}"


def _prefix_info(prefix: str, cot: str, style: str, first_assistant: str) -> PrefixInfo:
    start = first_assistant.find(prefix.rstrip())
    span = (start, start + len(prefix.rstrip())) if start >= 0 else (0, 0)
    return PrefixInfo(text=prefix, style=style, chain_of_thought=cot, char_span=span)


def _used_sampling(model: AgentChatModel, agent: CodeAgent | ClosedBookAgent, max_steps: int) -> dict:
    """What the agent's model calls really ran with (its settings over the model's defaults), for the record."""
    used = model.resolve(agent.sampling())
    return {
        "temperature": used.temperature,
        "top_p": used.top_p,
        "seed": used.seed,
        "max_steps": max_steps,
        "max_new_tokens": used.max_new_tokens,
    }


def unstored_jobs(config: CollectConfig, done: set[str]) -> tuple[list[tuple[Task, int]], int]:
    """Every (task, sample) episode of `config` whose record id is not in `done`, and how many are."""
    tasks = load_suite(config.suite, config.split, config.n, config.seed)
    jobs = [(t, s) for t in tasks for s in range(config.samples)]
    todo = [(t, s) for t, s in jobs if record_id(t, s) not in done]
    return todo, len(jobs) - len(todo)


def correct_so_far(records: Iterable[TrajectoryRecord]) -> defaultdict[str, set]:
    """Task id -> the distinct correct demonstrations among `records` (a store, or records read from one)."""
    correct: defaultdict[str, set] = defaultdict(set)
    for record in records:
        if record.correct:
            correct[record.task_id].add(demonstration_key(record))
    return correct


def short_of_correct(config: CollectConfig, correct: defaultdict[str, set], task: Task) -> bool:
    """Whether best-of-k still samples `task`: it has fewer distinct correct trajectories than it needs."""
    enough = config.enough_for(task)
    return enough is None or len(correct[task.id]) < enough


def episodes_left(config: CollectConfig) -> int:
    """Episodes a run of `config` may still draw from what its store holds now; 0 once it is finished. (An
    upper bound while it runs: a task short of correct trajectories now may get them in an earlier round.)"""
    records = list(TrajectoryStore(config.out))  # read once: stores run to megabytes
    todo, _ = unstored_jobs(config, {r.id for r in records})
    correct = correct_so_far(records)
    return sum(short_of_correct(config, correct, task) for task, _ in todo)


class Collector:
    """Runs `config` with `model` (loaded from `config.teacher` if None)."""

    def __init__(self, config: CollectConfig, model: AgentChatModel | None = None) -> None:
        self.config = config
        self.store = TrajectoryStore(config.out)
        self.build = student_build(config.teacher)
        # an unknown suite, a corrupt or unwritable store, or --no-resume over records fail now, not after a
        # model load of half a minute
        self._jobs: tuple[list[tuple[Task, int]], int] | None = self.jobs()
        self.store.check_writable()
        self._owned = model is None  # a model it loads itself, it closes (an engine lease, a batching thread)
        base = model or config.load_model(config.teacher)
        self._base = base
        batched = base.capabilities.batched_generate and config.concurrency > 1
        self.model = (
            BatchingChatModel(inner=base, model_id=base.model_id, max_batch=config.concurrency) if batched else base
        )
        try:
            self._refuse_other_numerics(base.precision)
        except OutputExistsError:
            self.close()
            raise
        self._agents: dict[tuple[tuple[str, ...], str, int, bool], CodeAgent | ClosedBookAgent] = {}
        self._lock = threading.Lock()
        self._thoughts: dict[str, str] | None = None  # task id -> its greedy chain of thought (the prefix's source)

    def close(self) -> None:
        """Stop the batching thread and release the model if this collector loaded it."""
        if self.model is not self._base:
            self.model.close()
        if self._owned:
            self._base.close()

    def __enter__(self) -> Collector:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def agent_for(self, task: Task, sample: int = 0) -> CodeAgent | ClosedBookAgent:
        """The agent for `task`'s sample number `sample`: each sample draws with its own seed (seed + sample, which
        each call mixes with its question and step), or best-of-k would draw the same trajectory k times wherever
        the backend honours seeds; a greedy-first task's sample 0 is greedy."""
        tools = tuple(task.metadata.get("tools", []))
        style = self.config.prompt_for(task)
        greedy = sample == 0 and self.config.greedy_first_for(task)
        key = (tools, style, sample, greedy)
        with self._lock:
            if key not in self._agents:
                c = self.config
                sampling = c.sampling(c.sag)
                sampling = sampling.model_copy(update={"seed": (sampling.seed or 0) + sample})
                if greedy:
                    sampling = sampling.model_copy(update={"temperature": 0.0})
                self._agents[key] = (
                    ClosedBookAgent(self.model, reasoning=c.reasoning, sampling=sampling)
                    if c.closed_book
                    else CodeAgent(
                        self.model,
                        tools=list(tools),
                        max_steps=c.max_steps,
                        max_new_tokens=c.max_new_tokens,
                        prompt_style=style,
                        sag=c.sag,
                        sampling=sampling,
                    )
                )
            return self._agents[key]

    def jobs(self) -> tuple[list[tuple[Task, int]], int]:
        """The (task, sample) episodes not stored yet, and how many are; refuses a store with records unless
        resuming."""
        stored = list(self.store)
        if stored and not self.config.resume:
            raise OutputExistsError(
                f"{self.store.path} already holds {len(stored)} records; resume, or choose another --out"
            )
        if others := {record.model_build or "unrecorded" for record in stored} - {self.build or "unrecorded"}:
            raise OutputExistsError(
                f"{self.store.path} holds episodes of another build of {self.config.teacher} "
                f"({', '.join(sorted(others))}; now {self.build or 'unrecorded'}): continuing would mix two "
                "models in one run; move the file aside to run it afresh"
            )
        self._stored_numerics = {record.precision.numerics for record in stored if record.precision is not None}
        return unstored_jobs(self.config, {record.id for record in stored})

    def _refuse_other_numerics(self, precision: Precision | None) -> None:
        """A run continues only in the numerics it started in: a store the engine filled with Q8_0 and a machine
        without the engine continuing it in eager bf16 would be two models in one cell."""
        if precision is None:  # a server that does not say
            return
        if others := self._stored_numerics - {precision.numerics}:
            raise OutputExistsError(
                f"{self.store.path} holds episodes run in {', '.join(sorted(others))} (now {precision.numerics}): "
                "continuing would mix two precisions in one run; use the backend and dtype it started with "
                "(build the engine: agentdistill engine build), or move the file aside"
            )

    def episode(self, task: Task, sample: int) -> TrajectoryRecord:
        prefix = cot = None
        if self.config.prefix_for(task):
            cot = self.chain_of_thought(task)
            prefix = cut_prefix(cot, self.config.prefix_style)
        agent = self.agent_for(task, sample)
        trajectory = agent.run(task.question, prefix=prefix)
        score, correct = score_task(task, trajectory.final_answer)
        first = next((m["content"] for m in trajectory.messages if m["role"] == "assistant"), "")
        return TrajectoryRecord(
            id=record_id(task, sample),
            task_id=task.id,
            suite=task.suite,
            question=task.question,
            gold=task.answers,
            metric=task.metric,
            sample=sample,
            teacher=self.model.model_id,
            sampling=_used_sampling(self.model, agent, self.config.max_steps),
            precision=self.model.precision,
            model_build=self.build,
            used_prefix=prefix is not None,
            prefix=_prefix_info(prefix, cot or "", self.config.prefix_style, first) if prefix else None,
            trajectory=trajectory,
            score=score,
            correct=correct,
        )

    def chain_of_thought(self, task: Task) -> str:
        """The task's greedy chain of thought, generated once: every sample of a task starts from the same first
        thought (rounds go sample by sample, and a resumed run reads the stored ones back)."""
        with self._lock:
            if self._thoughts is None:
                self._thoughts = {r.task_id: r.prefix.chain_of_thought for r in self.store if r.prefix is not None}
            known = self._thoughts.get(task.id)
        if known is None:
            thought = chains_of_thought(self.model, [task.question])[0]
            with self._lock:
                known = self._thoughts.setdefault(task.id, thought)
        return known

    def run(
        self,
        on_record: Callable[[TrajectoryRecord, CollectSummary], None] | None = None,
        total: Callable[[int, int], None] | None = None,
    ) -> CollectSummary:
        """Run what is left, one sample round at a time: round s draws sample s of every task still short of
        its distinct correct trajectories enough (`CollectConfig.enough_for`; all of them without a limit)."""
        # the store was read in __init__ (before the model loaded); a second run reads it again
        todo, skipped = self._jobs or self.jobs()
        self._jobs = None
        summary = CollectSummary(skipped=skipped)
        if total:
            total(len(todo), skipped)
        started = time.perf_counter()
        correct = correct_so_far(self.store)
        pool = ThreadPoolExecutor(max_workers=self.config.concurrency)
        try:
            for sample in sorted({s for _, s in todo}):
                needed = [task for task, s in todo if s == sample and short_of_correct(self.config, correct, task)]
                summary.stopped_early += sum(s == sample for _, s in todo) - len(needed)
                futures = [pool.submit(self.episode, task, sample) for task in needed]
                for future in as_completed(futures):
                    record = future.result()
                    with self._lock:
                        self.store.append(record)
                        if record.correct:
                            correct[record.task_id].add(demonstration_key(record))
                        summary.add(record, time.perf_counter() - started)
                    if on_record:
                        on_record(record, summary)
        finally:
            # on Ctrl-C: drop what has not started; what was written stays, and --resume skips it
            pool.shutdown(wait=False, cancel_futures=True)
        summary.seconds = time.perf_counter() - started
        return summary


def collect(config: CollectConfig, model: AgentChatModel | None = None) -> CollectSummary:
    """Collect trajectories as `config` says; returns the summary (records are in `config.out`)."""
    with Collector(config, model) as collector:
        return collector.run()
