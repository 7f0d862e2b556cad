"""Simulated sessions: the evaluation of a parser/planner pair (`eval --suite recbot`) and the collection of a
teacher's parser/planner outputs as training data (`collect --suite recbot`), on the same sessions.

A session: a simulated user with a hidden target and a history; up to `max_turns` commands; after each the
feed is judged (Recall@10, NDCG@10). Sessions are numbered and seeded, so every model sees the same ones;
the train sessions (for collection) and the test sessions (for evaluation) never overlap.
"""

from __future__ import annotations

import json
import random
import statistics
from collections.abc import Callable
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path

from pydantic import BaseModel, Field

from agentdistill.llm import AgentChatModel, load_chat_model
from agentdistill.llm import parse_backend
from agentdistill.llm.precision import Precision, describe_precisions, parse_dtype
from agentdistill.recsys.agents import ParserAgent, PlannerAgent
from agentdistill.recsys.catalog import open_catalog
from agentdistill.recsys.session import FeedServices, FeedSession
from agentdistill.recsys.simulator import SimulatedUser, Target, draw_target
from agentdistill.trajectories.record import TrajectoryRecord
from agentdistill.trajectories.schema import Trajectory
from agentdistill.trajectories.store import TrajectoryStore

_TRAIN_OFFSET = 100_000  # train sessions are numbered from here; test sessions from 0


@dataclass
class RecbotConfig:
    """Settings of `eval --suite recbot` / `collect --suite recbot` (see their --help)."""

    catalog: str = "default"
    parser_model: str = "qwen2.5-coder-0.5b"
    planner_model: str | None = None  # None: the parser's model plans too
    sessions: int = 20
    max_turns: int = 5
    split: str = "test"
    seed: int = 0
    paraphrase_model: str | None = None  # None: template commands
    out: str = "runs/recbot-eval"
    label: str | None = None
    resume: bool = True
    dtype: str = "auto"  # precision of local models: auto, fp32, bf16, fp16 (resolved by llm.precision)
    backend: str = "auto"  # auto, engine or transformers (see llm.load_chat_model)

    def __post_init__(self) -> None:
        if self.split not in ("train", "test"):
            raise ValueError("recbot sessions have a train and a test split")
        if self.sessions < 1 or self.max_turns < 1:
            raise ValueError("sessions and max_turns must be at least 1")
        self.dtype = parse_dtype(self.dtype)
        self.backend = parse_backend(self.backend)

    def to_dict(self) -> dict:
        return asdict(self)


class TurnLog(BaseModel):
    command: str
    recall: float
    ndcg: float
    passed: bool
    error: str | None = None
    planner_fallback: bool = False
    plan: list[str] = Field(default_factory=list)
    seconds: float


class SessionLog(BaseModel):
    """One simulated session, as `sessions.jsonl` stores it."""

    id: str
    target: Target
    targets: int
    turns: list[TurnLog]
    passed: bool
    turns_used: int | None
    recall: float
    ndcg: float
    precision: Precision | None = None  # the parser model's; None: a server's own choice


class RecbotSummary(BaseModel):
    label: str
    catalog: str
    sessions: int
    recall_at_10: float
    ndcg_at_10: float
    pass_rate: float
    mean_turns_to_pass: float | None
    p50_seconds_per_command: float
    p90_seconds_per_command: float
    parse_error_rate: float
    planner_fallback_rate: float
    precision: str = "-"
    config: dict

    def row(self) -> list[str]:
        return [self.label, self.catalog, str(self.sessions), f"{self.recall_at_10:.3f}", f"{self.ndcg_at_10:.3f}",
                f"{self.pass_rate:.1%}", "-" if self.mean_turns_to_pass is None else f"{self.mean_turns_to_pass:.2f}",
                f"{self.p50_seconds_per_command:.1f}", f"{self.parse_error_rate:.1%}", self.precision]


RECBOT_COLUMNS = ["run", "catalogue", "sessions", "Recall@10", "NDCG@10", "pass rate", "turns to pass",
                  "p50 s/command", "parse errors", "precision"]


def session_number(index: int, split: str) -> int:
    return index + (_TRAIN_OFFSET if split == "train" else 0)


class SessionRunner:
    """Runs numbered simulated sessions with one parser/planner pair over one catalogue."""

    def __init__(self, config: RecbotConfig, parser_model: AgentChatModel | None = None,
                 planner_model: AgentChatModel | None = None, paraphraser: AgentChatModel | None = None) -> None:
        self.config = config
        self.catalog = open_catalog(config.catalog)
        self.services = FeedServices(self.catalog)
        load = partial(load_chat_model, dtype=config.dtype, backend=config.backend)
        parser_model = parser_model or load(config.parser_model)
        planner_model = planner_model or (load(config.planner_model) if config.planner_model else parser_model)
        self.parser = ParserAgent(parser_model, self.catalog)
        self.planner = PlannerAgent(planner_model)
        self.paraphraser = paraphraser or (load(config.paraphrase_model) if config.paraphrase_model else None)
        matrix_users = max((u for u, _ in self.catalog.interactions), default=-1) + 1
        self._histories = [[] for _ in range(matrix_users)]
        for user, item in self.catalog.interactions:
            self._histories[user].append(item)

    def run(self, number: int) -> tuple[SessionLog, FeedSession]:
        r = random.Random(self.config.seed * 1_000_003 + number)
        target = draw_target(self.catalog, r)
        history = r.choice(self._histories)[:20] if self._histories else []
        user = SimulatedUser(self.catalog, target, r, self.paraphraser)
        session = FeedSession(self.services, self.parser, self.planner, history=history)
        turns, turns_used = [], None
        for turn in range(self.config.max_turns):
            result = session.command(user.next_command())
            judged = user.judge(session.feed_state.top())
            turns.append(TurnLog(command=result.command, recall=judged.recall, ndcg=judged.ndcg, passed=judged.passed,
                                 error=result.error, planner_fallback=result.planner_fallback,
                                 plan=[c.tool for c in result.plan], seconds=sum(result.seconds.values())))
            if judged.passed:
                turns_used = turn + 1
                break
        last = turns[-1]
        return SessionLog(id=f"{self.catalog.name}-{number:06d}", target=target, targets=len(user.targets), turns=turns,
                          passed=turns_used is not None, turns_used=turns_used, recall=last.recall,
                          ndcg=last.ndcg, precision=self.parser.model.precision), session


def evaluate_recbot(config: RecbotConfig, parser_model: AgentChatModel | None = None,
                    planner_model: AgentChatModel | None = None,
                    on_session: Callable[[SessionLog], None] | None = None) -> RecbotSummary:
    """Run (or resume) the sessions; writes `out/sessions.jsonl` and `out/summary.json`."""
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "sessions.jsonl"
    logs = _read_logs(path) if config.resume else {}
    runner = None
    with path.open("a" if config.resume else "w", encoding="utf-8") as handle:
        for index in range(config.sessions):
            number = session_number(index, config.split)
            key = f"{config.catalog}:{number}"
            if key in logs:
                continue
            runner = runner or SessionRunner(config, parser_model, planner_model)
            log, _ = runner.run(number)
            logs[key] = log
            handle.write(json.dumps({"key": key, **log.model_dump(mode="json")}) + "\n")
            handle.flush()
            if on_session:
                on_session(log)
    wanted = [logs[f"{config.catalog}:{session_number(i, config.split)}"] for i in range(config.sessions)]
    summary = summarize_sessions(wanted, config)
    (out / "summary.json").write_text(summary.model_dump_json(indent=2), encoding="utf-8")
    return summary


def _read_logs(path: Path) -> dict[str, SessionLog]:
    if not path.is_file():
        return {}
    logs = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            row = json.loads(line)
            logs[row.pop("key")] = SessionLog.model_validate(row)
        except (ValueError, KeyError):
            continue  # a line cut by a kill: that session runs again
    return logs


def summarize_sessions(logs: list[SessionLog], config: RecbotConfig) -> RecbotSummary:
    n = len(logs) or 1
    seconds = sorted(t.seconds for log in logs for t in log.turns) or [0.0]
    turns = [t for log in logs for t in log.turns]
    passed = [log.turns_used for log in logs if log.turns_used]
    return RecbotSummary(
        label=config.label or Path(config.parser_model.removeprefix("hf:")).name or config.parser_model,
        catalog=config.catalog.split(":")[0], sessions=len(logs),
        recall_at_10=sum(log.recall for log in logs) / n, ndcg_at_10=sum(log.ndcg for log in logs) / n,
        pass_rate=len(passed) / n, mean_turns_to_pass=statistics.mean(passed) if passed else None,
        p50_seconds_per_command=statistics.median(seconds),
        p90_seconds_per_command=seconds[min(len(seconds) - 1, int(0.9 * len(seconds)))],
        parse_error_rate=sum(t.error is not None for t in turns) / (len(turns) or 1),
        planner_fallback_rate=sum(t.planner_fallback for t in turns) / (len(turns) or 1),
        precision=describe_precisions(log.precision for log in logs), config=config.to_dict())


def collect_recbot(config: RecbotConfig, teacher: AgentChatModel | None = None,
                   on_session: Callable[[SessionLog], None] | None = None) -> int:
    """Teacher parser/planner conversations on simulated train sessions, appended to `config.out` (a trajectory
    store, JSONL). A turn's records are `correct` when its session passed. Returns the number of new sessions."""
    store = TrajectoryStore(config.out)
    done = store.ids()
    runner, added = None, 0
    for index in range(config.sessions):
        number = session_number(index, config.split)
        if f"recbot-{config.catalog}-{number}-t1-parser#0" in done:
            continue
        runner = runner or SessionRunner(config, teacher, teacher)
        log, session = runner.run(number)
        for turn_index, turn in enumerate(session.turns, 1):
            for role, messages in (("parser", turn.parser_messages), ("planner", turn.planner_messages)):
                if not messages:
                    continue
                clean = messages[:2] + messages[-1:]  # a repaired reply trains as if it came out right first time
                task_id = f"recbot-{config.catalog}-{number}-t{turn_index}-{role}"
                store.append(TrajectoryRecord(
                    id=f"{task_id}#0", task_id=task_id, suite="recbot", question=turn.command,
                    gold=[json.dumps(log.target.model_dump(mode="json"))], metric="recall@10",
                    teacher=runner.parser.model.model_id, precision=runner.parser.model.precision,
                    trajectory=Trajectory(
                        question=turn.command, model_id=runner.parser.model.model_id, final_answer=clean[-1]["content"],
                        termination="final_answer", messages=clean, metadata={"agent": f"recbot-{role}", "tools": []}),
                    score=log.recall, correct=log.passed))
        added += 1
        if on_session:
            on_session(log)
    return added
