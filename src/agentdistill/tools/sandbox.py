"""`PythonSandbox`: model-written code runs in a separate, confined worker process, never in the host.

The worker keeps its variables between calls (one worker per episode), forwards tool calls back to the
host, and is restarted if it crashes, hangs or is killed; the host only ever sees an error observation.
"""

from __future__ import annotations

import json
import os
import select
import shutil
import site
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from agentdistill.tools.base import Tool

_WORKER = Path(__file__).with_name("_worker.py")
_MAX_MESSAGE_BYTES = 8 * 1024 * 1024
_KERNEL_PROTECTIONS = ("network namespace", "landlock", "seccomp")


class SandboxLimits(BaseModel):
    """Resource limits of one sandbox worker."""

    timeout_s: float = Field(default=10.0, gt=0, description="Wall-clock limit of one code run.")
    cpu_time_s: int = Field(default=10, ge=1, description="CPU-time limit of one code run.")
    memory_mb: int = Field(default=1536, ge=256, description="Address-space limit of the worker.")
    file_size_mb: int = Field(default=16, ge=1, description="Largest file the code may write.")
    max_open_files: int = Field(default=128, ge=32)
    max_output_chars: int = Field(default=4000, ge=100, description="Captured stdout/stderr is cut here.")
    max_runs_per_worker: int = Field(default=100, ge=1, description="Lifetime CPU budget, in runs.")
    startup_timeout_s: float = Field(default=60.0, gt=0)


class ExecutionResult(BaseModel):
    """What one code run produced."""

    output: str = ""
    error: str | None = None
    is_final: bool = False
    final_answer: Any = None
    final_answer_repr: str | None = None
    duration_s: float = 0.0
    tool_calls: list[str] = Field(default_factory=list)
    restarted: bool = Field(default=False, description="The worker died or hung and was replaced; state is lost.")

    def observation(self) -> str:
        """The text the agent reads back."""
        parts = [self.output.rstrip()] if self.output.strip() else []
        if self.error:
            parts.append(f"Error: {self.error}")
        if self.restarted:
            parts.append("(The sandbox was restarted: variables from earlier steps are gone.)")
        if self.is_final:
            parts.append(f"Final answer: {self.final_answer_repr}")
        return "\n".join(parts) if parts else "(no output: use print() to see values)"


class SandboxError(RuntimeError):
    pass


class PythonSandbox:
    """A persistent, confined Python worker for model-written code.

    Confinement (Linux): rlimits (CPU, memory, file size, open files), a private network namespace where
    permitted, Landlock (reads only under Python's own folders; writes only in a private temporary
    directory), and a seccomp filter (no fork/exec, no sockets, no signals to other processes). The worker
    starts with an empty environment, so host secrets in environment variables never reach it.

    >>> with PythonSandbox() as box:
    ...     box.run("x = 6 * 7").error is None, box.run("print(x)").output
    (True, '42\\n')
    """

    def __init__(
        self,
        tools: Sequence[Tool] = (),
        limits: SandboxLimits | None = None,
        preimport: Sequence[str] = ("math", "json", "re", "collections", "itertools", "statistics", "numpy"),
        require_isolation: bool = False,
    ) -> None:
        self.tools = {t.name: t for t in tools}
        self.limits = limits or SandboxLimits()
        self.preimport = list(preimport)
        self.require_isolation = require_isolation
        self.isolation: list[str] = []
        self._process: subprocess.Popen | None = None
        self._workdir: str | None = None
        self._buffer = b""

    # -- lifecycle ------------------------------------------------------------------------------------
    def __enter__(self) -> "PythonSandbox":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self) -> None:
        """Start the worker (done lazily by `run`); blocks until it has confined itself."""
        if self._process is not None:
            return
        self._workdir = tempfile.mkdtemp(prefix="agentdistill-sandbox-")
        to_worker_r, to_worker_w = os.pipe()
        from_worker_r, from_worker_w = os.pipe()
        config = {
            "fd_in": to_worker_r, "fd_out": from_worker_w, "limits": self.limits.model_dump(),
            "preimport": self.preimport, "read_only": _readable_roots(), "read_only_files": _READABLE_FILES,
            "tools": [{"name": t.name, "description": t.description} for t in self.tools.values()],
        }
        env = {"PATH": "/usr/bin:/bin", "HOME": self._workdir, "TMPDIR": self._workdir, "LANG": "C.UTF-8",
               "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "MPLBACKEND": "Agg"}
        self._process = subprocess.Popen(
            [sys.executable, "-I", str(_WORKER), json.dumps(config)],
            cwd=self._workdir, env=env, pass_fds=(to_worker_r, from_worker_w), start_new_session=True,
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        os.close(to_worker_r)
        os.close(from_worker_w)
        self._to_worker, self._from_worker, self._buffer = to_worker_w, from_worker_r, b""
        ready = self._read(time.monotonic() + self.limits.startup_timeout_s)
        if ready is None or ready.get("op") != "ready":
            self.close()
            raise SandboxError("the sandbox worker failed to start")
        self.isolation = ready["isolation"]
        missing = [p for p in _KERNEL_PROTECTIONS if not any(a.startswith(p) for a in self.isolation)]
        if self.require_isolation and missing:
            self.close()
            raise SandboxError(f"sandbox protections unavailable on this system: {', '.join(missing)}")

    def close(self) -> None:
        """Kill the worker and delete its working directory."""
        if self._process is not None:
            self._process.kill()
            self._process.wait()
            for fd in (self._to_worker, self._from_worker):
                os.close(fd)
            self._process = None
        if self._workdir:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None

    def reset(self) -> None:
        """Forget all variables: a fresh worker."""
        self.close()
        self.start()

    @property
    def workdir(self) -> str | None:
        return self._workdir

    # -- running code ---------------------------------------------------------------------------------
    def run(self, code: str) -> ExecutionResult:
        """Run `code` with the variables of earlier runs; errors come back in the result, never raised."""
        self.start()
        started = time.monotonic()
        # The worker stops itself at timeout_s; the extra grace covers code stuck inside a C call.
        deadline = started + self.limits.timeout_s + 2.0
        tool_calls: list[str] = []
        self._send({"op": "run", "code": code})
        while True:
            message = self._read(deadline)
            if message is None:
                return self._restart_after_failure(started, tool_calls, timed_out=time.monotonic() >= deadline)
            if message.get("op") == "tool_call":
                tool_started = time.monotonic()
                tool_calls.append(str(message.get("name")))
                self._send(self._call_tool(message))
                deadline += time.monotonic() - tool_started  # time spent in host tools is not the code's
            elif message.get("op") == "result":
                fields = {k: message.get(k) for k in ExecutionResult.model_fields if k in message}
                return ExecutionResult(**fields, tool_calls=tool_calls)

    def _call_tool(self, message: dict) -> dict:
        tool = self.tools.get(str(message.get("name")))
        if tool is None:
            return {"op": "tool_result", "ok": False, "error": f"no tool named {message.get('name')!r}"}
        try:
            value = tool(*message.get("args", []), **message.get("kwargs", {}))
        except Exception as error:  # noqa: BLE001 - a failing tool is an observation, not a host crash
            return {"op": "tool_result", "ok": False, "error": f"{type(error).__name__}: {error}"}
        try:
            json.dumps(value)
        except (TypeError, ValueError):
            value = str(value)  # the code gets the text of values JSON cannot carry
        return {"op": "tool_result", "ok": True, "value": value}

    def _restart_after_failure(self, started: float, tool_calls: list[str], timed_out: bool) -> ExecutionResult:
        code = None
        if self._process and not timed_out:
            try:  # the pipe can close a moment before the kernel reports the exit (seen on a loaded machine)
                code = self._process.wait(timeout=2.0)
            except subprocess.TimeoutExpired:
                code = None
        if code is None:
            error = f"TimeoutError: the code did not finish within {self.limits.timeout_s:g} s and was killed"
        elif code < 0:
            error = f"the code crashed the Python process (signal {-code})"
        else:
            error = f"the Python process exited with status {code}"
        self.close()
        self.start()
        return ExecutionResult(error=error, restarted=True, duration_s=time.monotonic() - started,
                               tool_calls=tool_calls)

    # -- pipe protocol --------------------------------------------------------------------------------
    def _send(self, message: dict) -> None:
        try:
            os.write(self._to_worker, (json.dumps(message, default=str) + "\n").encode())
        except (BrokenPipeError, OSError):
            pass  # the worker is gone; the next read notices and restarts it

    def _read(self, deadline: float) -> dict | None:
        """Next message from the worker, or None if it died, hung past `deadline`, or sent garbage."""
        while b"\n" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or len(self._buffer) > _MAX_MESSAGE_BYTES:
                return None
            ready, _, _ = select.select([self._from_worker], [], [], remaining)
            if not ready:
                return None
            chunk = os.read(self._from_worker, 1 << 16)
            if not chunk:
                return None
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        try:
            message = json.loads(line)
        except ValueError:
            return None
        # printed lone surrogates (chr(0xd800)) arrive as JSON escapes; no tokenizer or store can encode them
        return replace_surrogates(message) if isinstance(message, dict) else None


def replace_surrogates(value: Any) -> Any:
    """`value` with every string made encodable as UTF-8 (lone surrogates become '?'), through dicts and lists."""
    if isinstance(value, str):
        return value.encode("utf-8", "replace").decode("utf-8")
    if isinstance(value, dict):
        return {replace_surrogates(k): replace_surrogates(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [replace_surrogates(v) for v in value]
    return value


_READABLE_FILES = ["/etc/ld.so.cache", "/etc/localtime", "/proc/cpuinfo", "/proc/meminfo", "/dev/null",
                   "/dev/urandom"]


def _readable_roots() -> list[str]:
    """Folders the worker may read: the Python installation and its packages, system libraries."""
    roots = {sys.prefix, sys.base_prefix, sys.exec_prefix, *site.getsitepackages(), "/usr/lib", "/usr/lib64",
             "/usr/share/zoneinfo", "/lib", "/lib64", "/sys/devices/system/cpu"}
    return sorted(r for r in roots if r and os.path.isdir(r))
