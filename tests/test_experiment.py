"""The experiment pipeline: config checks, stages that resume, the report (models and training are test doubles
here; the real ones are exercised by the quickstart tests)."""

import json

import pytest
import yaml
from tests.test_teacher_recipes import oracle
from typer.testing import CliRunner

from agentdistill.cli import app
from agentdistill.errors import ConfigError
from agentdistill.pipeline import experiment as experiment_module
from agentdistill.pipeline.experiment import run_experiment
from agentdistill.pipeline.experiment_config import ExperimentConfig
from agentdistill.pipeline.experiment_report import write_experiment_report
from agentdistill.pipeline.stats import bootstrap_interval, stated
from agentdistill.pipeline.wall_time import read_runs, work_done
from agentdistill.tasks import load_suite
from conftest import GREEDY


def _values(tmp_path, **changes):
    values = {
        "name": "tiny",
        "out": str(tmp_path / "exp"),
        "suites": ["math"],
        "test_tasks": 2,
        "episode": {"concurrency": 1, "max_steps": 3},
        "teacher_runs": [
            {"name": "agent", "train_tasks": 2, "settings": {"samples": 2, "temperature": 0.7, "prefix": False}}
        ],
        "students": [{"name": "agent-distilled", "data": ["agent"], "max_per_task": 1}],
        "rows": [
            {"name": "student prompted", "model": "student"},
            {"name": "agent-distilled", "model": "agent-distilled"},
            {"name": "agent-distilled + SAG", "model": "agent-distilled", "settings": {"sag": 2}},
        ],
        "compare": [["student prompted", "agent-distilled"]],
    }
    return {**values, **changes}


class FakeModels:
    """ModelCache stand-in: every spec gets an oracle; the prompted student is always wrong."""

    def __init__(self, tasks):
        self.tasks, self.loaded = tasks, {}

    def __call__(self, spec):
        if spec not in self.loaded:
            wrong = {t.id for t in self.tasks} if spec == "qwen2.5-coder-0.5b" else set()
            self.loaded[spec] = oracle(self.tasks, right=True, wrong_for=wrong)
        return self.loaded[spec]

    def close(self):
        pass


def fake_distill(config):
    """Trainer stand-in: writes what a finished `distill` leaves behind."""
    from pathlib import Path

    from agentdistill.distill.distill_config import STUDENT_MARKER

    out = Path(config.out)
    (out / "model").mkdir(parents=True, exist_ok=True)
    (out / "model" / STUDENT_MARKER).write_text("{}")
    examples = len((Path(config.data) / "train.jsonl").read_text().splitlines())
    (out / "summary.json").write_text(json.dumps({"examples": examples, "tokens_per_second": 50.0, "last_loss": 0.1}))
    fake_distill.calls.append(config.out)


def test_an_experiment_config_fails_at_load_on_what_could_not_run(tmp_path):
    ExperimentConfig.build(**_values(tmp_path))
    problems = [
        ({"students": [{"name": "s", "data": ["nope"]}]}, "unknown teacher runs"),
        ({"rows": [{"name": "r", "model": "gpt"}]}, "model is student, teacher or a student run"),
        ({"rows": [{"name": "a b", "model": "student"}, {"name": "a-b", "model": "teacher"}]}, "two rows are named"),
        ({"compare": [["student prompted", "nobody"]]}, "both must be rows"),
        (
            {
                "teacher_runs": [
                    {"name": "agent", "train_tasks": 2, "settings": {"samples": 3, "temperature": 0.0, "prefix": False}}
                ]
            },
            "temperature",
        ),
        ({"suites": ["no_such_suite"]}, "unknown suite"),
    ]
    for change, message in problems:
        with pytest.raises(ConfigError, match=message):
            ExperimentConfig.build(**_values(tmp_path, **change))


def test_an_experiment_runs_its_stages_resumes_and_reports(tmp_path, monkeypatch):
    from agentdistill.distill import trainer

    fake_distill.calls = []
    monkeypatch.setattr(trainer, "distill", fake_distill)
    config = ExperimentConfig.build(**_values(tmp_path))
    tasks = load_suite("math", "train", 2) + load_suite("math", "test", 2)
    models = FakeModels(tasks)
    summaries = run_experiment(config, models=models)
    assert [(s.label, s.correct, s.tasks) for s in summaries] == [
        ("student prompted", 0, 2),
        ("agent-distilled", 2, 2),
        ("agent-distilled + SAG", 2, 2),
    ]
    folder = config.folder
    assert len((folder / "teacher" / "agent.jsonl").read_text().splitlines()) == 4  # 2 tasks x 2 samples
    exported = folder / "students" / "agent-distilled" / "export" / "train.jsonl"
    assert len(exported.read_text().splitlines()) == 2  # one per task: the cap
    report = (folder / "report.md").read_text()
    assert "| student prompted | 0.0 (" in report and "| agent-distilled + SAG | 100.0 (" in report
    assert "| student prompted | agent-distilled | math | 2 | 0 | 2 | +100.0 |" in report
    assert (folder / "accuracy.png").stat().st_size > 0 and (folder / "config.yaml").is_file()
    # what each stage cost, for the time goal: one line per part that did work
    logged = [(r["stage"], *work_done(r)) for r in read_runs(config.stage_log)]
    assert logged == [
        ("collect", 4, "episodes"),
        ("train", 2, "examples"),
        *[("evaluate", 2, "episodes")] * 3,
    ]
    assert "| collect | 1 | 4 episodes |" in report and "| train | 1 | 2 examples |" in report

    calls = {spec: sum(model.attempts.values()) for spec, model in models.loaded.items()}
    run_experiment(config, models=models)  # everything is done: nothing runs again
    assert fake_distill.calls == [str(folder / "students" / "agent-distilled")]
    assert {spec: sum(model.attempts.values()) for spec, model in models.loaded.items()} == calls
    assert len(read_runs(config.stage_log)) == 5  # a run with nothing left to do costs no line

    grown = ExperimentConfig.build(**_values(tmp_path, test_tasks=3))  # the file grew: one more test task each
    # below the claim floor, a running cell is only counted: no accuracy, no mean, no comparison
    report = write_experiment_report(grown).read_text()
    assert "| student prompted | running, 2/3 | - |" in report and "Paired on the same tasks" not in report
    run_experiment(grown, stages=["evaluate", "report"], models=FakeModels(load_suite("math", "test", 3)))
    summary = json.loads((folder / "summary.json").read_text())
    assert [c["tasks"] for c in summary["cells"]] == [3, 3, 3]


def test_the_experiment_command_checks_its_file_and_stages(tmp_path):
    file = tmp_path / "exp.yaml"
    file.write_text(yaml.safe_dump(_values(tmp_path)))
    runner = CliRunner()
    result = runner.invoke(app, ["experiment", "run", str(file), "--stage", "colect"])
    assert result.exit_code == 2 and "unknown stages ['colect']" in " ".join(result.output.split())
    file.write_text(yaml.safe_dump(_values(tmp_path, rows=[{"name": "r", "model": "gpt"}])))
    result = runner.invoke(app, ["experiment", "run", str(file)])
    assert result.exit_code == 1 and "model is student, teacher or a student run" in result.output
    file.write_text(yaml.safe_dump(_values(tmp_path)))
    result = runner.invoke(app, ["experiment", "report", str(file)])
    assert result.exit_code == 0 and "| student prompted | - |" in result.output


def test_an_accuracy_is_stated_on_a_finished_cell_or_from_the_claim_floor_on():
    assert stated(2, 2) and stated(50, 100) and stated(120, 100)
    assert not stated(49, 100) and not stated(0, 0)


def test_bootstrap_interval():
    low, high = bootstrap_interval([True] * 60 + [False] * 40)
    assert 0.49 < low < 0.52 and 0.68 < high < 0.71
    assert bootstrap_interval([True] * 5) == (1.0, 1.0) and bootstrap_interval([]) == (0.0, 1.0)
    assert experiment_module.STAGES == ("collect", "train", "evaluate", "report")


def test_a_chain_of_thought_answer_is_read_off_its_last_line(scripted, tmp_path):
    from agentdistill.agents.closed_book import ClosedBookAgent
    from agentdistill.pipeline.collect import Collector
    from agentdistill.pipeline.collect_config import CollectConfig

    model = scripted("12 rows of 7 is 84 cans a box, and 9 boxes hold 9 * 84 = 756.\nThe answer is 756.")
    trajectory = ClosedBookAgent(model, reasoning=True).run("How many cans?")
    assert trajectory.final_answer == "756" and trajectory.metadata["agent"] == "chain-of-thought"
    assert "step by step" in trajectory.messages[0]["content"] and model.params[0].max_new_tokens == 384
    with pytest.raises(ConfigError, match="needs --closed-book"):
        CollectConfig.build(reasoning=True)
    config = CollectConfig.build(
        **GREEDY, suite="math", n=1, closed_book=True, reasoning=True, out=str(tmp_path / "c.jsonl")
    )
    assert Collector(config, model=scripted("The answer is 1.")).agent_for(load_suite("math", "train", 1)[0]).reasoning


def test_the_report_gives_the_materials_mae_of_each_row(tmp_path):
    tests = load_suite("materials", "test")
    first = next(i for i, t in enumerate(tests) if t.metadata.get("regression_unit"))
    values = _values(tmp_path, suites=["materials"], teacher_runs=[], students=[], compare=[], test_tasks=first + 1)
    values["rows"] = [{"name": "teacher agent", "model": "teacher"}]
    config = ExperimentConfig.build(**values)
    model = oracle(tests[: first + 1], right=True)
    for task in tests[: first + 1]:
        if task.metadata.get("regression_unit"):  # every regression answer 0.5 off
            model.plans[task.question] = [str(float(task.answers[0]) + 0.5)]
    run_experiment(config, stages=["evaluate", "report"], models=lambda spec: model)
    report = (config.folder / "report.md").read_text()
    template, unit = tests[first].difficulty, tests[first].metadata["regression_unit"]
    assert f"| teacher agent | materials | {template} | 0.5 {unit} | 1/1 |" in report, report


def test_students_on_nested_subsets_give_accuracy_against_trajectories(tmp_path, monkeypatch):
    from agentdistill.distill import trainer

    fake_distill.calls = []
    monkeypatch.setattr(trainer, "distill", fake_distill)
    values = _values(tmp_path, compare=[])
    values["students"] = [
        {"name": "all", "data": ["agent"], "max_per_task": 2},
        {"name": "one", "data": ["agent"], "max_per_task": 2, "max_examples": 1},
    ]
    values["rows"] = [{"name": "all", "model": "all"}, {"name": "one", "model": "one"}]
    config = ExperimentConfig.build(**values)
    models = FakeModels(load_suite("math", "train", 2) + load_suite("math", "test", 2))
    run_experiment(config, models=models)
    exported = {
        name: (config.folder / "students" / name / "export" / "train.jsonl").read_text().splitlines()
        for name in ("all", "one")
    }
    assert len(exported["all"]) == 4 and len(exported["one"]) == 1
    assert json.loads(exported["one"][0])["id"] in {json.loads(line)["id"] for line in exported["all"]}
    assert (config.folder / "accuracy_vs_examples.png").stat().st_size > 0
