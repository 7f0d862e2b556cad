"""`BranchingSandbox`: run several candidate actions from the same state, each in its own isolated copy.

Self-consistent action generation executes N candidate code blocks for one step; none may see another's
variables or side effects. A worker process cannot be forked (the sandbox forbids fork), so a copy is a
fresh worker that replays the committed code of earlier steps. Tool calls made while replaying are answered
from the recorded log, so a tool runs once per real call, never once per candidate per step. The winner's
copy defines the new committed state: its code joins the history and its tool calls join the log.
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
    """Answers tool calls from `replay` while they match it, in order; real calls are made and logged."""

    def __init__(self, tools: Sequence[Tool], limits: SandboxLimits, replay: Sequence[ToolLogEntry]) -> None:
        super().__init__(tools=tools, limits=limits)
        self._replay = deque(replay)
        self.tool_log: list[ToolLogEntry] = []

    def _call_tool(self, message: dict) -> dict:
        key = json.dumps({k: message.get(k) for k in ("name", "args", "kwargs")}, sort_keys=True, default=str)
        if self._replay and self._replay[0][0] == key:
            response = self._replay.popleft()[1]
        else:
            self._replay.clear()  # the replay diverged (e.g. randomness): from here on, tools run for real
            response = super()._call_tool(message)
        self.tool_log.append((key, response))
        return response


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
        self.history: list[str] = []
        self.tool_log: list[ToolLogEntry] = []
        self.isolation: list[str] = []

    def try_each(self, codes: Sequence[str]) -> list[Branch]:
        """Run each code in a separate copy of the committed state; nothing is committed."""
        with ThreadPoolExecutor(max_workers=max(1, min(self.max_parallel, len(codes)))) as pool:
            return list(pool.map(self._branch, codes))

    def commit(self, branch: Branch) -> None:
        """Make `branch`'s state the committed one."""
        self.history.append(branch.code)
        self.tool_log = branch.tool_log

    def run(self, code: str) -> ExecutionResult:
        """Run `code` on the committed state and commit it (the one-candidate case)."""
        branch = self._branch(code)
        self.commit(branch)
        return branch.result

    def _branch(self, code: str) -> Branch:
        box = _ReplayingSandbox(self.tools, self.limits, self.tool_log)
        try:
            for earlier in self.history:
                box.run(earlier)
            result = box.run(code)
            self.isolation = box.isolation
            return Branch(code=code, result=result, tool_log=box.tool_log)
        finally:
            box.close()

    def close(self) -> None:
        """Nothing stays running between branches; kept for the sandbox interface."""
