"""The sandbox must contain hostile model-written code and always come back with an observation."""

import os
import sys

import pytest

from agentdistill.tools import PythonSandbox, SandboxLimits, tool

linux_only = pytest.mark.skipif(sys.platform != "linux", reason="kernel confinement is Linux-only")


@tool
def lookup(key: str) -> str:
    """Return a value for key."""
    return {"peru": "Lima"}.get(key.lower(), "unknown")


@pytest.fixture
def box():
    with PythonSandbox(tools=[lookup], limits=SandboxLimits(timeout_s=3, cpu_time_s=5)) as sandbox:
        yield sandbox


def test_state_persists_and_trailing_expression_is_shown(box):
    assert box.run("import math\nx = math.factorial(5)").error is None
    result = box.run("x + 1")
    assert result.output.strip() == "121"


def test_tools_are_callable_from_code(box):
    result = box.run("print(lookup('Peru'))")
    assert result.output.strip() == "Lima"
    assert result.tool_calls == ["lookup"]
    bad = box.run("lookup(key=None)")
    assert "ToolError" in bad.error and "key" in bad.error


def test_final_answer_cannot_be_swallowed_by_except(box):
    result = box.run("try:\n    final_answer({'a': 1})\nexcept Exception:\n    print('swallowed')")
    assert result.is_final and result.final_answer == {"a": 1}
    assert "swallowed" not in result.output


def test_errors_are_observations(box):
    result = box.run("1/0")
    assert result.error.startswith("ZeroDivisionError (line 1)")
    assert "Error: ZeroDivisionError" in result.observation()
    assert box.run("def f(:").error.startswith("SyntaxError")
    assert box.run("Final_answer(3)").error.endswith("Did you mean 'final_answer'?")
    invented = box.run("from knowledge_base import lookup").error
    assert (
        invented.startswith("ModuleNotFoundError")
        and "the tools are already defined functions: final_answer, lookup" in invented
    )


def test_reaching_outside_the_sandbox_points_to_the_tools(box):
    """The 1.5B teacher's materials episodes: `from pymatgen import Composition` (the pre-2022 API), then
    `!pip install pymatgen` or subprocess with sudo, never the analyze_composition tool it had."""
    gone = box.run("from math import Composition").error
    assert gone.startswith("ImportError (line 1)")
    assert "the tools are already defined functions: final_answer, lookup" in gone
    shell = box.run("!pip install pymatgen").error
    assert shell.startswith("SyntaxError (line 1)") and "runs no other programs" in shell and "lookup" in shell
    assert "runs no other programs" not in box.run("def f(:").error


@linux_only
def test_installing_through_subprocess_is_refused_with_a_hint(box):
    result = box.run('import subprocess\nsubprocess.run(["sudo", "pip", "install", "pymatgen"])')
    assert result.error.startswith("PermissionError (line 2)")
    assert "nothing can be installed; the tools are already defined functions: final_answer, lookup" in result.error
    assert "runs no other programs" not in box.run("open('/etc/agentdistill-test', 'w')").error


def test_a_variable_named_like_a_tool_does_not_break_the_next_step(box):
    """Seen on chain_sum: `final_answer = step7 + 38279` in one step, then `final_answer(-154752)` failed with
    "'int' object is not callable" and the right answer was lost."""
    assert box.run("final_answer = 2 + 3\nprint(final_answer)").output.strip() == "5"
    result = box.run("final_answer(5)")
    assert result.is_final and result.final_answer == 5
    # within one step the assignment still holds, and the error says what happened
    same_step = box.run("lookup = 'x'\nlookup('peru')").error
    assert same_step.startswith("TypeError (line 2)") and "assigned a value to the tool 'lookup'" in same_step
    assert box.run("print(lookup('Peru'))").output.strip() == "Lima"


def test_infinite_loop_is_stopped_and_state_survives(box):
    box.run("kept = 7")
    result = box.run("while True:\n    pass")
    assert "TimeoutError" in result.error and not result.restarted
    assert box.run("print(kept)").output.strip() == "7"


def test_loop_that_swallows_exceptions_is_still_stopped(box):
    result = box.run("while True:\n    try:\n        pass\n    except Exception:\n        pass")
    assert "TimeoutError" in result.error


def test_hang_inside_c_code_kills_and_restarts_worker(box):
    box.run("kept = 1")
    result = box.run("sum(range(10**13))")  # one C call: Python signal handlers never get to run
    assert result.restarted and "TimeoutError" in result.error
    assert "NameError" in box.run("kept").error  # a fresh worker: state is gone, and we said so
    assert box.run("print(2 + 2)").output.strip() == "4"


def test_cpu_time_limit():
    with PythonSandbox(limits=SandboxLimits(timeout_s=30, cpu_time_s=1)) as sandbox:
        result = sandbox.run("while True:\n    pass")
    assert "CPU time limit" in result.error


def test_memory_bomb(box):
    result = box.run("blob = bytearray(10 * 1024**3)")
    assert result.error.startswith("MemoryError")
    assert box.run("print('alive')").output.strip() == "alive"


def test_output_is_truncated():
    with PythonSandbox(limits=SandboxLimits(max_output_chars=200)) as sandbox:
        result = sandbox.run("for i in range(100000):\n    print('spam', i)")
    assert len(result.output) < 300 and "output truncated" in result.output


def test_crash_is_reported_and_worker_restarted(box):
    result = box.run("import os\nos._exit(3)")
    assert result.restarted and "status 3" in result.error
    result = box.run("import ctypes\nctypes.string_at(0)")
    assert result.restarted and "signal" in result.error
    assert box.run("print('back')").output.strip() == "back"


def test_host_environment_is_not_inherited(box, monkeypatch):
    monkeypatch.setenv("AGENTDISTILL_TEST_SECRET", "hunter2")
    box.reset()  # a worker started after the secret was set
    result = box.run("import os\nprint(os.environ.get('AGENTDISTILL_TEST_SECRET'), os.environ.get('HOME'))")
    assert "hunter2" not in result.output
    assert result.output.split()[1] == box.workdir


@linux_only
def test_kernel_confinement_is_active(box):
    box.start()
    for protection in ("rlimits", "landlock", "seccomp"):
        assert any(p.startswith(protection) for p in box.isolation), box.isolation


@linux_only
def test_fork_bomb_and_processes_are_refused(box):
    assert "PermissionError" in box.run("import os\nwhile True:\n    os.fork()").error
    assert "PermissionError" in box.run("import subprocess\nsubprocess.run(['true'])").error
    assert box.run("import os\nprint(os.system('true'))").output.strip() != "0"  # no shell ever runs
    threads = box.run("import threading\nt = threading.Thread(target=print, args=('hi',))\nt.start(); t.join()")
    assert threads.error is None and threads.output.strip() == "hi"  # threads are not processes


@linux_only
def test_sockets_are_refused(box):
    result = box.run("import socket\ns = socket.create_connection(('127.0.0.1', 22), timeout=1)")
    assert "PermissionError" in result.error


@linux_only
def test_writes_outside_the_workdir_are_refused(box, tmp_path):
    target = tmp_path / "escaped.txt"
    result = box.run(f"open({str(target)!r}, 'w').write('x')")
    assert "PermissionError" in result.error and not target.exists()
    inside = box.run("open('notes.txt', 'w').write('ok')\nprint(open('notes.txt').read())")
    assert inside.output.strip() == "ok"
    assert os.path.exists(os.path.join(box.workdir, "notes.txt"))


@linux_only
def test_host_files_cannot_be_read(box, tmp_path):
    secret = tmp_path / "id_rsa"
    secret.write_text("PRIVATE KEY")
    result = box.run(f"print(open({str(secret)!r}).read())")
    assert "PermissionError" in result.error and "PRIVATE" not in result.output


@linux_only
def test_host_process_cannot_be_signalled(box):
    result = box.run(f"import os, signal\nos.kill({os.getpid()}, signal.SIGKILL)")
    assert "PermissionError" in result.error  # and we are still alive to assert it


def test_scientific_stack_importable():
    # the imports alone take seconds on a loaded 2-core machine (CI's 3 s budget was once not enough); what is
    # tested is that they work inside the confinement, not how fast
    with PythonSandbox(limits=SandboxLimits(timeout_s=120, cpu_time_s=120)) as sandbox:
        result = sandbox.run(
            "import numpy, sympy\nfrom pymatgen.core import Composition\n"
            "print(int(numpy.arange(4).sum()), sympy.factorint(12), Composition('Fe2O3').reduced_formula)"
        )
    assert result.error is None, result.error
    assert result.output.split() == ["6", "{2:", "2,", "3:", "1}", "Fe2O3"]
