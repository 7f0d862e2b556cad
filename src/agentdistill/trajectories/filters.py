"""Which collected trajectories become training data."""

from __future__ import annotations

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
    for record in records:
        stats["total"] += 1
        reason = rejection_reason(record, config)
        key = (record.task_id, tuple(m["content"] for m in record.messages if m["role"] == "assistant"))
        if reason is None and config.dedupe and key in seen:
            reason = "duplicate"
        if reason:
            stats[reason] += 1
            continue
        seen.add(key)
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
