"""Append-only JSONL store of trajectory records: crash-safe, resumable, and never altered by reading.

Each record is one line, written with flush + fsync, so a kill -9 can at worst leave one partial last line.
Reading skips such a torn last line; the first `append` repairs the file: a last line that parses but lost
only its newline is completed, one that does not parse is cut off (never parsed, never duplicated). A
failed append (disk full, file-size limit) is truncated back, so no torn line is ever left mid-file.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

from pydantic import ValidationError

from agentdistill.errors import InputFileError, OutputError
from agentdistill.tools.sandbox import replace_surrogates
from agentdistill.trajectories.record import TrajectoryRecord


class TrajectoryStore:
    """`append` records; `ids()` says which are done, so a rerun with resume skips them."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.repaired_bytes = 0
        self._repaired = False

    @property
    def archive(self) -> Path:
        """`NAME.jsonl.gz`: a finished store kept gzipped (under a repository's file-size limit) reads as the
        store; the first append unpacks it back to `NAME.jsonl`, so a gzipped store still resumes."""
        return self.path.with_name(self.path.name + ".gz")

    @property
    def packed(self) -> bool:
        """Whether the store is its archive alone (read from it; a plain NAME.jsonl beside it would hide it)."""
        return self.archive.exists() and not self.path.exists()

    def _unpack(self) -> None:
        if not self.packed:
            return
        staged = self.path.with_name(self.path.name + ".unpacking")
        with gzip.open(self.archive, "rb") as source, staged.open("wb") as target:
            shutil.copyfileobj(source, target)
        staged.replace(self.path)
        self.archive.unlink()

    def _repair(self) -> None:
        """Before the first write: complete or cut a last line that an interrupted write left without '\\n'."""
        if self._repaired:
            return
        self._repaired = True
        if not self.path.exists() or self.path.stat().st_size == 0:
            return
        with self.path.open("rb+") as f:
            data = f.read()
            if data.endswith(b"\n"):
                return
            start = data.rfind(b"\n") + 1
            if _parse(data[start:]) is not None:
                f.write(b"\n")  # a whole record that lost only its newline: keep it
                return
            f.truncate(start)
            self.repaired_bytes = len(data) - start

    def check_writable(self) -> None:
        """Raise a one-line OutputError now if records could not be appended here later."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with (self.archive if self.packed else self.path).open("ab"):
                pass
        except OSError as error:
            raise OutputError(f"cannot write the store {self.path}: {error.strerror or error}") from None

    def append(self, record: TrajectoryRecord) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._unpack()
        self._repair()
        line = (_serialise(record) + "\n").encode("utf-8")
        with self.path.open("ab") as f:
            size = f.tell()
            try:
                f.write(line)
                f.flush()
                os.fsync(f.fileno())
            except BaseException:
                f.truncate(size)  # a partial line mid-file would make every later record unreadable
                raise

    def __iter__(self) -> Iterator[TrajectoryRecord]:
        if not self.path.exists() and not self.archive.exists():
            return
        with gzip.open(self.archive, "rb") if self.packed else self.path.open("rb") as lines:
            for number, raw in enumerate(lines, 1):
                if not raw.strip():
                    continue
                if not raw.endswith(b"\n"):
                    record = _parse(raw)
                    if record is not None:  # a whole last record without its newline
                        yield record
                    return  # else: torn by a kill mid-write; the next append cuts it
                yield self._validated(raw, number)

    def _validated(self, raw: bytes, number: int) -> TrajectoryRecord:
        try:
            return TrajectoryRecord.model_validate_json(raw.decode("utf-8"))
        except UnicodeDecodeError:
            raise InputFileError(f"{self.path}:{number}: not UTF-8 text (is this a trajectory store?)") from None
        except ValidationError as error:
            raise InputFileError(
                f"{self.path}:{number}: not a trajectory record ({error.errors()[0]['msg']})"
            ) from None

    def ids(self) -> set[str]:
        return {record.id for record in self}

    def __len__(self) -> int:
        return sum(1 for _ in self)


def _parse(raw: bytes) -> TrajectoryRecord | None:
    try:
        return TrajectoryRecord.model_validate_json(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValidationError):
        return None


def _serialise(record: TrajectoryRecord) -> str:
    """The record as one JSON line; strings JSON cannot carry as UTF-8 (lone surrogates printed by model
    code) are written with replacement characters instead of failing the whole collection."""
    try:
        return record.model_dump_json()
    except (ValueError, UnicodeError):
        return json.dumps(replace_surrogates(record.model_dump(mode="json")), ensure_ascii=False)
