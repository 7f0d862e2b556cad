"""Feed sessions on disk (SQLite), so that a server restart loses no user's preferences, feed or turn history.

Each session is a row (its client, history, preferences memory, and the feed: every item's score and whether it
is allowed), and each turn a row of its own. A turn is written in one transaction with the session's new state:
a crash mid-turn leaves the session as of its last committed turn, never half of one. Sessions expire explicitly,
by age since their last use, and are only deleted by that rule (or, when the store is full, if they never ran a
command): an active session is never evicted to make room.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from pydantic import BaseModel

from agentdistill.recsys.preferences import Preferences
from agentdistill.recsys.session import TurnResult

_SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
    id TEXT PRIMARY KEY,
    catalog TEXT NOT NULL,
    client TEXT NOT NULL,
    created REAL NOT NULL,
    last_used REAL NOT NULL,
    history TEXT NOT NULL,
    memory TEXT NOT NULL,
    scores BLOB,
    allowed BLOB,
    turns INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS sessions_by_use ON sessions (catalog, last_used);
CREATE TABLE IF NOT EXISTS turns (
    session TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    number INTEGER NOT NULL,
    result TEXT NOT NULL,
    PRIMARY KEY (session, number)
);
"""


class StoredSession(BaseModel):
    """What is stored of one session; `scores`/`allowed` are None before its first command."""

    model_config = {"arbitrary_types_allowed": True}

    id: str
    client: str
    history: list[int]
    memory: Preferences
    scores: np.ndarray | None = None
    allowed: np.ndarray | None = None
    turns: list[TurnResult]


class SessionStore:
    """Sessions of one catalogue in one SQLite file (shared by catalogues: rows carry the catalogue's name)."""

    def __init__(self, path: str | Path, catalog: str, clock: Callable[[], float] = time.time) -> None:
        self.path, self.catalog, self.clock = Path(path), catalog, clock
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # one connection, used under a lock: the server's threads are few and each write is a short transaction
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._lock = threading.Lock()
        with self._lock:
            self._db.execute("PRAGMA journal_mode=WAL")  # readers do not block the writer
            self._db.execute("PRAGMA synchronous=FULL")  # a committed turn survives a crash of the machine too
            self._db.execute("PRAGMA foreign_keys=ON")
            self._db.executescript(_SCHEMA)

    def create(self, session_id: str, client: str, history: list[int]) -> None:
        now = self.clock()
        with self._lock:
            self._db.execute(
                "INSERT INTO sessions (id, catalog, client, created, last_used, history, memory)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (session_id, self.catalog, client, now, now, json.dumps(history), Preferences().model_dump_json()),
            )

    def save_turn(
        self, session_id: str, memory: Preferences, scores: np.ndarray, allowed: np.ndarray, turn: TurnResult
    ) -> None:
        """The session's state after `turn`, and the turn, in one transaction."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                (number,) = self._db.execute("SELECT turns FROM sessions WHERE id = ?", (session_id,)).fetchone()
                self._db.execute(
                    "UPDATE sessions SET memory = ?, scores = ?, allowed = ?, turns = ?, last_used = ? WHERE id = ?",
                    (
                        memory.model_dump_json(),
                        np.asarray(scores, dtype=np.float64).tobytes(),
                        np.asarray(allowed, dtype=bool).tobytes(),
                        number + 1,
                        self.clock(),
                        session_id,
                    ),
                )
                self._db.execute(
                    "INSERT INTO turns (session, number, result) VALUES (?, ?, ?)",
                    (session_id, number + 1, turn.model_dump_json(exclude={"parser_messages", "planner_messages"})),
                )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def load(self, session_id: str) -> StoredSession | None:
        with self._lock:
            row = self._db.execute(
                "SELECT client, history, memory, scores, allowed FROM sessions WHERE id = ? AND catalog = ?",
                (session_id, self.catalog),
            ).fetchone()
            if row is None:
                return None
            turns = self._db.execute(
                "SELECT result FROM turns WHERE session = ? ORDER BY number", (session_id,)
            ).fetchall()
        client, history, memory, scores, allowed = row
        return StoredSession(
            id=session_id,
            client=client,
            history=json.loads(history),
            memory=Preferences.model_validate_json(memory),
            scores=None if scores is None else np.frombuffer(scores, dtype=np.float64).copy(),
            allowed=None if allowed is None else np.frombuffer(allowed, dtype=bool).copy(),
            turns=[TurnResult.model_validate_json(text) for (text,) in turns],
        )

    def exists(self, session_id: str) -> bool:
        with self._lock:
            row = self._db.execute(
                "SELECT 1 FROM sessions WHERE id = ? AND catalog = ?", (session_id, self.catalog)
            ).fetchone()
        return row is not None

    def touch(self, session_id: str) -> None:
        with self._lock:
            self._db.execute("UPDATE sessions SET last_used = ? WHERE id = ?", (self.clock(), session_id))

    def expire(self, max_age_s: float, keep: set[str] = frozenset()) -> list[str]:  # type: ignore[assignment]
        """Delete the sessions unused for longer than `max_age_s` (except `keep`, those at work); their ids."""
        with self._lock:
            old = [
                i
                for (i,) in self._db.execute(
                    "SELECT id FROM sessions WHERE catalog = ? AND last_used < ?",
                    (self.catalog, self.clock() - max_age_s),
                )
                if i not in keep
            ]
            self._delete(old)
        return old

    def drop_one_unused(self, keep: set[str]) -> str | None:
        """Delete the least recently used session that never ran a command (it holds nothing to lose)."""
        with self._lock:
            for (session_id,) in self._db.execute(
                "SELECT id FROM sessions WHERE catalog = ? AND turns = 0 ORDER BY last_used", (self.catalog,)
            ).fetchall():
                if session_id not in keep:
                    self._delete([session_id])
                    return session_id
        return None

    def count(self, client: str | None = None) -> int:
        query, args = "SELECT COUNT(*) FROM sessions WHERE catalog = ?", [self.catalog]
        if client is not None:
            query, args = query + " AND client = ?", [*args, client]
        with self._lock:
            (n,) = self._db.execute(query, args).fetchone()
        return n

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _delete(self, ids: list[str]) -> None:
        self._db.executemany("DELETE FROM sessions WHERE id = ?", [(i,) for i in ids])
