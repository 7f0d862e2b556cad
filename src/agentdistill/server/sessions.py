"""Live feed sessions: isolated, expired when idle, capped per client, and never evicted while working."""

from __future__ import annotations

import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from fastapi import HTTPException

from agentdistill.recsys.session import FeedSession


@dataclass
class _Entry:
    session: FeedSession
    client: str
    last_used: float
    busy: int = 0  # commands queued or running


class SessionPool:
    """Sessions by id. When full, a new session replaces an idle-expired one, else the least recently used
    one that never ran a command, else the least recently used idle one; a session with work in flight is
    never dropped, so a flood of anonymous creations cannot evict the users who are working."""

    def __init__(
        self,
        make: Callable[[], FeedSession],
        limit: int,
        per_client: int,
        idle_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._make, self._limit, self._per_client, self._idle_s, self._clock = make, limit, per_client, idle_s, clock
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._lock = threading.Lock()

    def create(self, client: str) -> tuple[str, FeedSession]:
        with self._lock:  # admitted first: a refused client costs no feed computation
            now = self._clock()
            self._expire(now)
            if sum(e.client == client for e in self._entries.values()) >= self._per_client:
                raise HTTPException(429, f"{self._per_client} live sessions from one client at most: reuse one")
            if len(self._entries) >= self._limit:
                self._evict_one()
            session_id, session = uuid.uuid4().hex, self._make()
            self._entries[session_id] = _Entry(session, client, now)
        return session_id, session

    def get(self, session_id: str) -> FeedSession:
        with self._lock:
            entry = self._entries.get(session_id)
            if entry is None:
                raise HTTPException(404, f"no session {session_id!r} (it may have expired): create one")
            entry.last_used = self._clock()
            self._entries.move_to_end(session_id)
            return entry.session

    def begin(self, session_id: str) -> FeedSession:
        """`get`, marking the session busy until `end`."""
        session = self.get(session_id)
        with self._lock:
            self._entries[session_id].busy += 1
        return session

    def end(self, session_id: str) -> None:
        with self._lock:
            entry = self._entries.get(session_id)
            if entry is not None:
                entry.busy -= 1
                entry.last_used = self._clock()

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, session_id: str) -> bool:
        return session_id in self._entries

    def _expire(self, now: float) -> None:
        for session_id in [i for i, e in self._entries.items() if not e.busy and now - e.last_used > self._idle_s]:
            del self._entries[session_id]

    def _evict_one(self) -> None:
        idle = [(i, e) for i, e in self._entries.items() if not e.busy]  # least recently used first
        unused = [i for i, e in idle if not e.session.turns]
        victim = unused[0] if unused else idle[0][0] if idle else None
        if victim is None:
            raise HTTPException(503, "every session is busy; try again shortly")
        del self._entries[victim]
