"""`BranchingSandbox`: run several candidate actions from the same state, each in its own isolated copy.

Self-consistent action generation executes N candidate code blocks for one step; none may see another's
variables or side effects. A worker process cannot be forked (the sandbox forbids fork), so a copy is a
fresh worker that replays the committed code of earlier steps, deterministically: `random` and numpy start
from a fixed seed, string hashing is fixed, and `time.time()` is frozen at each step's original start. Every
tool call made while replaying is answered from the recorded log, so a tool runs once per real call, never
once per candidate per step; a replay that calls anything else (the code read `os.urandom`, say) is refused,
the tool does not run, and the candidate's observation says why. The winner's copy defines the new committed
state: its code joins the history and its tool calls join the log.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from agentdistill.tools.base import Tool
from agentdistill.tools.sandbox import ExecutionResult, PythonSandbox, SandboxLimits

ToolLogEntry = tuple[str, dict]  # (the request as JSON, the response sent back to the code)


class _ReplayingSandbox(PythonSandbox):
    """While `replaying`, answers tool calls from `replay` in order and refuses any other; afterwards, real
    calls are made. Every call is logged."""

    def __init__(self, tools: Sequence[Tool], limits: SandboxLimits, replay: Sequence[ToolLogEntry]) -> None:
        super().__init__(tools=tools, limits=limits)
        self._replay = deque(replay)
        self.tool_log: list[ToolLogEntry] = []
        self.replaying = True
        self.diverged: str | None = None

    def _call_tool(self, message: dict) -> dict:
        key = json.dumps({k: message.get(k) for k in ("name", "args", "kwargs")}, sort_keys=True, default=str)
        if not self.replaying:
            response = super()._call_tool(message)
        elif self._replay and self._replay[0][0] == key and not self.diverged:
            response = self._replay.popleft()[1]
        else:
            self.diverged = (
                self.diverged
                or f"replaying the earlier steps called {message.get('name')}() "
                "with other arguments than they first did"
            )
            return {"op": "tool_result", "ok": False, "error": f"ReplayDiverged: {self.diverged}"}
        self.tool_log.append((key, response))
        return response

    def finish_replay(self) -> str | None:
        """End the replay; the reason it did not reproduce the committed steps, if it did not."""
        self.replaying = False
        if not self.diverged and self._replay:
            self.diverged = (
                f"replaying the earlier steps made {len(self._replay)} fewer tool call(s) than they first did"
            )
        return self.diverged


@dataclass
class Branch:
    """One candidate run in its own copy of the committed state."""

    code: str
    result: ExecutionResult
    tool_log: list[ToolLogEntry] = field(default_factory=list)


class BranchingSandbox:
    """Committed state = the code of earlier steps + their tool log; branches are replayed copies of it."""

    def __init__(self, tools: Sequence[Tool] = (), limits: SandboxLimits | None = None, max_parallel: int = 4) -> None:
        self.tools = list(tools)
        self.limits = limits or SandboxLimits()
        self.max_parallel = max_parallel
        self.history: list[tuple[str, float | None]] = []  # committed code, with the clock it first ran at
        self.tool_log: list[ToolLogEntry] = []
        self.isolation: list[str] = []

    def try_each(self, codes: Sequence[str]) -> list[Branch]:
        """Run each code in a separate copy of the committed state; nothing is committed."""
        with ThreadPoolExecutor(max_workers=max(1, min(self.max_parallel, len(codes)))) as pool:
            return list(pool.map(self._branch, codes))

    def commit(self, branch: Branch) -> None:
        """Make `branch`'s state the committed one."""
        self.history.append((branch.code, branch.result.clock))
        self.tool_log = branch.tool_log

    def run(self, code: str) -> ExecutionResult:
        """Run `code` on the committed state and commit it (the one-candidate case)."""
        branch = self._branch(code)
        self.commit(branch)
        return branch.result

    def _branch(self, code: str) -> Branch:
        box = _ReplayingSandbox(self.tools, self.limits, self.tool_log)
        try:
            for earlier, clock in self.history:
                box.run(earlier, clock=clock)
            diverged = box.finish_replay()
            if diverged:
                return Branch(
                    code=code,
                    result=ExecutionResult(
                        error=f"ReplayDiverged: {diverged} (the earlier code depends on something that changes between "
                        "runs, e.g. os.urandom or uuid4), so this candidate was not run; no tool ran twice"
                    ),
                    tool_log=box.tool_log,
                )
            result = box.run(code)
            self.isolation = box.isolation
            return Branch(code=code, result=result, tool_log=box.tool_log)
        finally:
            box.close()

    def close(self) -> None:
        """Nothing stays running between branches; kept for the sandbox interface."""
