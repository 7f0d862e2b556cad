"""The trajectory store loses nothing: reading never alters a file, a torn or failed write is repaired, any
string the model printed can be stored, and a broken file is reported by file and line."""

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agentdistill.agents.memory import Trajectory
from agentdistill.cli import app
from agentdistill.tools import PythonSandbox
from agentdistill.trajectories import TrajectoryRecord, TrajectoryStore


def record(i: int, answer: str = "42") -> TrajectoryRecord:
    return TrajectoryRecord(
        id=f"t{i}#0",
        task_id=f"t{i}",
        suite="math",
        question="q",
        gold=["42"],
        metric="numeric",
        teacher="scripted",
        trajectory=Trajectory(question="q", model_id="scripted", final_answer=answer, termination="final_answer"),
        score=1.0,
        correct=True,
    )


def write(path, count: int, newline_at_end: bool = True) -> bytes:
    text = "".join(record(i).model_dump_json() + "\n" for i in range(count))
    data = (text if newline_at_end else text[:-1]).encode()
    path.write_bytes(data)
    return data


def test_reading_a_store_whose_last_record_lacks_its_newline_changes_nothing(tmp_path):
    data = write(tmp_path / "in.jsonl", 1000, newline_at_end=False)
    assert len(TrajectoryStore(tmp_path / "in.jsonl")) == 1000
    result = CliRunner().invoke(app, ["filter", str(tmp_path / "in.jsonl"), "--out", str(tmp_path / "out.jsonl")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "in.jsonl").read_bytes() == data  # the input is only read
    assert len(TrajectoryStore(tmp_path / "out.jsonl")) == 1000


def test_a_whole_last_record_is_completed_and_a_torn_one_cut_on_the_first_write(tmp_path):
    path = tmp_path / "s.jsonl"
    write(path, 2, newline_at_end=False)
    TrajectoryStore(path).append(record(2))
    assert [r.id for r in TrajectoryStore(path)] == ["t0#0", "t1#0", "t2#0"]

    torn = path.read_bytes() + b'{"schema_version": 1, "id": "t3#'
    path.write_bytes(torn)
    store = TrajectoryStore(path)
    assert len(store) == 3 and path.read_bytes() == torn  # a torn last line is skipped, not cut, by reading
    store.append(record(4))
    assert store.repaired_bytes == len(b'{"schema_version": 1, "id": "t3#')
    assert [r.id for r in TrajectoryStore(path)] == ["t0#0", "t1#0", "t2#0", "t4#0"]


def test_a_lone_surrogate_printed_by_model_code_is_stored(tmp_path):
    with PythonSandbox() as box:
        result = box.run("print(chr(0xd800) + 'x'); final_answer(1)")
    assert result.is_final and "x" in result.output
    store = TrajectoryStore(tmp_path / "s.jsonl")
    store.append(record(0, answer=result.output))
    store.append(record(1, answer=chr(0xDC00)))
    answers = [r.trajectory.final_answer for r in store]
    assert len(answers) == 2 and answers[0].rstrip().endswith("x")


def test_a_failed_append_leaves_no_torn_line(tmp_path):
    path = tmp_path / "s.jsonl"
    write(path, 2)
    script = textwrap.dedent(f"""
        import resource, signal, sys
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        from agentdistill.trajectories import TrajectoryStore
        from test_store import record
        store = TrajectoryStore({str(path)!r})
        size = {path.stat().st_size}
        resource.setrlimit(resource.RLIMIT_FSIZE, (size + 100, resource.RLIM_INFINITY))
        try:
            store.append(record(2, answer="x" * 5000))  # the file-size limit cuts this write short
        except OSError as error:
            print("failed:", error.errno)
        resource.setrlimit(resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
        store.append(record(3))
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert "failed: 27" in done.stdout, done.stderr  # EFBIG
    assert [r.id for r in TrajectoryStore(path)] == ["t0#0", "t1#0", "t3#0"]


def test_a_broken_line_is_reported_by_file_and_line(tmp_path):
    path = tmp_path / "s.jsonl"
    path.write_bytes(write(path, 2) + b"\xff\xfe garbage\n" + record(3).model_dump_json().encode() + b"\n")
    with pytest.raises(ValueError, match=r"s\.jsonl:3: not UTF-8"):
        list(TrajectoryStore(path))
    path.write_bytes(write(path, 1) + b'{"id": 1}\n')
    with pytest.raises(ValueError, match=r"s\.jsonl:2: not a trajectory record"):
        list(TrajectoryStore(path))


def _gzipped_store(tmp_path):
    """A three-record store kept only as runs.jsonl.gz, as a finished store is committed; (path, record ids)."""
    import gzip

    path = tmp_path / "runs.jsonl"
    store = TrajectoryStore(path)
    for i in range(3):
        store.append(record(i))
    path.with_name("runs.jsonl.gz").write_bytes(gzip.compress(path.read_bytes()))
    before = [r.id for r in store]
    path.unlink()
    return path, before


def test_a_gzipped_store_reads_the_same_and_resumes(tmp_path):
    path, before = _gzipped_store(tmp_path)
    packed = TrajectoryStore(path)
    assert [r.id for r in packed] == before and not path.exists()
    packed.append(record(3))  # resuming unpacks it: one store again, nothing lost
    assert [r.id for r in TrajectoryStore(path)] == [*before, record(3).id]
    assert path.exists() and not path.with_name("runs.jsonl.gz").exists()


def test_a_gzipped_store_checked_for_writing_keeps_its_records(tmp_path):
    """A collector checks its store is writable before it runs: on a fresh checkout whose finished store is
    committed gzipped, that check once created an empty NAME.jsonl that hid the archive, and the experiment
    collected the whole suite again."""
    path, before = _gzipped_store(tmp_path)
    TrajectoryStore(path).check_writable()
    assert [r.id for r in TrajectoryStore(path)] == before and not path.exists()  # still packed: nothing to commit
