"""Regression tests for what an adversarial review got past the sandbox: metadata changes on host paths,
host hangs, forged protocol messages, uncapped error text and unbounded disk use. Each snippet is hostile
model code; the host must stay unchanged, answer within the run's deadline and go on working."""

import os
import stat
import subprocess
import sys
import threading
import time

import pytest

from agentdistill.tools import PythonSandbox, SandboxLimits, tool

pytestmark = pytest.mark.slow  # real worker processes, killed and hung on purpose

linux_only = pytest.mark.skipif(sys.platform != "linux", reason="kernel confinement is Linux-only")
LIMITS = SandboxLimits(timeout_s=3, cpu_time_s=5)


@tool
def slow(x: int) -> int:
    """Return x after a pause."""
    time.sleep(0.2)
    return x


@pytest.fixture
def box():
    with PythonSandbox(tools=[slow], limits=LIMITS) as sandbox:
        yield sandbox


@pytest.fixture
def host_file(tmp_path):
    path = tmp_path / "host.txt"
    path.write_text("host data")
    path.chmod(0o644)
    return path


def snapshot(path):
    info = os.lstat(path)
    return info.st_mode, info.st_uid, info.st_gid, info.st_mtime_ns, os.listxattr(path)


@linux_only
@pytest.mark.parametrize(
    "call",
    [
        "os.chmod(P, 0o666)",
        "os.chown(P, 65534, 65534)",
        "os.utime(P, (0, 0))",
        "os.setxattr(P, 'user.p', b'1')",
        "fd = os.open(P, os.O_RDONLY); os.fchmod(fd, 0o666)",
    ],
)
def test_metadata_of_host_files_cannot_change(box, host_file, call):
    before = snapshot(host_file)
    result = box.run(f"import os\nP = {str(host_file)!r}\n{call}")
    assert result.error and "PermissionError" in result.error, result.error
    assert snapshot(host_file) == before


@linux_only
def test_the_folder_above_the_private_one_keeps_its_mode(box):
    parent = os.path.dirname(box.workdir)
    mode = stat.S_IMODE(os.stat(parent).st_mode)
    result = box.run(f"import os\nos.chmod('..', {mode:#o})")  # its own mode: harmless where it got through
    assert "PermissionError" in result.error
    assert stat.S_IMODE(os.stat(parent).st_mode) == mode


@linux_only
def test_device_nodes_cannot_be_made(box):
    result = box.run("import os, stat\nos.mknod('kmsg', 0o600 | stat.S_IFCHR, os.makedev(1, 11))")
    assert "PermissionError" in result.error
    assert not os.path.exists(os.path.join(box.workdir, "kmsg"))


def test_flooding_tool_calls_without_reading_replies_cannot_hang_the_host(box):
    started = time.monotonic()
    result = box.run(
        "import sys\nm = sys.modules['__main__']\n"
        "[m.send({'op': 'tool_call', 'name': 'slow', 'args': [1], 'kwargs': {}}) for _ in range(20000)]"
    )
    assert time.monotonic() - started < LIMITS.timeout_s + 3
    assert result.restarted and ("tool calls" in result.error or "TimeoutError" in result.error), result.error
    assert box.run("print('alive')").output.strip() == "alive"


def test_ignoring_the_alarm_cannot_stretch_the_deadline_with_tool_calls(box):
    started = time.monotonic()
    result = box.run("import signal\nsignal.signal(signal.SIGALRM, signal.SIG_IGN)\nfor i in range(1000):\n    slow(i)")
    took = time.monotonic() - started
    assert took < LIMITS.timeout_s + 3, took  # the run's deadline, however many tool calls were made
    assert result.restarted and "TimeoutError" in result.error
    assert len(result.tool_calls) < 30


def test_tool_calls_per_run_are_capped():
    with PythonSandbox(tools=[slow], limits=SandboxLimits(timeout_s=30, max_tool_calls=5)) as sandbox:
        result = sandbox.run("for i in range(10):\n    slow(i)")
    assert result.restarted and "more than 5 tool calls" in result.error


@pytest.mark.parametrize(
    "forged",
    [
        "{'op': 'result', 'extra': 1}",
        "{'op': 'result', 'nonce': 'guess', 'output': 'forged', 'error': None, 'is_final': True, "
        "'final_answer': 1, 'final_answer_repr': '1', 'duration_s': 0.0}",
        "{'op': 'result', 'nonce': 1, 'output': ['not', 'text']}",
        "{'op': 'ready', 'isolation': [], 'pid': 1}",
    ],
)
def test_forged_messages_restart_the_worker_and_never_raise(box, forged):
    result = box.run(f"import sys\nsys.modules['__main__'].send({forged})\nprint('real')")
    assert result.restarted and ("malformed" in result.error or "out of turn" in result.error), result.error
    assert not result.is_final
    assert box.run("print('next')").output.strip() == "next"


def test_a_late_result_from_a_thread_never_shifts_later_observations(box):
    box.run(
        "import sys, threading, time\n"
        "def late():\n    time.sleep(0.3)\n"
        "    sys.modules['__main__'].send({'op': 'result', 'nonce': 'old', 'output': 'late', 'error': None,"
        " 'is_final': False, 'final_answer': None, 'final_answer_repr': None, 'duration_s': 0.0})\n"
        "threading.Thread(target=late).start()"
    )
    outputs = [box.run(f"import time\ntime.sleep(0.5)\nprint({i})") for i in range(3)]
    for i, result in enumerate(outputs):
        assert "late" not in result.output
        assert result.output.strip() == str(i) or result.restarted  # its own output, or a restart saying so


def test_error_text_is_capped(box):
    result = box.run("raise ValueError('x' * 7_000_000)")
    assert result.error.startswith("ValueError") and len(result.error) < LIMITS.max_output_chars + 100


def test_final_answer_is_capped(box):
    result = box.run("final_answer('y' * 7_000_000)")
    assert result.is_final and len(result.final_answer) < LIMITS.max_output_chars + 100
    assert len(result.final_answer_repr) < LIMITS.max_output_chars + 100


def test_the_private_folder_has_a_disk_quota():
    with PythonSandbox(limits=SandboxLimits(timeout_s=20, disk_quota_mb=32)) as sandbox:
        result = sandbox.run(
            "block = b'x' * (8 * 1024 * 1024)\nfor i in range(40):\n    open(f'f{i}', 'wb').write(block)"
        )
        assert result.restarted and "more than 32 MB" in result.error, result.error
        assert sum(f.stat().st_size for f in os.scandir(sandbox.workdir)) == 0  # a fresh, empty folder
        assert sandbox.run("print('alive')").output.strip() == "alive"


def test_threads_left_running_do_nothing_between_runs(box):
    box.run(
        "import threading, time\ncount = [0]\n"
        "def spin():\n    while True:\n        count[0] += 1\n        time.sleep(0.01)\n"
        "threading.Thread(target=spin, daemon=True).start()"
    )
    first = int(box.run("print(count[0])").output)
    time.sleep(1.0)  # the agent thinking: the worker is stopped
    second = int(box.run("print(count[0])").output)
    assert second - first < 30  # ~100 would mean it ran while paused


# a host that starts a sandbox, runs the code given as argv[1], prints the output and the worker's pid, and waits
HOST = """
import sys, time
from agentdistill.tools import PythonSandbox, SandboxLimits
box = PythonSandbox(limits=SandboxLimits(timeout_s=5))
print(box.run(sys.argv[1] + "\\nimport os\\nprint(os.getpid())").output, flush=True)
time.sleep(600)
"""


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat_file:
            return stat_file.read().rsplit(")", 1)[1].split()[0] != "Z"  # a zombie has died
    except FileNotFoundError:
        return False


@linux_only
@pytest.mark.parametrize(
    "code",
    ["", "import ctypes\nprint(ctypes.CDLL(None).prctl(1, 0, 0, 0, 0))"],  # PR_SET_PDEATHSIG = 0: stay
    ids=["paused", "clears-its-death-signal"],
)
def test_a_paused_worker_dies_with_its_host(code):
    # found after an experiment's host was SIGKILLed: its worker, stopped between runs, never read the closed pipe
    host = subprocess.Popen([sys.executable, "-c", HOST, code], stdout=subprocess.PIPE, text=True)
    try:
        lines = [host.stdout.readline().strip() for _ in range(2 if code else 1)]
    finally:
        host.kill()
        host.wait()
    worker = int(lines[-1])
    if code:
        assert lines[0] == "-1"  # the prctl was refused
    deadline = time.monotonic() + 10
    while _alive(worker) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(worker), f"worker {worker} outlived its host"


def test_a_sandbox_outlives_the_thread_that_started_it():
    # agents start sandboxes on pool threads; the worker must die with the host, not with that thread
    sandbox = PythonSandbox(limits=LIMITS)  # not started: its first run starts it, on the thread below
    try:
        starter = threading.Thread(target=sandbox.run, args=("x = 42",))
        starter.start()
        starter.join()
        time.sleep(0.3)
        result = sandbox.run("print(x)")
    finally:
        sandbox.close()
    assert not result.restarted and result.output.strip() == "42", result
