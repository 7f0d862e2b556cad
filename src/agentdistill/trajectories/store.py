"""Append-only JSONL store of trajectory records: crash-safe, resumable.

Each record is one line, written with flush + fsync, so a kill -9 can at worst leave one partial last
line; opening the store repairs that (the partial line is cut off, never parsed, never duplicated).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from pydantic import ValidationError

from agentdistill.trajectories.record import TrajectoryRecord


class TrajectoryStore:
    """`append` records; `ids()` says which are done, so a rerun with resume skips them."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.repaired_bytes = self._repair()

    def _repair(self) -> int:
        """Cut a partial last line left by an interrupted write; returns how many bytes were dropped."""
        if not self.path.exists() or self.path.stat().st_size == 0:
            return 0
        with self.path.open("rb+") as f:
            data = f.read()
            if data.endswith(b"\n"):
                return 0
            keep = data.rfind(b"\n") + 1
            f.truncate(keep)
            return len(data) - keep

    def append(self, record: TrajectoryRecord) -> None:
        line = record.model_dump_json() + "\n"
        with self.path.open("a", encoding="utf-8") as f:
            f.write(line)
            f.flush()
            os.fsync(f.fileno())

    def __iter__(self) -> Iterator[TrajectoryRecord]:
        if not self.path.exists():
            return
        with self.path.open(encoding="utf-8") as lines:
            for number, line in enumerate(lines, 1):
                if line.strip():
                    try:
                        yield TrajectoryRecord.model_validate_json(line)
                    except ValidationError as error:
                        raise ValueError(f"{self.path}:{number}: not a trajectory record "
                                         f"({error.errors()[0]['msg']})") from None

    def ids(self) -> set[str]:
        return {record.id for record in self}

    def __len__(self) -> int:
        return sum(1 for _ in self)
