"""Evaluation: scoring on held-out tasks, the summary, resuming, the report, and the CLI around them."""

import json

from typer.testing import CliRunner

from agentdistill.cli import app
from agentdistill.distill.distill_config import STUDENT_MARKER
from agentdistill.pipeline import EvalConfig, evaluate, load_summary, markdown_table, write_report
from agentdistill.tasks import load_suite
from agentdistill.trajectories.store import TrajectoryStore

runner = CliRunner()


def answers(scripted, tasks, wrong=()):
    outputs = []
    for task in tasks:
        value = "-1" if task.id in wrong else task.answers[0]
        outputs.append(f"Thought: done.\n```python\nfinal_answer({value})\n```")
    return scripted(*outputs)


def test_evaluate_scores_summarises_and_resumes(scripted, tmp_path):
    tasks = load_suite("math", "test", 4, 0)
    config = EvalConfig(suite="math", n=4, model="smollm2-135m", out=str(tmp_path / "e"), label="lucky")
    summary = evaluate(config, model=answers(scripted, tasks, wrong=[tasks[1].id, tasks[3].id]))
    assert (summary.tasks, summary.correct, summary.accuracy) == (4, 2, 0.5)
    assert summary.mean_steps == 1.0 and summary.prompt_style == "full"
    saved = load_summary(tmp_path / "e")
    assert saved.accuracy == 0.5 and saved.label == "lucky"
    idle = scripted()
    again = evaluate(config, model=idle)  # resumed: every task is already scored
    assert idle.calls == [] and again.correct == 2
    assert len((tmp_path / "e" / "episodes.jsonl").read_text().splitlines()) == 4


def test_distilled_students_get_the_short_prompt(tmp_path):
    (tmp_path / STUDENT_MARKER).write_text("{}")
    assert EvalConfig(model=f"hf:{tmp_path}").resolved_prompt_style == "short"
    assert EvalConfig(model="qwen2.5-coder-0.5b").resolved_prompt_style == "auto"  # collect's choice per task
    assert EvalConfig(model=f"hf:{tmp_path}", prompt_style="full").resolved_prompt_style == "full"


def test_prompted_models_get_collects_prompt_per_task(scripted, tmp_path):
    """A prompted model is evaluated with the prompt its teacher collects with: `exact` on a bare expression."""
    tasks = load_suite("chain_sum", "test", 2, 0)
    config = EvalConfig(suite="chain_sum", n=2, model="smollm2-135m", out=str(tmp_path / "e"))
    summary = evaluate(config, model=answers(scripted, tasks))
    records = list(TrajectoryStore(tmp_path / "e" / "episodes.jsonl"))
    assert {r.trajectory.prompt_style for r in records} == {"exact"} and summary.prompt_style == "exact"
    assert "as it stands" in records[0].messages[0]["content"]
    forced = EvalConfig(suite="chain_sum", n=2, model="smollm2-135m", out=str(tmp_path / "f"), prompt_style="full")
    assert evaluate(forced, model=answers(scripted, tasks)).prompt_style == "full"


def test_report_table_plot_and_cli(scripted, tmp_path):
    tasks = load_suite("math", "test", 2, 0)
    folders = []
    for label, wrong in (("prompted", [t.id for t in tasks]), ("distilled", [])):
        folder = tmp_path / label
        evaluate(
            EvalConfig(suite="math", n=2, model="smollm2-135m", out=str(folder), label=label),
            model=answers(scripted, tasks, wrong),
        )
        folders.append(folder)
    summaries = [load_summary(f) for f in folders]
    table = markdown_table(summaries)
    assert "| prompted | math | 2 | 0.0% (0/2; 95% CI 0%–66%) |" in table
    assert "| distilled | math | 2 | 100.0% (2/2; 95% CI 34%–100%) |" in table
    md, png = write_report(summaries, tmp_path / "report")
    assert md.read_text() == table + "\n" and png.stat().st_size > 1000
    result = runner.invoke(app, ["report", *map(str, folders), "--out", str(tmp_path / "r2")])
    assert result.exit_code == 0 and "100.0% (2/2; 95% CI" in result.output
    result = runner.invoke(app, ["report", str(tmp_path / "nothing-here")])
    assert result.exit_code == 1 and "no summary.json" in result.output


def test_eval_and_distill_cli_errors_are_clear(tmp_path):
    result = runner.invoke(app, ["eval", "--prompt-style", "tiny", "--out", str(tmp_path / "x")])
    assert result.exit_code == 2 and "--prompt-style" in result.output and "'auto'" in result.output
    result = runner.invoke(app, ["eval", "--model", "gpt-17", "--out", str(tmp_path / "y")])
    assert result.exit_code == 2 and "unknown model" in result.output
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    result = runner.invoke(app, ["distill", str(empty), "--out", str(tmp_path / "s")])
    assert result.exit_code == 1 and "empty" in result.output
    (tmp_path / "rows.jsonl").write_text(json.dumps({"id": "x"}) + "\n")
    result = runner.invoke(app, ["distill", str(tmp_path / "rows.jsonl"), "--out", str(tmp_path / "s")])
    assert result.exit_code == 1 and "without 'messages'" in result.output
