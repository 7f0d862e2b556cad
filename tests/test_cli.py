import json
import os
import signal
import time

import pytest
from typer.testing import CliRunner

from agentdistill.cli import app
from conftest import GREEDY

runner = CliRunner()


def test_help_lists_commands():
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("run", "models", "index"):
        assert command in result.output


def test_bad_arguments_are_clear_errors(tmp_path, monkeypatch):
    result = runner.invoke(app, ["run", "q", "--tools", "python,shell"])
    assert result.exit_code == 2 and "unknown tool(s) shell" in result.output
    result = runner.invoke(app, ["run", "q", "--model", "gpt-17"])
    assert result.exit_code == 2 and "unknown model 'gpt-17'" in result.output  # checked with the options
    monkeypatch.setenv("AGENTDISTILL_CACHE", str(tmp_path))
    result = runner.invoke(app, ["run", "q", "--model", "smollm2-135m"])
    assert result.exit_code == 1 and "models pull smollm2-135m" in result.output
    result = runner.invoke(app, ["models", "pull", "nope"])
    assert result.exit_code == 1 and "unknown model" in result.output


def test_models_list_shows_readiness(tmp_path, monkeypatch):
    monkeypatch.setenv("AGENTDISTILL_CACHE", str(tmp_path))
    result = runner.invoke(app, ["models", "list"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    assert "qwen2.5-coder-0.5b" in result.output and "models pull qwen2.5-coder-0.5b" in result.output


def test_index_build_and_search(tmp_path):
    corpus = tmp_path / "corpus.jsonl"
    rows = [
        {"id": "1", "title": "Lima", "text": "Lima is the capital of Peru."},
        {"id": "2", "title": "Oslo", "text": "Oslo is the capital of Norway."},
    ]
    corpus.write_text("\n".join(json.dumps(r) for r in rows))
    result = runner.invoke(app, ["index", "build", str(corpus), "--out", str(tmp_path / "idx")])
    assert result.exit_code == 0, result.output
    result = runner.invoke(
        app, ["index", "search", str(tmp_path / "idx"), "Norwegian capital", "-k", "1"], env={"COLUMNS": "200"}
    )
    assert result.exit_code == 0 and "Oslo is the capital of Norway" in result.output
    bad = tmp_path / "bad.jsonl"
    bad.write_text("not json\n")
    result = runner.invoke(app, ["index", "build", str(bad), "--out", str(tmp_path / "x")])
    assert result.exit_code == 1 and "bad.jsonl:1" in result.output


def test_run_json_with_a_scripted_openai_server(fake_openai):
    """`run --json` end to end through the OpenAI backend, against a local server that plays the model."""
    replies = [
        "Thought: multiply.\n```python\nprint(12 * 12)\n```",
        "Thought: done.\n```python\nfinal_answer(144)\n```",
    ]
    server = fake_openai(lambda body, i: replies.pop(0))
    result = runner.invoke(
        app, ["run", "What is 12 squared?", "--tools", "python", "--json", "--model", f"openai:m@{server.base_url}"]
    )
    assert result.exit_code == 0, result.output
    trajectory = json.loads(result.output)
    assert trajectory["final_answer"] == 144 and trajectory["steps"][0]["observation"] == "144"


def test_tasks_commands():
    result = runner.invoke(app, ["tasks", "show", "math", "-n", "2"], env={"COLUMNS": "200"})
    assert result.exit_code == 0 and result.output.count("math-") == 2
    result = runner.invoke(app, ["tasks", "show", "nonsense"])
    assert result.exit_code == 1 and "unknown suite 'nonsense'" in result.output


def test_collect_rejects_inconsistent_settings(tmp_path):
    result = runner.invoke(app, ["collect", "--samples", "2", "--temperature", "0", "--out", str(tmp_path / "t.jsonl")])
    assert result.exit_code == 2 and "--temperature > 0" in result.output  # a usage error, before anything runs
    result = runner.invoke(app, ["collect", "--prefix-style", "poetry", "--out", str(tmp_path / "t.jsonl")])
    assert result.exit_code == 2 and "--prefix-style" in result.output and "substantive" in result.output
    result = runner.invoke(app, ["collect", "--suite", "recbot", "--out", str(tmp_path / "t.jsonl")])
    assert result.exit_code == 2 and "agentdistill recbot collect" in result.output


def test_filter_and_export_commands(tmp_path, scripted):
    from agentdistill.pipeline.collect import Collector
    from agentdistill.pipeline.collect_config import CollectConfig

    store = tmp_path / "t.jsonl"
    from agentdistill.tasks import load_suite

    tasks = load_suite("math", "train", 2, 0)
    model = scripted(*[f"Thought: t\n```python\nfinal_answer({t.answers[0]})\n```" for t in tasks])
    Collector(CollectConfig(**GREEDY, suite="math", n=2, out=str(store)), model=model).run()
    result = runner.invoke(app, ["filter", str(store), "--out", str(tmp_path / "kept.jsonl")], env={"COLUMNS": "200"})
    assert result.exit_code == 0 and "kept" in result.output
    result = runner.invoke(app, ["export", str(tmp_path / "kept.jsonl"), "--out", str(tmp_path / "sft")])
    assert result.exit_code == 0 and "exported 2 conversations" in result.output
    repeat = json.loads(store.read_text().splitlines()[0]) | {"sample": 1}
    repeat["id"] = repeat["task_id"] + "#1"
    with store.open("a") as f:  # a second sample with the same turns as the first
        f.write(json.dumps(repeat) + "\n")
    for flag, kept in (("--dedupe", 2), ("--no-dedupe", 3)):
        result = runner.invoke(app, ["filter", str(store), "--out", str(tmp_path / "kept.jsonl"), flag])
        assert result.exit_code == 0 and len((tmp_path / "kept.jsonl").read_text().splitlines()) == kept
    (tmp_path / "broken.jsonl").write_text('{"not": "a record"}\n')
    result = runner.invoke(app, ["filter", str(tmp_path / "broken.jsonl"), "--out", str(tmp_path / "k2.jsonl")])
    assert result.exit_code == 1 and "broken.jsonl:1" in result.output


def test_collect_and_eval_check_their_arguments_before_loading_a_model(tmp_path, monkeypatch):
    monkeypatch.setenv("AGENTDISTILL_CACHE", str(tmp_path / "empty"))  # loading a model would fail: 'models pull'
    corrupt = tmp_path / "corrupt.jsonl"
    corrupt.write_text("not json\n" + "{}\n")
    (tmp_path / "a-file").write_text("")
    out = str(tmp_path / "t.jsonl")
    cases = [  # (arguments, exit code: 2 for an invalid option, 1 for a bad input found before the model loads)
        (["collect", "-n", "-5", "--out", out], 2, "-n: Input should be greater than or equal to 1"),
        (["eval", "-n", "0", "--out", str(tmp_path / "e")], 2, "-n: Input should be greater than or equal to 1"),
        (["eval", "--model", "gpt-17", "--out", str(tmp_path / "e")], 2, "unknown model 'gpt-17'"),
        (["collect", "--suite", "nosuch", "--out", out], 2, "unknown suite 'nosuch'"),
        (["eval", "--suite", "nosuch", "--out", str(tmp_path / "e")], 2, "unknown suite 'nosuch'"),
        (["collect", "--out", str(corrupt)], 1, "corrupt.jsonl:1: not a trajectory record"),
        (["collect", "--out", str(tmp_path / "a-file" / "t.jsonl")], 1, "cannot write the store"),
    ]
    for args, code, message in cases:
        result = runner.invoke(app, args)
        text = " ".join(result.output.replace("│", " ").split())  # the usage box wraps long lines
        assert result.exit_code == code and message in text, (args, result.output)
        assert "Traceback" not in result.output and "models pull" not in result.output


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_interrupts_the_command_and_stops_every_generation(signum):
    from agentdistill.cli.common import interrupt_on_signals
    from agentdistill.llm import GenerationStopped, resume_generation
    from agentdistill.llm.base import raise_if_stopping

    handlers = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    try:
        interrupt_on_signals()
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signum)
            time.sleep(5)  # the handler runs at the next bytecode; this line is never finished
        with pytest.raises(GenerationStopped):  # episodes on other threads end at their next token
            raise_if_stopping()
    finally:
        signal.signal(signal.SIGTERM, handlers[0])
        signal.signal(signal.SIGINT, handlers[1])
        resume_generation()
