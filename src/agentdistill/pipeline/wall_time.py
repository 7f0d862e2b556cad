"""Wall time of long, resumable work, appended to a JSONL log so that its cost adds up across runs and sessions.

    with timed_run(log, "episodes", concurrency=4) as run:   # appended on exit, also on Ctrl-C or SIGTERM
        ...
        run["episodes"] = done                               # a run that did nothing leaves no line

A resumed cell or stage is timed again from where it went on; the sum of its lines is what it cost.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from agentdistill.llm.precision import cpu_hardware


@contextmanager
def timed_run(log: Path, work: str, **fields: Any) -> Iterator[dict[str, Any]]:
    """Time the block; on exit append `{**fields, work: count, "unit": work, "seconds", "hardware"}` to `log` if
    the block set `run[work]` to a positive count (the CLI turns SIGTERM into KeyboardInterrupt, so a killed run is
    logged). The unit names the count, so that a reader sums runs without knowing what each stage does."""
    run: dict[str, Any] = {**fields, work: 0, "unit": work}
    started = time.perf_counter()
    try:
        yield run
    finally:
        if run[work]:
            run |= {"seconds": round(time.perf_counter() - started, 1), "hardware": cpu_hardware().name}
            log.parent.mkdir(parents=True, exist_ok=True)
            with log.open("a", encoding="utf-8") as f:
                f.write(json.dumps(run) + "\n")


def work_done(run: dict[str, Any]) -> tuple[int, str]:
    """(count, unit) of a logged run; lines written before the unit was logged counted episodes."""
    unit = run.get("unit", "episodes")
    return run.get(unit, 0), unit


def read_runs(log: Path) -> list[dict[str, Any]]:
    """The logged runs, oldest first ([] before the first)."""
    if not log.is_file():
        return []
    return [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines() if line.strip()]


def counting_episodes(run: dict[str, Any], then: Callable | None = None) -> Callable:
    """A collector's `on_record` callback that keeps `run["episodes"]` at the episodes done so far, then calls
    `then` (a progress bar, say) with the same arguments."""

    def on_record(record: Any, summary: Any) -> None:
        run["episodes"] = summary.done
        if then:
            then(record, summary)

    return on_record
