"""Feed sessions of the server: stored in SQLite (`store.py`), so a restart loses none, and kept loaded in memory
while in use. Isolated, capped per client, expired explicitly by age since last use, and never dropped while a
command of theirs waits or runs."""

from __future__ import annotations

import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from fastapi import HTTPException

from agentdistill.recsys.session import FeedSession, TurnResult
from agentdistill.server.store import SessionStore


@dataclass
class _Loaded:
    session: FeedSession
    busy: int = 0  # commands queued or running


class SessionPool:
    """Sessions by id. Every session is in the store; the most recently used are also loaded in memory (a
    loaded session that is idle may be unloaded at any time: it is on disk). When the store is full, a new
    session replaces one that never ran a command, else it is refused (503): nobody's preferences are evicted
    to make room. A session unused for `max_age_s` is deleted, unless a command of its is in flight."""

    def __init__(
        self,
        make: Callable[[], FeedSession],
        store: SessionStore,
        limit: int,
        per_client: int,
        max_age_s: float,
        max_loaded: int = 64,
    ) -> None:
        self._make, self._store = make, store
        self._limit, self._per_client, self._max_age_s, self._max_loaded = limit, per_client, max_age_s, max_loaded
        self._loaded: OrderedDict[str, _Loaded] = OrderedDict()
        self._lock = threading.Lock()

    def create(self, client: str) -> tuple[str, FeedSession]:
        with self._lock:  # admitted first: a refused client costs no feed computation
            self._expire()
            if self._store.count(client) >= self._per_client:
                raise HTTPException(429, f"{self._per_client} live sessions from one client at most: reuse one")
            if self._store.count() >= self._limit:
                dropped = self._store.drop_one_unused(keep=self._busy())
                if dropped is None:
                    raise HTTPException(503, "the server holds as many sessions as it may; try again later")
                self._loaded.pop(dropped, None)
            session_id, session = uuid.uuid4().hex, self._make()
            self._store.create(session_id, client, session.history)
            self._keep(session_id, session)
        return session_id, session

    def get(self, session_id: str) -> FeedSession:
        with self._lock:
            self._expire()
            loaded = self._loaded.get(session_id)
            if loaded is None:
                stored = self._store.load(session_id)
                if stored is None:
                    raise HTTPException(404, f"no session {session_id!r} (it may have expired): create one")
                session = self._make()
                session.restore(stored.history, stored.memory, stored.turns, stored.scores, stored.allowed)
                loaded = self._keep(session_id, session)
            self._loaded.move_to_end(session_id)
            self._store.touch(session_id)
            return loaded.session

    def begin(self, session_id: str) -> FeedSession:
        """`get`, marking the session busy until `end` (it is then neither unloaded nor expired)."""
        session = self.get(session_id)
        with self._lock:
            self._loaded[session_id].busy += 1
        return session

    def end(self, session_id: str) -> None:
        with self._lock:
            loaded = self._loaded.get(session_id)
            if loaded is not None:
                loaded.busy -= 1
            self._store.touch(session_id)

    def record(self, session_id: str, session: FeedSession, turn: TurnResult) -> None:
        """Write the turn that just ran, with the session's new state; if that fails, the loaded copy (now ahead
        of the store) is dropped, so the session goes on from its last stored turn."""
        try:
            self._store.save_turn(
                session_id, session.memory, session.feed_state.scores, session.feed_state.allowed, turn
            )
        except Exception:
            with self._lock:
                self._loaded.pop(session_id, None)
            raise

    def __len__(self) -> int:
        return self._store.count()

    def __contains__(self, session_id: str) -> bool:
        return self._store.exists(session_id)

    def _busy(self) -> set[str]:
        return {i for i, loaded in self._loaded.items() if loaded.busy}

    def _expire(self) -> None:
        for session_id in self._store.expire(self._max_age_s, keep=self._busy()):
            self._loaded.pop(session_id, None)

    def _keep(self, session_id: str, session: FeedSession) -> _Loaded:
        loaded = self._loaded[session_id] = _Loaded(session)
        idle = [i for i, entry in self._loaded.items() if not entry.busy and i != session_id]
        for victim in idle[: max(0, len(self._loaded) - self._max_loaded)]:
            del self._loaded[victim]  # only out of memory: it is in the store
        return loaded
