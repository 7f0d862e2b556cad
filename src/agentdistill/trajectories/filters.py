"""Which collected trajectories become training data."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from agentdistill.trajectories.record import TrajectoryRecord


@dataclass
class FilterConfig:
    """Keep correct, finished trajectories; records that recovered from execution errors are kept on purpose
    (they teach self-correction)."""

    correct_only: bool = True
    drop_parse_failures: bool = True
    drop_max_steps: bool = True
    dedupe: bool = True
    max_per_task: int | None = None  # best-of-k collection keeps several per task; a cap keeps tasks balanced


_COMMENT = re.compile(r"#[^\n]*")


def demonstration_key(record: TrajectoryRecord) -> tuple:
    """What makes two trajectories of a task the same demonstration: the code they ran, with comments and
    whitespace ignored, and the answer. Thoughts are left out on purpose: sampled teachers reword the same
    plan, and near-identical copies would only weigh one plan several times in training."""
    actions = tuple(
        " ".join(_COMMENT.sub("", step.code).split()) for step in record.trajectory.steps if step.code is not None
    )
    return record.task_id, actions, str(record.trajectory.final_answer)


def rejection_reason(record: TrajectoryRecord, config: FilterConfig) -> str | None:
    if config.correct_only and not record.correct:
        return "incorrect"
    if config.drop_max_steps and record.trajectory.termination == "max_steps":
        return "max steps"
    if config.drop_parse_failures and record.parse_failures:
        return "parse failure"
    return None


def filter_records(
    records: Iterable[TrajectoryRecord], config: FilterConfig | None = None
) -> tuple[list[TrajectoryRecord], Counter]:
    """(kept records, counts by outcome: kept / each rejection reason / duplicate / recovered)."""
    config = config or FilterConfig()
    kept: list[TrajectoryRecord] = []
    stats: Counter[str] = Counter()
    seen: set = set()
    per_task: Counter[str] = Counter()
    for record in records:
        stats["total"] += 1
        reason = rejection_reason(record, config)
        key = demonstration_key(record)
        if reason is None and config.dedupe and key in seen:
            reason = "duplicate"
        if reason is None and config.max_per_task is not None and per_task[record.task_id] >= config.max_per_task:
            reason = "over the cap per task"
        if reason:
            stats[reason] += 1
            continue
        seen.add(key)
        per_task[record.task_id] += 1
        kept.append(record)
        stats["kept"] += 1
        stats["kept after recovering from an error"] += record.recovered
    return kept, stats


def filter_store(source: Path, out: Path, config: FilterConfig | None = None) -> Counter:
    """Write the records of the store `source` that `config` keeps into a new store `out` (replacing it only
    once it is complete, so `out` may even be `source`); returns the counts by outcome."""
    from agentdistill.trajectories.store import TrajectoryStore

    kept, stats = filter_records(TrajectoryStore(source), config)
    staged = out.with_name(f".{out.name}.partial")
    staged.unlink(missing_ok=True)
    target = TrajectoryStore(staged)
    target.check_writable()
    for record in kept:
        target.append(record)
    staged.replace(out)
    return stats
