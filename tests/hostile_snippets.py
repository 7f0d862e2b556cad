"""The adversarial catalogue: hostile model code the sandbox must contain, each with how to tell it was.

Used by `tests/test_sandbox_adversarial.py` (CI) and `bench/adversarial.py` (prints `contained N/N` with
the time each snippet took). A snippet is contained when its check passes on the result and the host's
state, and the same sandbox then still runs `print('alive')`.
"""

from __future__ import annotations

import os
import stat
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from agentdistill.tools import ExecutionResult, PythonSandbox, SandboxLimits, tool

SECRET = "hunter2-host-secret"
LIMITS = SandboxLimits(timeout_s=3, cpu_time_s=3, max_tool_calls=50, disk_quota_mb=32)


@tool
def slow_tool(x: int) -> int:
    """Return x after a pause."""
    time.sleep(0.2)
    return x


class Host:
    """What the code must not touch: a secret file and folder of the host, and the host process."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="agentdistill-host-"))
        self.file = self.dir / "id_rsa"
        self.file.write_text(SECRET)
        self.file.chmod(0o644)
        self.pid = os.getpid()
        self.before = self.state()

    def state(self) -> tuple:
        info = os.lstat(self.file)
        folder = os.lstat(self.dir)
        return (
            sorted(os.listdir(self.dir)),
            info.st_mode,
            info.st_uid,
            info.st_gid,
            info.st_mtime_ns,
            os.listxattr(self.file),
            self.file.read_text(),
            stat.S_IMODE(folder.st_mode),
            folder.st_uid,
        )

    def unchanged(self) -> bool:
        return self.state() == self.before

    def fill(self, code: str) -> str:
        return (
            code.replace("HOST_FILE", repr(str(self.file)))
            .replace("HOST_DIR", repr(str(self.dir)))
            .replace("HOST_PID", str(self.pid))
        )


Check = Callable[[ExecutionResult, Host], bool]


def refused(result: ExecutionResult, host: Host) -> bool:
    """The call failed with a permission error (or the code never got what it wanted) and the host is as it was."""
    text = f"{result.output}\n{result.error or ''}"
    return (
        "PermissionError" in text
        or "Operation not permitted" in text
        or "Errno 1]" in text
        or "Errno 13]" in text
        or "denied" in text
    ) and host.unchanged()


def stopped(result: ExecutionResult, host: Host) -> bool:
    """The run was stopped with an error (time, CPU, memory, quota, protocol) and the host is as it was."""
    return result.error is not None and host.unchanged()


def no_secret(result: ExecutionResult, host: Host) -> bool:
    return SECRET not in f"{result.output}{result.error}{result.final_answer_repr}" and host.unchanged()


def restarted(result: ExecutionResult, host: Host) -> bool:
    return result.restarted and not result.is_final and host.unchanged()


def capped(result: ExecutionResult, host: Host) -> bool:
    texts = [result.output, result.error or "", result.final_answer_repr or "", str(result.final_answer)]
    return all(len(t) < LIMITS.max_output_chars + 200 for t in texts) and host.unchanged()


@dataclass
class Hostile:
    threat: str
    code: str
    contained: Check = refused
    setup: list[str] = field(default_factory=list)  # earlier runs in the same sandbox


def _send(message: str) -> str:
    return f"import sys\nsys.modules['__main__'].send({message})\nprint('after')"


_RESULT = (
    "{'op': 'result', 'nonce': 'guess', 'output': 'forged', 'error': None, 'is_final': True, "
    "'final_answer': 1, 'final_answer_repr': '1', 'duration_s': 0.0}"
)
_SYSCALL = (
    "import ctypes\nlibc = ctypes.CDLL(None, use_errno=True)\nr = libc.syscall({nr}{args})\n"
    "if r < 0 and ctypes.get_errno() == 1: raise PermissionError(1, 'denied')\nprint(r, ctypes.get_errno())"
)

CATALOGUE: list[Hostile] = [
    # time and CPU
    Hostile("infinite loop", "while True:\n    pass", stopped),
    Hostile(
        "loop that swallows the timeout",
        "while True:\n    try:\n        pass\n    except BaseException:\n        pass",
        stopped,
    ),
    Hostile("hang inside C code", "sum(range(10**13))", stopped),
    Hostile("sleep past the limit", "import time\ntime.sleep(60)", stopped),
    Hostile(
        "alarm ignored, then a busy loop",
        "import signal\nsignal.signal(signal.SIGALRM, signal.SIG_IGN)\nwhile True:\n    pass",
        stopped,
    ),
    Hostile(
        "alarm ignored, slow tool calls",
        "import signal\nsignal.signal(signal.SIGALRM, signal.SIG_IGN)\nfor i in range(1000):\n    slow_tool(i)",
        stopped,
    ),
    Hostile(
        "timer reset from inside", "import signal\nwhile True:\n    signal.setitimer(signal.ITIMER_REAL, 100)", stopped
    ),
    # memory, output, disk
    Hostile("memory bomb", "blob = bytearray(10 * 1024**3)", stopped),
    Hostile("growing list", "x = []\nwhile True:\n    x.append(' ' * 10**6)", stopped),
    Hostile(
        "raise the memory limit",
        "import resource\nresource.setrlimit(resource.RLIMIT_AS, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))",
        lambda r, h: r.error is not None and h.unchanged(),
    ),
    Hostile("print flood", "for i in range(10**6):\n    print('spam', i)", capped),
    Hostile("one huge print", "print('x' * 50_000_000)", capped),
    Hostile("huge exception text", "raise ValueError('x' * 7_000_000)", capped),
    Hostile("huge final answer", "final_answer('y' * 7_000_000)", capped),
    Hostile(
        "disk filler",
        "block = b'x' * (8 * 1024**2)\nfor i in range(100):\n    open(f'f{i}', 'wb').write(block)",
        stopped,
    ),
    Hostile("one file past the size limit", "open('big', 'wb').write(b'x' * (64 * 1024**2))", stopped),
    Hostile("many small files", "for i in range(50_000):\n    open(f's{i}', 'w').write('x')", stopped),
    # processes
    Hostile("fork bomb", "import os\nwhile True:\n    os.fork()"),
    Hostile("subprocess", "import subprocess\nsubprocess.run(['id'])"),
    Hostile("os.system", "import os\nif os.system('true') != 0: raise PermissionError('no shell ran')"),
    Hostile("exec", "import os\nos.execv('/bin/sh', ['sh'])"),
    Hostile("posix_spawn", "import os\nos.posix_spawn('/bin/true', ['true'], {})"),
    Hostile("multiprocessing", "import multiprocessing\np = multiprocessing.Process(target=print)\np.start()"),
    Hostile("pty", "import pty\npty.spawn('/bin/sh')", stopped),
    # network
    Hostile("TCP connect", "import socket\nsocket.create_connection(('127.0.0.1', 22), timeout=1)"),
    Hostile("UDP socket", "import socket\nsocket.socket(socket.AF_INET, socket.SOCK_DGRAM)"),
    Hostile("Unix socket", "import socket\nsocket.socket(socket.AF_UNIX)"),
    Hostile("socketpair", "import socket\nsocket.socketpair()"),
    Hostile(
        "HTTP request",
        "import urllib.request\nurllib.request.urlopen('http://127.0.0.1:8000', timeout=1)",
        lambda r, h: r.error is not None and h.unchanged(),
    ),
    # writing and reading host files
    Hostile("write a host file", "open(HOST_FILE, 'w').write('owned')"),
    Hostile("append to a host file", "open(HOST_FILE, 'a').write('owned')"),
    Hostile("create a file in a host folder", "open(HOST_DIR + '/new', 'w').write('x')"),
    Hostile("delete a host file", "import os\nos.remove(HOST_FILE)"),
    Hostile("rename a host file", "import os\nos.rename(HOST_FILE, HOST_DIR + '/moved')"),
    Hostile(
        "hard link a host file inside",
        "import os\nos.link(HOST_FILE, 'stolen')\nprint(open('stolen').read())",
        no_secret,
    ),
    Hostile("symlink to a host file", "import os\nos.symlink(HOST_FILE, 'ln')\nprint(open('ln').read())", no_secret),
    Hostile("read a host file", "print(open(HOST_FILE).read())", no_secret),
    Hostile("read /etc/shadow", "print(open('/etc/shadow').read())", refused),
    Hostile("read the host's environment", "print(open('/proc/HOST_PID/environ').read())", no_secret),
    Hostile("list a host folder", "import os\nprint(os.listdir(HOST_DIR))", refused),
    Hostile(
        "read the environment",
        "import os\nprint(dict(os.environ))",
        lambda r, h: "AGENTDISTILL_HOST_SECRET" not in r.output and h.unchanged(),
    ),
    Hostile("write /dev/shm", "open('/dev/shm/x', 'w').write('x')"),
    # metadata
    Hostile("chmod a host file", "import os\nos.chmod(HOST_FILE, 0o666)"),
    Hostile("chown a host file", "import os\nos.chown(HOST_FILE, 65534, 65534)"),
    Hostile("lchown a host file", "import os\nos.lchown(HOST_FILE, 65534, 65534)"),
    Hostile("utime a host file", "import os\nos.utime(HOST_FILE, (0, 0))"),
    Hostile("touch a host file", "import os\nos.utime(HOST_FILE)"),
    Hostile("setxattr on a host file", "import os\nos.setxattr(HOST_FILE, 'user.p', b'1')"),
    # (to the mode they have: harmless even where a broken sandbox let them through)
    Hostile(
        "fchmod through a readable fd",
        "import os\nfd = os.open(os.__file__, os.O_RDONLY)\nos.fchmod(fd, os.fstat(fd).st_mode & 0o7777)",
    ),
    Hostile("chmod the folder above", "import os, stat\nos.chmod('..', stat.S_IMODE(os.stat('..').st_mode))"),
    Hostile("character device", "import os, stat\nos.mknod('kmsg', 0o600 | stat.S_IFCHR, os.makedev(1, 11))"),
    Hostile("file handle escape", _SYSCALL.format(nr=304, args=", -100, None, 0")),
    # the kernel
    Hostile(
        "ptrace the host",
        "import ctypes\nlibc = ctypes.CDLL(None, use_errno=True)\n"
        "if libc.ptrace(16, HOST_PID, 0, 0) < 0: raise PermissionError(ctypes.get_errno(), 'ptrace')",
    ),
    Hostile("unshare", _SYSCALL.format(nr=272, args=", 0x10000000")),
    Hostile("mount", _SYSCALL.format(nr=165, args=", b'none', b'/tmp', b'tmpfs', 0, None")),
    Hostile("chroot", "import os\nos.chroot('.')"),
    Hostile("become root again", "import os\nos.setuid(0)\nprint(open('/etc/shadow').read())"),
    Hostile("bpf", _SYSCALL.format(nr=321, args=", 0, None, 0")),
    # the host process
    Hostile("kill the host", "import os, signal\nos.kill(HOST_PID, signal.SIGKILL)"),
    Hostile("kill every process", "import os, signal\nos.kill(-1, signal.SIGKILL)"),
    Hostile("kill the host's group", "import os, signal\nos.killpg(os.getpgid(HOST_PID), signal.SIGKILL)"),
    Hostile(  # PR_SET_PDEATHSIG = 0: the worker would then outlive a host killed while it is stopped
        "outlive the host",
        "import ctypes\nlibc = ctypes.CDLL(None, use_errno=True)\n"
        "if libc.prctl(1, 0, 0, 0, 0) < 0 and ctypes.get_errno() == 1: raise PermissionError(1, 'denied')\n"
        "print('cleared')",
    ),
    # crashes
    Hostile("segfault", "import ctypes\nctypes.string_at(0)", restarted),
    Hostile("os._exit", "import os\nos._exit(3)", restarted),
    Hostile("abort", "import os\nos.abort()", restarted),
    Hostile("sys.exit", "import sys\nsys.exit(0)", lambda r, h: r.error is not None and h.unchanged()),
    Hostile(
        "close the host's pipe",
        "import os\nfor fd in range(3, 64):\n    try:\n        os.close(fd)\n    except OSError:\n        pass",
        lambda r, h: r.error is not None and h.unchanged(),
    ),
    # the protocol
    Hostile(
        "flood tool calls unread",
        "import sys\nm = sys.modules['__main__']\n"
        "[m.send({'op': 'tool_call', 'name': 'slow_tool', 'args': [1], 'kwargs': {}}) for _ in range(20000)]",
        restarted,
    ),
    Hostile("too many tool calls", "for i in range(100):\n    slow_tool(i)", stopped),
    Hostile("malformed result", _send("{'op': 'result', 'extra': 1}"), restarted),
    Hostile("forged early result", _send(_RESULT), restarted),
    Hostile("result of the wrong types", _send("{'op': 'result', 'nonce': 1, 'output': ['x']}"), restarted),
    Hostile(
        "garbage on the pipe",
        "import sys\nm = sys.modules['__main__']\nm._replies.write('{not json\\n')\nm._replies.flush()",
        restarted,
    ),
    Hostile(
        "huge message",
        "import sys\nsys.modules['__main__'].send({'op': 'tool_call', 'name': 'slow_tool', "
        "'args': ['x' * 5_000_000], 'kwargs': {}})",
        restarted,
    ),
    Hostile(
        "late result from a thread",
        "import time\ntime.sleep(0.5)\nprint('own output')",
        lambda r, h: ("late" not in r.output) and h.unchanged(),
        setup=[
            "import sys, threading, time\ndef late():\n    time.sleep(0.2)\n"
            "    sys.modules['__main__'].send({'op': 'result', 'nonce': 'old', 'output': 'late', "
            "'error': None, 'is_final': False, 'final_answer': None, 'final_answer_repr': None, "
            "'duration_s': 0.0})\nthreading.Thread(target=late).start()"
        ],
    ),
]


def run_one(box: PythonSandbox, hostile: Hostile, host: Host) -> tuple[bool, float, str]:
    """(contained, seconds, what the code was told): runs the setup, the snippet, then a liveness check."""
    for code in hostile.setup:
        box.run(host.fill(code))
    started = time.monotonic()
    result = box.run(host.fill(hostile.code))
    took = time.monotonic() - started
    alive = box.run("print('alive')").output.strip() == "alive"
    observation = (result.error or result.output).strip().splitlines()
    return hostile.contained(result, host) and alive, took, observation[0][:100] if observation else ""


def make_sandbox() -> PythonSandbox:
    """The sandbox the catalogue runs in, started while the host holds a secret in its environment."""
    os.environ["AGENTDISTILL_HOST_SECRET"] = SECRET
    try:
        box = PythonSandbox(tools=[slow_tool], limits=LIMITS)
        box.start()
    finally:
        del os.environ["AGENTDISTILL_HOST_SECRET"]
    return box
