"""Simulated sessions: the evaluation of a parser/planner pair (`recbot eval`) and the collection of a
teacher's parser/planner outputs as training data (`recbot collect`), on the same sessions.

A session: a simulated user with a hidden target and a history; up to `max_turns` commands; after each the
feed is judged (Recall@10, NDCG@10). Sessions are numbered and seeded, so every model sees the same ones;
the train sessions (for collection) and the test sessions (for evaluation) never overlap.
"""

from __future__ import annotations

import json
import random
import statistics
from collections.abc import Callable
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

from agentdistill.agents.memory import Trajectory
from agentdistill.config import (
    DEFAULT_STUDENT,
    DEFAULT_TEACHER,
    CommandConfig,
    ModelSettings,
    ModelSpec,
    cli,
)
from agentdistill.distill.distill_config import is_student
from agentdistill.errors import OutputExistsError
from agentdistill.llm import AgentChatModel
from agentdistill.llm.precision import Precision, describe_precisions
from agentdistill.pipeline.stats import bootstrap_interval
from agentdistill.recsys.agents import ParserAgent, PlannerAgent
from agentdistill.recsys.catalog import Catalog, open_catalog
from agentdistill.recsys.session import FeedServices, FeedSession
from agentdistill.recsys.simulator import SimulatedUser, Target, draw_target
from agentdistill.trajectories.record import TrajectoryRecord
from agentdistill.trajectories.store import TrajectoryStore

_TRAIN_OFFSET = 100_000  # train sessions are numbered from here; test sessions from 0


class FeedAgentSettings(ModelSettings):
    """The feed's catalogue and parser/planner pair, as `recbot eval`, `recbot collect` and `serve` set them."""

    catalog: str = Field(
        "default", description="default (the embedded fashion catalogue), movielens:PATH, csv:PATH or jsonl:PATH."
    )
    parser_model: ModelSpec = Field(
        DEFAULT_STUDENT, description="Model of the parser agent.", json_schema_extra=cli("-m")
    )
    planner_model: ModelSpec | None = Field(None, description="Model of the planner agent (default: the parser's).")
    constrained: bool = Field(
        True, description="Decode the parser's and planner's JSON under their schemas (where the backend can)."
    )
    prompt_style: Literal["auto", "full", "short"] = Field(
        "auto",
        description="System prompts: full (rules and examples), short (what distilled students learn), or auto: "
        "short for a student `distill` trained, else full.",
    )

    def prompt_style_for(self, spec: str) -> Literal["full", "short"]:
        """The system prompts to run model `spec` with."""
        if self.prompt_style != "auto":
            return self.prompt_style
        return "short" if is_student(spec) else "full"

    def agents(
        self, catalog: Catalog, parser_model: AgentChatModel | None = None, planner_model: AgentChatModel | None = None
    ) -> tuple[ParserAgent, PlannerAgent]:
        """The parser and planner over `catalog`, each with the prompts its model runs with; a model not passed in
        is loaded from its spec (the planner shares the parser's unless it has its own)."""
        planner_spec = self.planner_model or self.parser_model
        parser_model = parser_model or self.load_model(self.parser_model)
        planner_model = planner_model or (self.load_model(self.planner_model) if self.planner_model else parser_model)
        return (
            ParserAgent(
                parser_model,
                catalog,
                constrained=self.constrained,
                prompt_style=self.prompt_style_for(self.parser_model),
            ),
            PlannerAgent(planner_model, constrained=self.constrained, prompt_style=self.prompt_style_for(planner_spec)),
        )


class RecbotConfig(FeedAgentSettings, CommandConfig):
    """Settings of `recbot eval` (see `agentdistill recbot eval --help`); `RecbotCollectConfig` for collection."""

    sessions: int = Field(20, ge=1, description="Simulated sessions.", json_schema_extra=cli("-n"))
    max_turns: int = Field(5, ge=1, description="Commands per simulated session.")
    split: Literal["train", "test"] = Field("test", description="train or test sessions (they never overlap).")
    seed: int = Field(0, description="Seed of the simulated users.")
    paraphrase_model: ModelSpec | None = Field(
        None, description="A model paraphrases the simulated commands (default: template commands)."
    )
    paraphrase_share: float = Field(
        1.0,
        ge=0.0,
        le=1.0,
        description="With --paraphrase-model: the share of sessions paraphrased (0.5: every other).",
    )
    out: str = Field(
        "runs/recbot-eval", description="Output folder: sessions.jsonl and summary.json.", json_schema_extra=cli("-o")
    )
    label: str | None = Field(None, description="Name of this run in reports (default: the parser model).")
    resume: bool = Field(True, description="Keep the sessions already in the output (else it must be empty).")


class RecbotCollectConfig(RecbotConfig):
    """Settings of `recbot collect`: the teacher's parser/planner conversations on simulated train sessions."""

    parser_model: ModelSpec = Field(
        DEFAULT_TEACHER, description="Teacher model (it parses and plans).", json_schema_extra=cli("-m", "--teacher")
    )
    split: Literal["train", "test"] = Field("train", description="train or test sessions (they never overlap).")
    out: str = Field(
        "runs/recbot-teacher.jsonl", description="Trajectory store (JSONL, appended to).", json_schema_extra=cli("-o")
    )
    label: str | None = Field(None, json_schema_extra=cli(hidden=True))


class TurnLog(BaseModel):
    command: str
    recall: float
    ndcg: float
    passed: bool
    error: str | None = None
    planner_fallback: bool = False
    plan: list[str] = Field(default_factory=list)
    seconds: float
    parse_right: bool = Field(False, description="The update did what this command said (`parse_was_right`).")
    plan_right: bool = Field(False, description="The planner's chain ran and Recall@10 did not fall.")
    replies: int = Field(0, description="Model replies this turn, repairs included.")
    malformed: int = Field(0, description="Replies that were not JSON of the right shape.")


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
    paraphrased: bool = False
    precision: Precision | None = None  # the parser model's; None: a server's own choice


class RecbotSummary(BaseModel):
    """A recbot evaluation: means over sessions with 95% bootstrap intervals (over sessions), per-command
    latency, and how often the models' output was invalid."""

    label: str
    catalog: str
    sessions: int
    recall_at_10: float
    ndcg_at_10: float
    pass_rate: float
    recall_interval: tuple[float, float] = (0.0, 1.0)
    ndcg_interval: tuple[float, float] = (0.0, 1.0)
    pass_interval: tuple[float, float] = (0.0, 1.0)
    recall_by_commands: dict[str, float] = Field(
        default_factory=dict, description="Recall@10 of the template and of the paraphrased sessions."
    )
    mean_turns_to_pass: float | None
    p50_seconds_per_command: float
    p90_seconds_per_command: float
    parse_error_rate: float
    planner_fallback_rate: float
    invalid_output_rate: float = Field(0.0, description="Share of model replies that were not JSON of the schema.")
    constrained: bool = False
    precision: str = "-"
    config: dict

    def row(self) -> list[str]:
        def with_interval(value: float, interval: tuple[float, float], percent: bool = False) -> str:
            shown = (lambda x: f"{x:.0%}") if percent else (lambda x: f"{x:.3f}")
            return f"{shown(value)} ({shown(interval[0])}–{shown(interval[1])})"

        return [
            self.label,
            self.catalog,
            str(self.sessions),
            with_interval(self.recall_at_10, self.recall_interval),
            with_interval(self.ndcg_at_10, self.ndcg_interval),
            with_interval(self.pass_rate, self.pass_interval, percent=True),
            "-" if self.mean_turns_to_pass is None else f"{self.mean_turns_to_pass:.2f}",
            f"{self.invalid_output_rate:.1%}",
            f"{self.p50_seconds_per_command:.1f}",
            f"{self.p90_seconds_per_command:.1f}",
            self.precision,
        ]


RECBOT_COLUMNS = [
    "run",
    "catalogue",
    "sessions",
    "Recall@10 (95% CI)",
    "NDCG@10 (95% CI)",
    "pass rate (95% CI)",
    "turns to pass",
    "invalid outputs",
    "p50 s/command",
    "p90 s/command",
    "precision",
]


def session_number(index: int, split: str) -> int:
    return index + (_TRAIN_OFFSET if split == "train" else 0)


class SessionRunner:
    """Runs numbered simulated sessions with one parser/planner pair over one catalogue."""

    def __init__(
        self,
        config: RecbotConfig,
        parser_model: AgentChatModel | None = None,
        planner_model: AgentChatModel | None = None,
        paraphraser: AgentChatModel | None = None,
    ) -> None:
        self.config = config
        self.catalog = open_catalog(config.catalog)
        self.services = FeedServices(self.catalog)
        self.parser, self.planner = config.agents(self.catalog, parser_model, planner_model)
        spec = config.paraphrase_model
        self.paraphraser = paraphraser or (config.load_model(spec) if spec else None)
        matrix_users = max((u for u, _ in self.catalog.interactions), default=-1) + 1
        self._histories: list[list[int]] = [[] for _ in range(matrix_users)]
        for user, item in self.catalog.interactions:
            self._histories[user].append(item)

    def paraphrased(self, number: int) -> bool:
        """Whether session `number` is paraphrased: `paraphrase_share` of the sessions, spread evenly."""
        share, index = self.config.paraphrase_share, number % _TRAIN_OFFSET
        return self.paraphraser is not None and int((index + 1) * share) > int(index * share)

    def run(self, number: int) -> tuple[SessionLog, FeedSession]:
        r = random.Random(self.config.seed * 1_000_003 + number)
        target = draw_target(self.catalog, r)
        history = r.choice(self._histories)[:20] if self._histories else []
        paraphrased = self.paraphrased(number)
        user = SimulatedUser(self.catalog, target, r, self.paraphraser if paraphrased else None)
        session = FeedSession(self.services, self.parser, self.planner, history=history)
        turns, turns_used = [], None
        recall_before = user.judge(session.feed_state.top()).recall
        for turn in range(self.config.max_turns):
            result = session.command(user.next_command())
            judged = user.judge(session.feed_state.top())
            turns.append(
                TurnLog(
                    command=result.command,
                    recall=judged.recall,
                    ndcg=judged.ndcg,
                    passed=judged.passed,
                    error=result.error,
                    planner_fallback=result.planner_fallback,
                    plan=[c.tool for c in result.plan],
                    seconds=sum(result.seconds.values()),
                    parse_right=user.parse_was_right(result.update),
                    plan_right=result.error is None and not result.planner_fallback and judged.recall >= recall_before,
                    replies=len(result.parser_attempts) + len(result.planner_attempts),
                    malformed=result.malformed_outputs(),
                )
            )
            recall_before = judged.recall
            if judged.passed:
                turns_used = turn + 1
                break
        last = turns[-1]
        return SessionLog(
            id=f"{self.catalog.name}-{number:06d}",
            target=target,
            targets=len(user.targets),
            turns=turns,
            passed=turns_used is not None,
            turns_used=turns_used,
            recall=last.recall,
            ndcg=last.ndcg,
            paraphrased=paraphrased,
            precision=self.parser.model.precision,
        ), session


def evaluate_recbot(
    config: RecbotConfig,
    parser_model: AgentChatModel | None = None,
    planner_model: AgentChatModel | None = None,
    on_session: Callable[[SessionLog], None] | None = None,
) -> RecbotSummary:
    """Run (or resume) the sessions; writes `out/sessions.jsonl` and `out/summary.json`."""
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "sessions.jsonl"
    logs = _read_logs(path)
    if logs and not config.resume:
        raise OutputExistsError(f"{path} already holds {len(logs)} sessions; resume, or choose another --out")
    runner = None
    with path.open("a", encoding="utf-8") as handle:
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
        catalog=logs[0].id.rsplit("-", 1)[0] if logs else config.catalog.split(":")[0],  # its name, not its path
        sessions=len(logs),
        recall_at_10=sum(log.recall for log in logs) / n,
        ndcg_at_10=sum(log.ndcg for log in logs) / n,
        pass_rate=len(passed) / n,
        recall_interval=bootstrap_interval([log.recall for log in logs]),
        ndcg_interval=bootstrap_interval([log.ndcg for log in logs]),
        pass_interval=bootstrap_interval([float(log.passed) for log in logs]),
        recall_by_commands={
            kind: statistics.mean(log.recall for log in logs if log.paraphrased == (kind == "paraphrased"))
            for kind in ("template", "paraphrased")
            if any(log.paraphrased == (kind == "paraphrased") for log in logs)
        },
        mean_turns_to_pass=statistics.mean(passed) if passed else None,
        p50_seconds_per_command=statistics.median(seconds),
        p90_seconds_per_command=seconds[min(len(seconds) - 1, int(0.9 * len(seconds)))],
        parse_error_rate=sum(t.error is not None for t in turns) / (len(turns) or 1),
        planner_fallback_rate=sum(t.planner_fallback for t in turns) / (len(turns) or 1),
        invalid_output_rate=sum(t.malformed for t in turns) / (sum(t.replies for t in turns) or 1),
        constrained=config.constrained,
        precision=describe_precisions(log.precision for log in logs),
        config=config.to_dict(),
    )


def collect_recbot(
    config: RecbotConfig, teacher: AgentChatModel | None = None, on_session: Callable[[SessionLog], None] | None = None
) -> int:
    """Teacher parser/planner conversations on simulated train sessions, appended to `config.out` (a trajectory
    store, JSONL). Each record is labelled by its own turn, not by its session: a parser reply is `correct` when
    it did what that command said (`SimulatedUser.parse_was_right`), a planner reply when its chain ran and
    Recall@10 did not fall; so a wrong turn of a passing session does not train the student, and a right turn
    of a failing one does. Returns the number of new sessions."""
    store = TrajectoryStore(config.out)
    done = store.ids()
    if done and not config.resume:
        raise OutputExistsError(f"{store.path} already holds {len(done)} records; resume, or choose another --out")
    runner, added = None, 0
    for index in range(config.sessions):
        number = session_number(index, config.split)
        if f"recbot-{config.catalog}-{number}-t1-parser#0" in done:
            continue
        runner = runner or SessionRunner(config, teacher, teacher)
        log, session = runner.run(number)
        student = {"parser": runner.parser.student_system, "planner": runner.planner.student_system}
        for turn_index, (turn, judged) in enumerate(zip(session.turns, log.turns, strict=True), 1):
            for role, messages, right in (
                ("parser", turn.parser_messages, judged.parse_right),
                ("planner", turn.planner_messages, judged.plan_right),
            ):
                if not messages:
                    continue
                clean = messages[:2] + messages[-1:]  # a repaired reply trains as if it came out right first time
                task_id = f"recbot-{config.catalog}-{number}-t{turn_index}-{role}"
                store.append(
                    TrajectoryRecord(
                        id=f"{task_id}#0",
                        task_id=task_id,
                        suite="recbot",
                        question=turn.command,
                        gold=[json.dumps(log.target.model_dump(mode="json"))],
                        metric="recall@10",
                        teacher=runner.parser.model.model_id,
                        precision=runner.parser.model.precision,
                        trajectory=Trajectory(
                            question=turn.command,
                            model_id=runner.parser.model.model_id,
                            final_answer=clean[-1]["content"],
                            termination="final_answer",
                            messages=clean,
                            metadata={"agent": f"recbot-{role}", "tools": [], "student_system": student[role]},
                        ),
                        score=judged.recall,
                        correct=right,
                    )
                )
        added += 1
        if on_session:
            on_session(log)
    return added
