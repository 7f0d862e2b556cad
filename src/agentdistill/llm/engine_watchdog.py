"""The engine server's reaper: stops a shared server once none of its users is alive.

`EngineServer.release()` stops the server when the last user leaves, but a client killed by a signal (SIGKILL, or
SIGTERM without a handler) never releases, and the server would keep both cores busy for nobody. A parent-death
signal cannot help: the server is shared, so the process that started it may leave while others still use it.
Instead `EngineServer` starts this watchdog beside every server it launches; it wakes every few seconds and, under
the same lock the clients take, stops the server when the state file lists no live user. It exits when the server
exits or is replaced.

    python -m agentdistill.llm.engine_watchdog STATE LOCK PID
"""

from __future__ import annotations

import fcntl
import json
import os
import sys
import time
from pathlib import Path

from agentdistill.llm.engine import _alive, _live, _stop

INTERVAL_ENV = "AGENTDISTILL_ENGINE_REAP_S"


def reap_once(state_path: Path, lock_path: Path, server_pid: int) -> bool:
    """One look; True when the watchdog is done (the server is gone, replaced, or stopped now)."""
    if not _alive(server_pid):
        return True
    with lock_path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            try:
                state = json.loads(state_path.read_text())
            except (OSError, ValueError):
                state = None
            if not state or state.get("pid") != server_pid:
                return True  # stopped by `engine stop`, or restarted as another process with its own watchdog
            if _live(state["users"]):
                return False
            _stop(server_pid)
            state_path.unlink(missing_ok=True)
            return True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def main(argv: list[str]) -> None:
    state_path, lock_path, server_pid = Path(argv[0]), Path(argv[1]), int(argv[2])
    interval = float(os.environ.get(INTERVAL_ENV, "5"))
    while not reap_once(state_path, lock_path, server_pid):
        time.sleep(interval)


if __name__ == "__main__":
    main(sys.argv[1:])
