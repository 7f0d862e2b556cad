"""`PythonSandbox`: model-written code runs in a separate, confined worker process, never in the host.

The worker keeps its variables between calls (one worker per episode), forwards tool calls back to the
host, and is restarted if it crashes, hangs, floods the host, writes too much or breaks the protocol; the
host only ever sees an error observation. Nothing the worker does can stall the host past one run's
deadline: the host writes without blocking, reads against that fixed deadline, validates every message and
stops the worker (SIGSTOP) between runs, so threads the code left behind do nothing while the agent thinks.
"""

from __future__ import annotations

import json
import os
import secrets
import select
import shutil
import signal
import site
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from agentdistill.errors import AgentDistillError
from agentdistill.tools.base import Tool

_WORKER = Path(__file__).with_name("_worker.py")
_KERNEL_PROTECTIONS = ("network namespace", "landlock", "seccomp")
_GRACE_S = 2.0  # past the worker's own alarm, for code stuck inside a C call
_QUOTA_CHECK_S = 0.2


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
    max_tool_calls: int = Field(default=200, ge=1, description="Tool calls one run may make.")
    max_message_kb: int = Field(default=1024, ge=16, description="Largest message the worker may send.")
    disk_quota_mb: int = Field(default=64, ge=1, description="Total size of the files in the private folder.")


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
    clock: float | None = Field(default=None, description="time.time() when the run started, as the code saw it.")

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


class SandboxError(AgentDistillError, RuntimeError):
    pass


class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class _Ready(_Message):
    op: Literal["ready"]
    isolation: list[str]
    pid: int


class _ToolCall(_Message):
    op: Literal["tool_call"]
    name: str
    args: list[Any]
    kwargs: dict[str, Any]


class _Result(_Message):
    op: Literal["result"]
    nonce: str
    output: str
    error: str | None
    is_final: bool
    final_answer: Any
    final_answer_repr: str | None
    duration_s: float
    clock: float


_WORKER_MESSAGE: TypeAdapter[_Ready | _ToolCall | _Result] = TypeAdapter(_Ready | _ToolCall | _Result)


class _Broken(Exception):
    """The worker has to be replaced; the message is what the code reads."""


class PythonSandbox:
    """A persistent, confined Python worker for model-written code.

    Confinement (Linux): rlimits (CPU, memory, file size, open files), a private network namespace where
    permitted, an unprivileged user (as root: `nobody`, no capability but reading), Landlock (reads only
    under Python's own folders; writes only in a private temporary directory), and a seccomp filter (no
    fork/exec, no sockets, no signals to other processes, no changes of file metadata). The worker starts
    with an empty environment, so host secrets in environment variables never reach it. The host bounds
    each run by one deadline, caps tool calls, message sizes and the private folder's size, validates
    every message, and stops the worker between runs; the kernel kills the worker when the host dies.

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
    def __enter__(self) -> PythonSandbox:
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
            "fd_in": to_worker_r,
            "fd_out": from_worker_w,
            "host_pid": os.getpid(),
            "limits": self.limits.model_dump(),
            "preimport": self.preimport,
            "read_only": _readable_roots(),
            "read_only_files": _READABLE_FILES,
            "tools": [{"name": t.name, "description": t.description} for t in self.tools.values()],
        }
        # PYTHONHASHSEED fixes set and dict order of strings, so that replaying code gives the same values
        # (-I would ignore it; -s -P keep -I's other guarantees, and the environment is ours alone)
        env = {
            "PATH": "/usr/bin:/bin",
            "HOME": self._workdir,
            "TMPDIR": self._workdir,
            "LANG": "C.UTF-8",
            "OPENBLAS_NUM_THREADS": "1",
            "OMP_NUM_THREADS": "1",
            "MKL_NUM_THREADS": "1",
            "MPLBACKEND": "Agg",
            "PYTHONHASHSEED": "0",
            "PYTHONDONTWRITEBYTECODE": "1",
        }
        self._process = _spawn(
            [sys.executable, "-s", "-P", str(_WORKER), json.dumps(config)],
            cwd=self._workdir,
            env=env,
            pass_fds=(to_worker_r, from_worker_w),
            start_new_session=True,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(to_worker_r)
        os.close(from_worker_w)
        os.set_blocking(to_worker_w, False)  # a worker that stops reading must not block the host's writes
        self._to_worker, self._from_worker, self._buffer = to_worker_w, from_worker_r, b""
        try:
            ready = self._read(time.monotonic() + self.limits.startup_timeout_s)
        except _Broken:
            ready = None
        if not isinstance(ready, _Ready):
            self.close()
            raise SandboxError("the sandbox worker failed to start")
        self.isolation = ready.isolation
        self._pause()
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
    def run(self, code: str, clock: float | None = None) -> ExecutionResult:
        """Run `code` with the variables of earlier runs; errors come back in the result, never raised.

        `clock` freezes `time.time()` at that value for this run (replaying a step as it first ran)."""
        self.start()
        started = time.monotonic()
        # One deadline for the whole run, tool calls included: the worker's own alarm fires at timeout_s,
        # and nothing the code does (ignoring SIGALRM, calling slow tools) moves this one.
        deadline = started + self.limits.timeout_s + _GRACE_S
        tool_calls: list[str] = []
        nonce = secrets.token_hex(16)  # a result must answer this run, not an earlier one or a forged one
        try:
            self._resume()
            self._send({"op": "run", "code": code, "nonce": nonce, "clock": clock}, deadline)
            while True:
                message = self._read(deadline)
                if isinstance(message, _ToolCall):
                    if len(tool_calls) >= self.limits.max_tool_calls:
                        raise _Broken(
                            f"the code made more than {self.limits.max_tool_calls} tool calls in one run "
                            "and was stopped"
                        )
                    tool_calls.append(message.name)
                    self._send(self._call_tool(message.model_dump()), deadline)
                elif isinstance(message, _Result) and message.nonce == nonce:
                    self._check_quota()
                    self._pause()
                    return self._result(message, tool_calls)
                else:
                    raise _Broken("the code's process sent a message out of turn (a forged or late result)")
        except _Broken as broken:
            return self._replace_worker(str(broken), started, tool_calls)

    def _result(self, message: _Result, tool_calls: list[str]) -> ExecutionResult:
        """The worker's result with every text capped here too: the code may have written the message."""
        cap = self.limits.max_output_chars
        answer = message.final_answer
        if len(json.dumps(answer, default=str)) > cap:
            answer = _cap(str(answer), cap)
        return ExecutionResult(
            output=_cap(message.output, cap + 100),
            error=_cap(message.error, cap),
            is_final=message.is_final,
            final_answer=answer,
            final_answer_repr=_cap(message.final_answer_repr, cap),
            duration_s=message.duration_s,
            clock=message.clock,
            tool_calls=tool_calls,
        )

    def _call_tool(self, message: dict) -> dict:
        tool = self.tools.get(str(message.get("name")))
        if tool is None:
            return {"op": "tool_result", "ok": False, "error": f"no tool named {message.get('name')!r}"}
        try:
            value = tool(*message.get("args", []), **message.get("kwargs", {}))
        except Exception as error:
            return {
                "op": "tool_result",
                "ok": False,
                "error": _cap(f"{type(error).__name__}: {error}", self.limits.max_output_chars),
            }
        try:
            json.dumps(value)
        except (TypeError, ValueError):
            value = str(value)  # the code gets the text of values JSON cannot carry
        return {"op": "tool_result", "ok": True, "value": value}

    def _replace_worker(self, reason: str, started: float, tool_calls: list[str]) -> ExecutionResult:
        """Kill the worker, start a fresh one, and say why in the observation."""
        self.close()
        self.start()
        return ExecutionResult(
            error=reason, restarted=True, duration_s=time.monotonic() - started, tool_calls=tool_calls
        )

    def _exit_reason(self, timed_out: bool) -> str:
        code = None
        if self._process and not timed_out:
            try:  # the pipe can close a moment before the kernel reports the exit (seen on a loaded machine)
                code = self._process.wait(timeout=2.0)
            except subprocess.TimeoutExpired:
                code = None
        if code is None:
            return f"TimeoutError: the code did not finish within {self.limits.timeout_s:g} s and was killed"
        if code < 0:
            return f"the code crashed the Python process (signal {-code})"
        return f"the Python process exited with status {code}"

    # -- keeping the worker in bounds -----------------------------------------------------------------
    def _pause(self) -> None:
        """Stop the worker between runs: threads the code started cannot write, send or spin meanwhile."""
        if self._process is not None:
            os.kill(self._process.pid, signal.SIGSTOP)

    def _resume(self) -> None:
        if self._process is not None:
            os.kill(self._process.pid, signal.SIGCONT)

    def _check_quota(self) -> None:
        used, files = _folder_usage(self._workdir or "", limit_files=10_000)
        if used > self.limits.disk_quota_mb * 1024 * 1024 or files >= 10_000:
            raise _Broken(
                f"the code wrote more than {self.limits.disk_quota_mb} MB (or 10,000 files) into its "
                "folder and was stopped; its files are gone"
            )

    # -- pipe protocol --------------------------------------------------------------------------------
    def _send(self, message: dict, deadline: float) -> None:
        """Write one line without ever blocking past `deadline` (a worker that stops reading is replaced)."""
        data = (json.dumps(message, default=str) + "\n").encode()
        while data:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise _Broken(self._exit_reason(timed_out=True))
            _, writable, _ = select.select([], [self._to_worker], [], min(remaining, _QUOTA_CHECK_S))
            if not writable:
                continue
            try:
                data = data[os.write(self._to_worker, data) :]
            except BlockingIOError:
                continue
            except OSError:
                raise _Broken(self._exit_reason(timed_out=False)) from None

    def _read(self, deadline: float) -> _Ready | _ToolCall | _Result:
        """The next message from the worker, checked against its schema; `_Broken` if it died, hung past
        `deadline`, wrote too much, or sent anything malformed."""
        limit = self.limits.max_message_kb * 1024
        next_check = time.monotonic() + _QUOTA_CHECK_S
        while b"\n" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise _Broken(self._exit_reason(timed_out=True))
            if len(self._buffer) > limit:
                raise _Broken(f"the code's process sent a message over {self.limits.max_message_kb} KB and was stopped")
            if time.monotonic() >= next_check and self._workdir:
                self._check_quota()
                next_check = time.monotonic() + _QUOTA_CHECK_S
            ready, _, _ = select.select([self._from_worker], [], [], min(remaining, _QUOTA_CHECK_S))
            if not ready:
                continue
            chunk = os.read(self._from_worker, 1 << 16)
            if not chunk:
                raise _Broken(self._exit_reason(timed_out=False))
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        try:
            # printed lone surrogates (chr(0xd800)) arrive as JSON escapes; no tokenizer or store can encode them
            return _WORKER_MESSAGE.validate_python(replace_surrogates(json.loads(line)))
        except (ValueError, ValidationError):
            raise _Broken("the code's process sent a malformed message and was stopped") from None


_spawner: tuple[int, ThreadPoolExecutor] | None = None
_spawner_lock = threading.Lock()


def _spawn(args: list[str], **options: Any) -> subprocess.Popen:
    """`subprocess.Popen` from one thread that lives as long as this process. The worker's parent-death
    signal follows the *thread* that started it, and agents start sandboxes on pool threads that end while
    the sandbox lives on (its next run would find the worker killed and its variables gone)."""
    global _spawner
    with _spawner_lock:
        if _spawner is None or _spawner[0] != os.getpid():  # a forked host has no spawner thread
            _spawner = (os.getpid(), ThreadPoolExecutor(max_workers=1, thread_name_prefix="sandbox-spawner"))
        pool = _spawner[1]
    return pool.submit(lambda: subprocess.Popen(args, **options)).result()


def _cap(text: str | None, limit: int) -> str | None:
    if text is None or len(text) <= limit:
        return text
    return text[:limit] + f"...[truncated: {len(text) - limit} more characters]"


def _folder_usage(folder: str, limit_files: int) -> tuple[int, int]:
    """(bytes on disk, entries) below `folder`, counting at most `limit_files` entries."""
    used, entries, stack = 0, 0, [folder]
    while stack and entries < limit_files:
        try:
            with os.scandir(stack.pop()) as it:
                for entry in it:
                    entries += 1
                    try:
                        info = entry.stat(follow_symlinks=False)
                    except OSError:
                        continue
                    used += max(info.st_blocks * 512, 0)
                    if entry.is_dir(follow_symlinks=False):
                        stack.append(entry.path)
        except OSError:
            continue
    return used, entries


def replace_surrogates(value: Any) -> Any:
    """`value` with every string made encodable as UTF-8 (lone surrogates become '?'), through dicts and lists."""
    if isinstance(value, str):
        return value.encode("utf-8", "replace").decode("utf-8")
    if isinstance(value, dict):
        return {replace_surrogates(k): replace_surrogates(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [replace_surrogates(v) for v in value]
    return value


_READABLE_FILES = ["/etc/ld.so.cache", "/etc/localtime", "/proc/cpuinfo", "/proc/meminfo", "/dev/null", "/dev/urandom"]


def _readable_roots() -> list[str]:
    """Folders the worker may read: the Python installation and its packages, system libraries."""
    roots = {
        sys.prefix,
        sys.base_prefix,
        sys.exec_prefix,
        *site.getsitepackages(),
        "/usr/lib",
        "/usr/lib64",
        "/usr/share/zoneinfo",
        "/lib",
        "/lib64",
        "/sys/devices/system/cpu",
    }
    return sorted(r for r in roots if r and os.path.isdir(r))
