"""Sandbox worker: runs model-written Python in its own confined process.

Started by `PythonSandbox` as `python -I _worker.py CONFIG_JSON`; stdlib only until confined. It talks to
the host over two pipes with one JSON object a line:

  host -> worker  {"op": "run", "code", "nonce", "clock"} | {"op": "tool_result", "ok": bool, "value"|"error": ...}
  worker -> host  {"op": "ready", "isolation": [...], "pid"} | {"op": "tool_call", "name", "args", "kwargs"}
                  | {"op": "result", "nonce", "output", "error", "is_final", "final_answer", "final_answer_repr",
                     "duration_s", "clock"}

`random` (and numpy's) start from a fixed seed and the host fixes PYTHONHASHSEED, and a run given a `clock`
sees `time.time()` frozen there: replaying the same code gives the same values (self-consistent branches).

The host trusts none of it: it checks every message against its schema and the run's nonce, caps sizes,
and replaces the worker on anything else (the code runs in this process and can write to the pipe).

Variables persist between runs. Tools are stubs that forward each call to the host and wait for the answer.
"""

from __future__ import annotations

import ast
import contextlib
import importlib.util
import io
import json
import os
import random
import resource
import signal
import sys
import time
import traceback
from typing import Any

CONFIG = json.loads(sys.argv[1])
_commands = os.fdopen(CONFIG["fd_in"], "r", encoding="utf-8")
_replies = os.fdopen(CONFIG["fd_out"], "w", encoding="utf-8")


def send(message: dict) -> None:
    _replies.write(json.dumps(message, default=repr) + "\n")
    _replies.flush()


def receive() -> dict:
    line = _commands.readline()
    if not line:
        sys.exit(0)  # host went away
    return json.loads(line)


class FinalAnswer(BaseException):
    """Raised by final_answer(); a BaseException so `except Exception` in model code cannot swallow it."""

    def __init__(self, value: object) -> None:
        self.value = value


class ExecutionTimeout(BaseException):
    pass


class CPUTimeExceeded(BaseException):
    pass


class ToolError(Exception):
    pass


class BoundedOutput(io.TextIOBase):
    """stdout/stderr replacement that keeps at most `limit` characters, so a print loop cannot fill memory."""

    def __init__(self, limit: int) -> None:
        self.limit, self.size, self.dropped = limit, 0, 0
        self.parts: list[str] = []

    def write(self, text: str) -> int:
        room = self.limit - self.size
        if room > 0:
            self.parts.append(text[:room])
            self.size += min(len(text), room)
        self.dropped += max(len(text) - max(room, 0), 0)
        return len(text)

    def getvalue(self) -> str:
        text = "".join(self.parts)
        return text + (f"\n...[output truncated: {self.dropped} more characters]" if self.dropped else "")


def final_answer(answer: object) -> None:
    """End the episode with `answer` as the final answer."""
    raise FinalAnswer(answer)


def make_tool_stub(name: str, description: str):
    def stub(*args, **kwargs):
        send({"op": "tool_call", "name": name, "args": list(args), "kwargs": kwargs})
        reply = receive()
        if not reply.get("ok"):
            raise ToolError(reply.get("error", "tool failed"))
        return reply.get("value")

    stub.__name__, stub.__doc__ = name, description
    return stub


def confine() -> list[str]:
    """Apply every limit this platform supports; returns what is active."""
    limits = CONFIG["limits"]
    mb = 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limits["memory_mb"] * mb,) * 2)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limits["file_size_mb"] * mb,) * 2)
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_NOFILE, (limits["max_open_files"],) * 2)
    hard_cpu = limits["cpu_time_s"] * limits["max_runs_per_worker"]
    resource.setrlimit(resource.RLIMIT_CPU, (limits["cpu_time_s"], hard_cpu))
    active = ["rlimits"]
    if sys.platform != "linux":
        return active
    spec = importlib.util.spec_from_file_location("_confine", os.path.join(os.path.dirname(__file__), "_confine.py"))
    assert spec is not None and spec.loader is not None, "_confine.py ships next to the worker"
    kernel = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(kernel)
    steps = [
        kernel.private_network,  # needs the privileges dropped next
        lambda: kernel.drop_privileges(os.getcwd()),
        lambda: kernel.die_with_host(CONFIG["host_pid"]),
        lambda: kernel.landlock(CONFIG["read_only"], [os.getcwd()], CONFIG["read_only_files"]),
        kernel.seccomp,
    ]
    for step in steps:
        try:
            active.append(step())
        except OSError:
            pass  # not permitted here (older kernel, no privileges): the host reports what is missing
    return active


def run(code: str, namespace: dict, tools: dict, limits: dict) -> dict:
    # The tools belong to the harness: a step that named a variable `final_answer` (seen on long sums:
    # `final_answer = step7 + 38279`) must not leave the next step's `final_answer(...)` calling an int.
    namespace.update(tools)
    output = BoundedOutput(limits["max_output_chars"])
    result: dict[str, Any] = {
        "op": "result",
        "error": None,
        "is_final": False,
        "final_answer": None,
        "final_answer_repr": None,
    }
    used = sum(resource.getrusage(resource.RUSAGE_SELF)[:2])
    resource.setrlimit(
        resource.RLIMIT_CPU, (int(used) + limits["cpu_time_s"], resource.getrlimit(resource.RLIMIT_CPU)[1])
    )
    signal.setitimer(signal.ITIMER_REAL, limits["timeout_s"])
    sys.stdout = sys.stderr = output
    try:
        tree = ast.parse(code, "<code>")
        last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
        assert last is None or isinstance(last, ast.Expr)
        exec(compile(tree, "<code>", "exec"), namespace)
        if last is not None:  # like a notebook cell: show the value of a trailing expression
            value = eval(compile(ast.Expression(last.value), "<code>", "eval"), namespace)
            if value is not None:
                print(repr(value))
    except FinalAnswer as answer:
        result["is_final"] = True
        result["final_answer_repr"] = repr(answer.value)
        try:
            json.dumps(answer.value)
            result["final_answer"] = answer.value
        except (TypeError, ValueError):
            result["final_answer"] = str(answer.value)
    except ExecutionTimeout:
        result["error"] = f"TimeoutError: the code ran longer than {limits['timeout_s']} s and was stopped"
    except CPUTimeExceeded:
        result["error"] = f"CPU time limit of {limits['cpu_time_s']} s exceeded; the code was stopped"
    except MemoryError:
        result["error"] = f"MemoryError: the code tried to use more than {limits['memory_mb']} MB"
    except SyntaxError as error:
        text = (error.text or "").strip()
        shell_command = text.startswith("!")  # a notebook's `!pip install pymatgen`
        hint = _no_programs_hint(tools) if shell_command else ""
        result["error"] = f"SyntaxError (line {error.lineno}): {error.msg}: {text}{hint}"
    except BaseException as error:
        frames = [f for f in traceback.extract_tb(error.__traceback__) if f.filename == "<code>"]
        where = f" (line {frames[-1].lineno})" if frames else ""
        result["error"] = f"{type(error).__name__}{where}: {error}" + _suggestion(error, namespace, tools)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        sys.stdout, sys.stderr = sys.__stdout__, sys.__stderr__
    result["output"] = output.getvalue()
    limit = limits["max_output_chars"]
    for key in ("error", "final_answer_repr"):
        result[key] = _cap(result[key], limit)
    if len(json.dumps(result["final_answer"], default=repr)) > limit:
        result["final_answer"] = _cap(str(result["final_answer"]), limit)
    return result


def _cap(text: str | None, limit: int) -> str | None:
    if text is None or len(text) <= limit:
        return text
    return text[:limit] + f"...[truncated: {len(text) - limit} more characters]"


def _suggestion(error: BaseException, namespace: dict, tools: dict) -> str:
    """A hint for the slips models make with tools: a misspelt name (Python's "Did you mean", which
    str(NameError) leaves out: Final_answer(...)), importing a tool from an invented module (`from knowledge_base
    import retrieve`, seen under a code-opening first-thought prefix) or a name a package no longer has (`from
    pymatgen import Composition`, the pre-2022 API, in 18 of the 1.5B teacher's first 22 molar-mass episodes,
    none of which then called analyze_composition), installing a package through subprocess, and calling a tool
    after assigning a value to its name in the same code."""
    shadowed = [name for name, function in tools.items() if namespace.get(name) is not function]
    if isinstance(error, TypeError) and shadowed:
        return f". The code assigned a value to the tool {shadowed[0]!r}: give that variable another name"
    name = getattr(error, "name", None)
    if isinstance(error, ImportError):
        return f". Nothing can be installed; {_tools_are_defined(tools)}"
    if isinstance(error, PermissionError) and _raised_in_subprocess(error):
        return _no_programs_hint(tools)
    if not isinstance(error, NameError) or not name:
        return ""
    import builtins
    import difflib

    close = difflib.get_close_matches(name, [*namespace, *dir(builtins)], n=1, cutoff=0.7)
    return f". Did you mean {close[0]!r}?" if close else ""


def _no_programs_hint(tools: dict) -> str:
    """The hint for code that tries to run a program (`!pip install pymatgen`, `subprocess.run(["pip", ...])`,
    which the sandbox forbids): the 1.5B teacher retried both with sudo rather than use its tools."""
    return f". The sandbox runs no other programs and nothing can be installed; {_tools_are_defined(tools)}"


def _tools_are_defined(tools: dict) -> str:
    return f"the tools are already defined functions: {', '.join(tools)}"


def _raised_in_subprocess(error: BaseException) -> bool:
    return any(frame.filename.endswith("subprocess.py") for frame in traceback.extract_tb(error.__traceback__))


@contextlib.contextmanager
def frozen_clock(clock: float | None):
    """Yield the run's start time; with `clock`, time.time() returns it throughout the run."""
    if clock is None:
        yield time.time()
        return
    real_time, real_ns = time.time, time.time_ns
    time.time, time.time_ns = (lambda: clock), (lambda: int(clock * 1e9))
    try:
        yield clock
    finally:
        time.time, time.time_ns = real_time, real_ns


def seed_randomness(seed: int) -> None:
    random.seed(seed)
    numpy = sys.modules.get("numpy")
    if numpy is not None:
        numpy.random.seed(seed)


def on_alarm(signum, frame):
    raise ExecutionTimeout()


def on_cpu_limit(signum, frame):
    raise CPUTimeExceeded()


def main() -> None:
    for module in CONFIG["preimport"]:
        try:
            __import__(module)
        except ImportError:
            pass
    isolation = confine()
    seed_randomness(0)
    signal.signal(signal.SIGALRM, on_alarm)
    signal.signal(signal.SIGXCPU, on_cpu_limit)
    tools = {"final_answer": final_answer}
    for tool in CONFIG["tools"]:
        tools[tool["name"]] = make_tool_stub(tool["name"], tool["description"])
    namespace = {"__name__": "__main__", **tools}
    send({"op": "ready", "isolation": isolation, "pid": os.getpid()})
    while True:
        command = receive()
        if command.get("op") == "run":
            started, clock = time.perf_counter(), command.pop("clock", None)
            with frozen_clock(clock) as now:
                reply = {"nonce": command.pop("nonce"), **run(command.pop("code"), namespace, tools, CONFIG["limits"])}
            reply["duration_s"], reply["clock"] = time.perf_counter() - started, now
            send(reply)


if __name__ == "__main__":
    main()
