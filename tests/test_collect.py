import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from agentdistill.agents.first_thought import cut_prefix
from agentdistill.errors import ConfigError, InputFileError, OutputExistsError
from agentdistill.llm import call_seed
from agentdistill.llm.batching import BatchingChatModel
from agentdistill.llm.precision import Precision
from agentdistill.pipeline.collect import Collector
from agentdistill.pipeline.collect_config import CollectConfig
from agentdistill.tasks import load_suite
from agentdistill.trajectories import TrajectoryRecord, TrajectoryStore
from agentdistill.trajectories.export import export_dataset
from agentdistill.trajectories.filters import filter_records
from conftest import GREEDY


class _Solver:
    """Scripted teacher: computes each math task's gold answer in code (or answers wrongly on purpose)."""

    def __init__(self, wrong_ids=()):
        self.wrong_ids = set(wrong_ids)

    def __call__(self, scripted, tasks):
        outputs = []
        for task in tasks:
            answer = "0" if task.id in self.wrong_ids else task.answers[0]
            outputs += [
                f"Thought: compute.\n```python\nprint({answer})\n```",
                f"Thought: done.\n```python\nfinal_answer({answer})\n```",
            ]
        return scripted(*outputs)


def test_cut_prefix_styles():
    cot = (
        "To find the total, we follow these steps:\n\n1. **Multiply** $23 \\times 12$ to get the pencils.\n\n"
        "Then subtract."
    )
    assert cut_prefix(cot, "paragraph") == "Thought: To find the total, we follow these steps:"
    assert cut_prefix(cot, "substantive") == "Thought: Multiply 23 12 to get the pencils."
    assert cut_prefix(cot, "substantive+code").endswith("pencils.\n```python\n")
    assert cut_prefix("", "paragraph") is None
    # the plan without its worked-out results: the code computes them
    assert cut_prefix(cot, "no-results+code") == "Thought: Multiply 23 * 12 to get the pencils.\n```python\n"
    chain = "Steps:\n\n1. **Add the first two numbers:** 423906 + 143510 = 567416, then $567416 - 943663 = -376247$."
    assert cut_prefix(chain, "no-results+code").splitlines()[0] == (
        "Thought: Add the first two numbers: 423906 + 143510, then 567416 - 943663."
    )
    assert cut_prefix("If x <= 5 and y >= 2, two tickets cost 2 * 3.50 = 7.00 dollars.", "no-results+code") == (
        "Thought: If x <= 5 and y >= 2, two tickets cost 2 * 3.50 dollars.\n```python\n"
    )


def test_collect_scores_stores_and_resumes(scripted, tmp_path):
    config = CollectConfig(**GREEDY, suite="math", n=3, out=str(tmp_path / "t.jsonl"))
    tasks = load_suite("math", "train", 3, 0)  # the tasks collect will use
    summary = Collector(config, model=_Solver(wrong_ids=[tasks[2].id])(scripted, tasks)).run()
    assert summary.done == 3 and summary.correct == 2
    records = list(TrajectoryStore(config.out))
    assert {r.task_id for r in records} == {t.id for t in tasks}
    assert all(r.schema_version == 1 and r.teacher == "scripted" and not r.used_prefix for r in records)
    again = Collector(config, model=scripted())
    assert again.jobs() == ([], 3)  # resume: nothing left to do
    with pytest.raises(FileExistsError):
        Collector(CollectConfig(**GREEDY, suite="math", n=3, out=config.out, resume=False), model=scripted()).jobs()


def test_a_run_never_continues_with_another_build_of_its_student(scripted, tmp_path):
    from agentdistill.distill.distill_config import STUDENT_MARKER

    student = tmp_path / "student" / "model"
    student.mkdir(parents=True)
    (student / STUDENT_MARKER).write_text(json.dumps({"build": "aaaa"}))
    config = CollectConfig(**GREEDY, teacher=f"hf:{student}", suite="math", n=2, out=str(tmp_path / "t.jsonl"))
    tasks = load_suite("math", "train", 2, 0)
    first = CollectConfig(**GREEDY, teacher=f"hf:{student}", suite="math", n=1, out=config.out)
    Collector(first, model=_Solver()(scripted, tasks[:1])).run()
    assert [r.model_build for r in TrajectoryStore(config.out)] == ["aaaa"]
    assert len(Collector(config, model=scripted()).jobs()[0]) == 1  # the same build continues
    (student / STUDENT_MARKER).write_text(json.dumps({"build": "bbbb"}))  # the student trained again
    with pytest.raises(FileExistsError, match=r"another build of hf:.* \(aaaa; now bbbb\).*move the file aside"):
        Collector(config, model=scripted())
    (student / STUDENT_MARKER).write_text("{}")  # nor with one from before builds were recorded
    with pytest.raises(FileExistsError, match=r"\(aaaa; now unrecorded\)"):
        Collector(config, model=scripted())
    (student / STUDENT_MARKER).write_text('{"build": "aa')  # a marker cut short: one line, nothing lost
    with pytest.raises(InputFileError, match=r"unreadable student marker .*train the student again"):
        Collector(config, model=scripted())
    assert [r.model_build for r in TrajectoryStore(config.out)] == ["aaaa"]


def test_a_run_never_continues_in_other_numerics(scripted, tmp_path):
    """A cell the engine began in Q8_0 is not continued in eager bf16 (a machine without the engine built)."""
    engine = Precision(
        dtype="fp32",
        device="cpu",
        requested="auto",
        native_bf16=False,
        hardware="x",
        reason="engine",
        quantization="Q8_0",
    )
    eager = engine.model_copy(update={"dtype": "bf16", "quantization": None, "hardware": "y"})
    tasks = load_suite("math", "train", 2, 0)
    config = CollectConfig(**GREEDY, suite="math", n=2, out=str(tmp_path / "t.jsonl"))
    first = config.model_copy(update={"n": 1})
    Collector(first, model=_Solver()(scripted, tasks[:1]).model_copy(update={"precision": engine})).run()
    elsewhere = engine.model_copy(update={"hardware": "another machine"})  # the same numerics on another CPU
    assert len(Collector(config, model=scripted().model_copy(update={"precision": elsewhere})).jobs()[0]) == 1
    with pytest.raises(OutputExistsError, match=r"run in Q8_0 \(now bf16\).*move the file aside"):
        Collector(config, model=scripted().model_copy(update={"precision": eager}))
    assert len(list(TrajectoryStore(config.out))) == 1


def test_the_configs_sampling_reaches_a_given_model_and_the_record_says_what_ran(scripted, tmp_path):
    """A model object passed in (quickstart and the Python API do this) keeps its own defaults (greedy here);
    the config's temperature, top_p and seed must still reach every call, and the record must state them."""
    config = CollectConfig(
        suite="math",
        n=1,
        samples=2,
        temperature=0.8,
        top_p=0.9,
        seed=5,
        stop_after_correct=None,
        prefix=False,
        out=str(tmp_path / "s.jsonl"),
    )
    tasks = load_suite("math", "train", 1, 5)  # the config's seed orders the tasks too
    model = _Solver()(scripted, tasks * 2)
    Collector(config, model=model).run()
    assert {(p.temperature, p.top_p) for p in model.params} == {(0.8, 0.9)}
    # each sample draws with its own seed (seed + sample), and each of its calls with that seed mixed with the
    # question and the step: one seed would make best-of-k draw one trajectory k times
    assert len({p.seed for p in model.params}) == 4
    assert sorted(p.seed for p in model.params) == sorted(
        call_seed(s, tasks[0].question, i) for s in (5, 6) for i in (0, 1)
    )
    records = sorted(TrajectoryStore(config.out), key=lambda r: r.sample)
    assert [(r.sampling["temperature"], r.sampling["top_p"], r.sampling["seed"]) for r in records] == [
        (0.8, 0.9, 5),
        (0.8, 0.9, 6),
    ]


def test_collect_with_prefix_records_the_span(scripted, tmp_path):
    config = CollectConfig(
        **{**GREEDY, "prefix": True}, suite="math", n=1, out=str(tmp_path / "p.jsonl"), prefix_style="substantive"
    )
    model = scripted(
        "First multiply the boxes by the pencils per box to get the total.\n\nThen subtract.",
        " I print it.\n```python\nprint(1)\n```",
        "Thought: ok\n```python\nfinal_answer(1)\n```",
    )
    Collector(config, model=model).run()
    record = next(iter(TrajectoryStore(config.out)))
    assert record.used_prefix and record.prefix.style == "substantive"
    first = next(m["content"] for m in record.messages if m["role"] == "assistant")
    start, end = record.prefix.char_span
    assert first[start:end] == "Thought: First multiply the boxes by the pencils per box to get the total."


def test_the_default_recipe_treats_bare_expressions_apart(scripted, tmp_path):
    """`auto`: a chain_sum task (a bare expression) runs with the `exact` prompt and without asking for a chain of
    thought; the scripted model holds only the episode's replies, so a prefix request would fail the run."""
    auto = {**GREEDY, "prefix": None, "prompt_style": "auto"}
    config = CollectConfig(**auto, suite="chain_sum", n=1, out=str(tmp_path / "c.jsonl"))
    task = load_suite("chain_sum", "train", 1, 0)[0]
    Collector(config, model=_Solver()(scripted, [task])).run()
    record = next(iter(TrajectoryStore(config.out)))
    assert record.correct and not record.used_prefix and record.prefix is None
    assert record.trajectory.prompt_style == "exact" and "as it stands" in record.messages[0]["content"]


def test_the_recipe_draws_a_bare_expression_greedily_first_and_stops_at_its_first_correct(scripted, tmp_path):
    """Best-of-4 at T=0.7 under auto: a chain_sum task solved by its greedy first sample draws nothing more; one
    it fails goes on sampling at the temperature until it is solved; an explicit setting draws as told."""
    tasks = load_suite("chain_sum", "train", 2, 0)
    model = _Solver()(scripted, tasks[:1])
    wrong, right = _Solver(wrong_ids=[tasks[1].id])(scripted, tasks[1:]), _Solver()(scripted, tasks[1:])
    model.outputs += wrong.outputs + right.outputs
    config = CollectConfig(suite="chain_sum", n=2, out=str(tmp_path / "c.jsonl"), concurrency=1)
    summary = Collector(config, model=model).run()
    records = sorted(TrajectoryStore(config.out), key=lambda r: (r.task_id != tasks[0].id, r.sample))
    assert [(r.task_id, r.sample, r.correct) for r in records] == [
        (tasks[0].id, 0, True),
        (tasks[1].id, 0, False),
        (tasks[1].id, 1, True),
    ]
    assert [r.sampling["temperature"] for r in records] == [0.0, 0.0, 0.7]
    assert summary.stopped_early == 3 + 2  # task 0 after its first sample, task 1 after its second
    explicit = CollectConfig(suite="chain_sum", n=2, greedy_first=False)
    assert (explicit.greedy_first_for(tasks[0]), explicit.enough_for(tasks[0])) == (False, 2)
    # SAG samples its candidates: a greedy first sample would make them all the same
    assert not CollectConfig(suite="chain_sum", n=2, sag=4).greedy_first_for(tasks[0])
    with pytest.raises(ConfigError, match="every candidate of the first sample the same"):
        CollectConfig.build(suite="chain_sum", greedy_first=True, sag=4)


def test_every_sample_of_a_task_starts_from_one_chain_of_thought(scripted, tmp_path):
    """Best-of-k with a prefix: the greedy chain of thought is generated once per task, not once per sample, and
    a resumed run takes it from the store."""
    config = CollectConfig(
        suite="math",
        n=1,
        out=str(tmp_path / "p.jsonl"),
        prefix=True,
        prefix_style="substantive",
        samples=3,
        temperature=0.7,
        stop_after_correct=None,
    )
    thought = "First multiply the boxes by the pencils per box to get the total.\n\nThen subtract."
    episode = " I finish.\n```python\nfinal_answer(1)\n```"  # continues the prefixed first thought
    model = scripted(thought, episode, episode)
    Collector(config.model_copy(update={"samples": 2}), model=model).run()
    resumed = scripted(episode)
    Collector(config, model=resumed).run()
    records = sorted(TrajectoryStore(config.out), key=lambda r: r.sample)
    assert [r.sample for r in records] == [0, 1, 2]
    assert {r.prefix.chain_of_thought for r in records} == {thought}
    assert len(model.seen) == 3 and len(resumed.seen) == 1  # one thought, then one call per episode


def test_filter_and_export(scripted, tmp_path):
    config = CollectConfig(**GREEDY, suite="math", n=4, out=str(tmp_path / "t.jsonl"))
    tasks = load_suite("math", "train", 4, 0)
    Collector(config, model=_Solver(wrong_ids=[tasks[0].id])(scripted, tasks)).run()
    kept, stats = filter_records(TrajectoryStore(config.out))
    assert stats["total"] == 4 and stats["kept"] == 3 and stats["incorrect"] == 1
    dataset = export_dataset(kept, tmp_path / "ds")
    assert len(dataset) == 3
    messages = dataset[0]["messages"]
    assert messages[0]["role"] == "system" and "Solved examples" not in messages[0]["content"]
    assert [m["role"] for m in messages[1:3]] == ["user", "assistant"]
    assert (tmp_path / "ds" / "train.jsonl").read_text().count("\n") == 3


def test_batching_model_coalesces_concurrent_calls(scripted):
    import threading

    inner = scripted(*[f"reply {i}" for i in range(6)])
    model = BatchingChatModel(inner=inner, model_id="b", max_batch=8, wait_s=0.2)
    results = []
    threads = [
        threading.Thread(target=lambda: results.append(model.complete([{"role": "user", "content": "hi"}])))
        for _ in range(6)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 6 and sorted(r[0].text for r in results) == [f"reply {i}" for i in range(6)]
    assert max(model.batch_sizes) > 1  # at least some calls went out together


@pytest.mark.slow
def test_store_survives_kill_9_and_resume_duplicates_nothing(tmp_path):
    """A real kill -9 in the middle of a collection: every line written is intact, resume adds the rest once."""
    out = tmp_path / "killed.jsonl"
    script = textwrap.dedent(f"""
        import sys, time
        sys.path.insert(0, {os.path.dirname(__file__)!r})
        from conftest import ScriptedModel
        from agentdistill.tasks import load_suite
        from agentdistill.pipeline.collect import Collector
        from agentdistill.pipeline.collect_config import CollectConfig

        class Slow(ScriptedModel):
            def complete_batch(self, conversations, params=None):
                time.sleep(0.3)
                task = conversations[0][1]["content"]
                return [[__import__("agentdistill.llm.base", fromlist=["Completion"]).Completion(
                    text="Thought: t\\n```python\\nfinal_answer(1)\\n```")] for _ in conversations]

        config = CollectConfig(suite="math", n=12, samples=1, temperature=0.0, prefix=False, out={str(out)!r})
        Collector(config, model=Slow(model_id="slow", outputs=[], seen=[])).run()
    """)
    process = subprocess.Popen([sys.executable, "-c", script])
    deadline = time.time() + 60
    while time.time() < deadline and (not out.exists() or out.read_text().count("\n") < 3):
        time.sleep(0.05)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    before = out.read_text().splitlines()
    assert 3 <= len(before) < 12
    records = [TrajectoryRecord.model_validate_json(line) for line in before]  # every written line parses
    subprocess.run([sys.executable, "-c", script], check=True, timeout=120)
    after = [json.loads(line)["id"] for line in out.read_text().splitlines()]
    assert len(after) == 12 and len(set(after)) == 12
    assert after[: len(records)] == [r.id for r in records]  # nothing rewritten
