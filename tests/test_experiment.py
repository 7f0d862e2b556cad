"""The experiment pipeline: config checks, stages that resume, the report (models and training are test doubles
here; the real ones are exercised by the quickstart tests)."""

import json
import shutil

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
        "goals": [
            {
                "kind": "margin",
                "name": "distilled +15",
                "row": "agent-distilled",
                "baseline": "student prompted",
                "points": 15,
            },
            {"kind": "wall_hours", "name": "in a minute", "hours": 0.02},
        ],
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


def fake_distill(config, on_step):
    """Trainer stand-in: writes what a finished `distill` leaves behind, after reporting two optimizer steps."""
    from pathlib import Path

    from agentdistill.distill.distill_config import STUDENT_MARKER

    out = Path(config.out)
    on_step(1)
    on_step(2)
    (out / "model").mkdir(parents=True, exist_ok=True)
    (out / "model" / STUDENT_MARKER).write_text("{}")
    examples = len((Path(config.data) / "train.jsonl").read_text().splitlines())
    (out / "summary.json").write_text(json.dumps({"examples": examples, "tokens_per_second": 50.0, "last_loss": 0.1}))
    # 25 logged steps: the first 5 (loss 9.0) fall outside the table's last 20, whose mean is 0.19536271
    losses = [9.0] * 5 + [0.19536271 - 0.05, 0.19536271 + 0.05] * 10
    lines = [json.dumps({"step": step, "loss": loss}) for step, loss in enumerate(losses, 1)]
    (out / "train_log.jsonl").write_text("\n".join(lines) + "\n")
    fake_distill.calls.append(config.out)


@pytest.fixture
def fake_trainer(monkeypatch):
    """`distill` replaced by `fake_distill`, whose calls start empty."""
    from agentdistill.distill import trainer

    fake_distill.calls = []
    monkeypatch.setattr(trainer, "distill", fake_distill)
    return fake_distill


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
        (
            {"goals": [{"kind": "margin", "name": "g", "row": "nobody", "baseline": "student prompted", "points": 1}]},
            "reads rows that are not in the file",
        ),
        (
            {
                "goals": [
                    {
                        "kind": "share",
                        "name": "g",
                        "row": "agent-distilled",
                        "baseline": "student prompted",
                        "share": 0.6,
                        "suites": ["facts"],
                    }
                ]
            },
            "names suites the experiment does not run",
        ),
        ({"goals": [{"kind": "faster", "name": "g"}]}, "kind"),
        # one place says where models run: a backend in `episode` would be ignored by the shared model cache
        ({"episode": {"backend": "vllm"}}, "set once, at the top of the file"),
        ({"backend": "tgi"}, "unknown backend"),
    ]
    for change, message in problems:
        with pytest.raises(ConfigError, match=message):
            ExperimentConfig.build(**_values(tmp_path, **change))


def test_an_experiment_runs_its_stages_resumes_and_reports(tmp_path, fake_trainer):
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
    assert len((folder / "teacher" / "agent-math.jsonl").read_text().splitlines()) == 4  # 2 tasks x 2 samples
    exported = folder / "students" / "agent-distilled" / "export" / "train.jsonl"
    assert len(exported.read_text().splitlines()) == 2  # one per task: the cap
    report = (folder / "report.md").read_text()
    assert "| student prompted | 0.0 (" in report and "| agent-distilled + SAG | 100.0 (" in report
    # what the students learnt from: 2 tasks x 2 samples, both solved, two distinct correct trajectories each
    assert "| agent | math | 2/2 | 4 | 2 (" in report and "%) | 4 | " in report.split("| agent | math |")[1]
    assert "| agent-distilled | 2 | 50 | 0.195 |" in report  # the students' table: the last 20 steps' mean loss
    teacher = json.loads((folder / "summary.json").read_text())["teacher"]
    assert [(t["run"], t["suite"], t["episodes"], t["distinct_correct"]) for t in teacher] == [("agent", "math", 4, 4)]
    assert teacher[0]["wall_minutes"] >= 0.0
    assert "| student prompted | agent-distilled | math | 2 | 0 | 2 | +100.0 |" in report
    assert (folder / "accuracy.png").stat().st_size > 0 and (folder / "config.yaml").is_file()
    # what each stage cost, for the time goal: one line per part that did work
    logged = [(r["stage"], *work_done(r)) for r in read_runs(config.stage_log)]
    assert logged == [  # the student trains just before the first row that evaluates it
        ("collect", 4, "episodes"),
        ("evaluate", 2, "episodes"),
        ("train", 2, "steps"),
        *[("evaluate", 2, "episodes")] * 2,
    ]
    assert "| student prompted | math |" in report.split("Cost per task")[1]  # tokens, seconds and failures
    assert "| collect | 1 | 4 episodes |" in report and "| train | 1 | 2 steps |" in report
    assert (
        "| distilled +15 | 100.0 vs 0.0: +100.0 points (95% +100.0 to +100.0; target +15) over math | met |" in report
    )
    assert "| in a minute |" in report and json.loads((folder / "summary.json").read_text())["goals"][1]["status"] in {
        "met",
        "not met",
    }

    # everything is done: nothing runs again, even on a fresh machine where the results are committed and the
    # student's weights are gone: no model loads and the student does not retrain
    shutil.rmtree(folder / "students" / "agent-distilled" / "model")
    (folder / "eval" / "agent-distilled-math" / "summary.json").unlink()
    fresh = FakeModels(tasks)
    again = run_experiment(config, models=fresh)
    assert fresh.loaded == {} and fake_distill.calls == [str(folder / "students" / "agent-distilled")]
    assert [(s.label, s.correct, s.tasks) for s in again] == [(s.label, s.correct, s.tasks) for s in summaries]
    assert (folder / "eval" / "agent-distilled-math" / "summary.json").is_file()  # rewritten from the episodes
    assert len(read_runs(config.stage_log)) == 5  # a run with nothing left to do costs no line

    grown = ExperimentConfig.build(**_values(tmp_path, test_tasks=3))  # the file grew: one more test task each
    # below the claim floor, a running cell is only counted: no accuracy, no mean, no comparison
    report = write_experiment_report(grown).read_text()
    assert "| student prompted | running, 2/3 | - |" in report and "Paired on the same tasks" not in report
    run_experiment(grown, stages=["train", "evaluate", "report"], models=FakeModels(load_suite("math", "test", 3)))
    summary = json.loads((folder / "summary.json").read_text())
    assert [c["tasks"] for c in summary["cells"]] == [3, 3, 3]
    assert len(fake_distill.calls) == 2  # a grown cell needs its student again, whose weights were gone


def test_the_cost_table_sums_each_unit_of_a_stage_apart(tmp_path):
    """A log whose unit changed between runs (training counted examples before it counted steps) adds each unit up
    on its own; a resumed stage's runs and seconds add up."""
    from agentdistill.pipeline.experiment_report import stage_table, stage_times

    config = ExperimentConfig.build(**_values(tmp_path))
    lines = [
        {"stage": "collect", "episodes": 4, "seconds": 3600.0},  # before the unit was logged: episodes
        {"stage": "train", "examples": 1150, "unit": "examples", "seconds": 1800.0},
        {"stage": "train", "steps": 20, "unit": "steps", "seconds": 720.0},
        {"stage": "train", "steps": 30, "unit": "steps", "seconds": 1080.0},
    ]
    config.stage_log.parent.mkdir(parents=True)
    config.stage_log.write_text("".join(json.dumps(line) + "\n" for line in lines))
    table = stage_table(stage_times(config))
    assert "| collect | 1 | 4 episodes | 1.00 |" in table
    assert "| train | 3 | 1150 examples + 50 steps | 1.00 |" in table and "| all | 4 |  | 2.00 |" in table


def test_the_experiment_command_checks_its_file_and_stages(tmp_path):
    file = tmp_path / "exp.yaml"
    file.write_text(yaml.safe_dump(_values(tmp_path)))
    runner = CliRunner()
    result = runner.invoke(app, ["experiment", "run", str(file), "--stage", "colect"])
    assert result.exit_code == 2 and "unknown stages ['colect']" in " ".join(result.output.split())
    result = runner.invoke(app, ["experiment", "run", str(file), "--row", "student promted"])
    assert result.exit_code == 2 and "unknown rows ['student promted']" in " ".join(result.output.split())
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
    values = _values(
        tmp_path, suites=["materials"], teacher_runs=[], students=[], compare=[], goals=[], test_tasks=first + 1
    )
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


def test_each_teacher_run_stores_a_suite_apart_and_its_students_learn_from_all(tmp_path):
    """One store per run and suite keeps every file under the repository's limit and gzippable on its own."""
    config = ExperimentConfig.build(**_values(tmp_path, suites=["math", "facts"]))
    models = FakeModels(load_suite("math", "train", 2) + load_suite("facts", "train", 2))
    run_experiment(config, stages=["collect"], models=models)
    assert sorted(p.name for p in (config.folder / "teacher").glob("*.jsonl")) == [
        "agent-facts.jsonl",
        "agent-math.jsonl",
    ]
    kept, _ = experiment_module.training_records(config, config.students[0])
    assert sorted(r.suite for r in kept) == ["facts", "facts", "math", "math"]  # one per task: the cap


def test_students_on_nested_subsets_give_accuracy_against_trajectories(tmp_path, fake_trainer):
    values = _values(tmp_path, compare=[], goals=[])
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


def test_a_student_trains_before_its_first_row_and_one_no_row_uses_at_the_end(tmp_path, fake_trainer):
    from agentdistill.errors import AgentDistillError

    values = _values(tmp_path, compare=[], goals=[])
    values["students"] = [
        {"name": "spare", "data": ["agent"], "max_per_task": 1},
        {"name": "late", "data": ["agent"], "max_per_task": 1},
    ]
    values["rows"] = [{"name": "prompted", "model": "student"}, {"name": "late", "model": "late"}]
    config = ExperimentConfig.build(**values)
    models = FakeModels(load_suite("math", "train", 2) + load_suite("math", "test", 2))
    run_experiment(config, stages=["collect"], models=models)
    with pytest.raises(AgentDistillError, match="student late is not trained yet: run the experiment's train stage"):
        run_experiment(config, stages=["evaluate"], models=models)
    assert (config.folder / "eval" / "prompted-math" / "summary.json").is_file()  # the row before it ran
    said = []
    run_experiment(config, stages=["train", "evaluate"], announce=said.append, models=models)
    assert [line.split(" on ")[0].split(":")[0] for line in said] == [
        "student late",
        "evaluate late",
        "student spare",
    ]
    assert fake_distill.calls == [str(config.folder / "students" / name) for name in ("late", "spare")]


def test_named_rows_evaluate_alone_and_a_student_no_named_row_uses_waits(tmp_path, fake_trainer):
    config = ExperimentConfig.build(**_values(tmp_path, compare=[], goals=[]))
    models = FakeModels(load_suite("math", "train", 2) + load_suite("math", "test", 2))
    said = []
    run_experiment(config, announce=said.append, models=models, rows=["student prompted"])
    assert [line for line in said if line.startswith(("evaluate", "student"))] == [
        "evaluate student prompted on 2 math test tasks"
    ]
    assert fake_trainer.calls == []  # its rows were not named, so the student is not trained yet
    assert not (config.folder / "eval" / "agent-distilled-math").exists()
    run_experiment(config, announce=said.append, models=models)
    assert fake_trainer.calls == [str(config.folder / "students" / "agent-distilled")]
    assert (config.folder / "eval" / "agent-distilled-math" / "summary.json").is_file()


def _cell(row, suite, correct, tasks=100, planned=100, mae=None):
    from agentdistill.pipeline.experiment_report import Cell

    per_task = {f"{suite}-{i}": i < correct for i in range(tasks)}
    return Cell(
        row=row,
        suite=suite,
        tasks=tasks,
        planned=planned,
        correct=correct,
        interval=(0.0, 1.0),
        seconds_per_task=1.0,
        tokens_per_task=1.0,
        failures={},
        mae=mae or {},
        per_task=per_task,
    )


def test_a_row_mean_says_over_how_many_suites_until_all_have_a_score(tmp_path):
    from agentdistill.pipeline.experiment_report import accuracy_table

    config = ExperimentConfig.build(**_values(tmp_path, suites=["math", "facts"], compare=[], goals=[]))
    cells = [_cell("student prompted", "math", 10), _cell("student prompted", "facts", 20, tasks=30)]
    assert "| 10.0 (1 of 2 suites) |" in accuracy_table(config, cells)  # facts: 30 tasks, below the floor
    assert "| 15.0 |" in accuracy_table(config, [cells[0], _cell("student prompted", "facts", 20)])


def test_goals_are_met_not_met_or_pending_from_the_cells():
    from pydantic import TypeAdapter

    from agentdistill.pipeline.experiment_goals import Goal, check_goals

    goals = TypeAdapter(list[Goal]).validate_python(
        [
            {"kind": "margin", "name": "margin", "row": "d", "baseline": "p", "points": 15},
            {"kind": "margin", "name": "math only", "row": "d", "baseline": "p", "points": 15, "suites": ["math"]},
            {"kind": "share", "name": "share", "row": "d", "baseline": "t", "share": 0.6},
            {"kind": "mae_ratio", "name": "mae", "row": "d", "baseline": "d closed", "ratio": 10},
            {"kind": "wall_hours", "name": "time", "hours": 14},
        ]
    )
    band_gap = {"unit": "eV", "tasks": 40, "answered": 40}
    cells = [
        _cell("p", "math", 10),
        _cell("d", "math", 40),
        _cell("t", "math", 80),
        _cell("p", "facts", 20),
        _cell("d", "facts", 25),
        _cell("t", "facts", 40),
        _cell("d", "materials", 30, mae={"band_gap": {**band_gap, "mae": 0.1}}),
        _cell("d closed", "materials", 0, mae={"band_gap": {**band_gap, "mae": 1.5}}),
    ]
    verdicts = {g.name: g for g in check_goals(goals, cells, hours=12.0)}
    assert verdicts["margin"].status == "met"  # (40 + 25) / 2 - (10 + 20) / 2 = 17.5 points
    assert "32.5 vs 15.0: +17.5 points" in verdicts["margin"].measured
    assert verdicts["math only"].status == "met" and "+30.0 points" in verdicts["math only"].measured
    assert verdicts["share"].status == "not met" and "54%" in verdicts["share"].measured  # 32.5 / 60
    assert verdicts["mae"].status == "met" and "15.0x" in verdicts["mae"].measured
    assert verdicts["time"].status == "met"
    assert check_goals(goals[4:], cells, hours=15.0)[0].status == "not met"

    # a cell still running: the values so far, no verdict, and the time goal waits too
    cells[1] = _cell("d", "math", 30, tasks=60)
    running = {g.name: g for g in check_goals(goals, cells, hours=12.0)}
    assert {running[n].status for n in ("margin", "share", "time")} == {"pending"}
    assert "over math, facts" in running["margin"].measured
    cells[1] = _cell("d", "math", 10, tasks=40)  # below the claim floor: that suite is left out of the values
    assert "over facts" in check_goals(goals[:1], cells, hours=1.0)[0].measured


def test_two_builds_of_one_student_are_never_paired():
    """A student retrained on a fresh machine (its weights lost) is another model: its cells wait for cells of
    the same build before a paired comparison or a goal reads them, and the report says which rows ran which."""
    from pydantic import TypeAdapter

    from agentdistill.pipeline.experiment_goals import Goal, check_goals
    from agentdistill.pipeline.experiment_report import build_notes

    def built(cell, build):
        return cell.model_copy(update={"model": "d", "builds": [build]})

    band_gap = {"unit": "eV", "tasks": 40, "answered": 40}
    plain, sag = built(_cell("d", "math", 40), "unrecorded"), built(_cell("d sag", "math", 60), "b1")
    agent = built(_cell("d", "materials", 30, mae={"band_gap": {**band_gap, "mae": 0.1}}), "unrecorded")
    closed = built(_cell("d closed", "materials", 0, mae={"band_gap": {**band_gap, "mae": 1.5}}), "b1")
    prompted = _cell("p", "math", 10).model_copy(update={"model": "student"})
    assert not plain.comparable(sag) and plain.comparable(prompted)
    assert sag.comparable(built(_cell("d", "math", 40), "b1"))  # the same build, rows apart
    goals = TypeAdapter(list[Goal]).validate_python(
        [
            {"kind": "margin", "name": "sag", "row": "d sag", "baseline": "d", "points": 2},
            {"kind": "margin", "name": "distilled", "row": "d", "baseline": "p", "points": 15},
            {"kind": "mae_ratio", "name": "mae", "row": "d", "baseline": "d closed", "ratio": 10},
        ]
    )
    verdicts = {g.name: g for g in check_goals(goals, [plain, sag, agent, closed, prompted], hours=1.0)}
    assert verdicts["sag"].status == "pending" and verdicts["distilled"].status == "met"
    assert verdicts["mae"].status == "pending" and "different builds of d" in verdicts["mae"].measured
    (note,) = build_notes([plain, sag, agent, closed, prompted])
    assert "`d` ran as 2 builds" in note and "build b1: d sag on math, d closed on materials" in note


def test_a_margin_interval_is_paired_and_averages_the_suites():
    from agentdistill.pipeline.experiment_goals import paired_difference_interval

    same = {f"t{i}": i % 2 == 0 for i in range(100)}
    assert paired_difference_interval([(same, same)]) == (0.0, 0.0)  # identical rows: no spread at all
    better = {t: True for t in same}
    low, high = paired_difference_interval([(better, same), (same, same)])
    assert 0.15 < low < 0.25 < high < 0.35  # +50 points on one suite, 0 on the other: +25 on average


@pytest.mark.parametrize(("enough", "shown"), [(2, "running, 2/2"), (1, "2/2")])
def test_a_teacher_run_reads_running_until_best_of_k_has_nothing_left(tmp_path, enough, shown):
    """Every task has an episode after round one, but later rounds may still solve tasks: the teacher table says
    'running' (and states no interval) while the stopping rule has an episode left, whatever the task count."""
    settings = {"samples": 2, "temperature": 0.7, "prefix": False, "stop_after_correct": enough}
    values = _values(tmp_path, teacher_runs=[{"name": "agent", "train_tasks": 2, "settings": settings}])
    config = ExperimentConfig.build(**values)
    run_experiment(config, stages=["collect"], models=FakeModels(load_suite("math", "train", 2)))
    store = config.folder / "teacher" / "agent-math.jsonl"
    records = [json.loads(line) for line in store.read_text().splitlines()]
    kept = [r for r in records if not (r["task_id"] == records[0]["task_id"] and r["sample"] == 1)]
    store.write_text("".join(json.dumps(r) + "\n" for r in kept))  # as if stopped before its second round ended
    write_experiment_report(config)
    row = next(line for line in (config.folder / "report.md").read_text().splitlines() if "| agent | math |" in line)
    assert row.startswith(f"| agent | math | {shown} | {len(kept)} |"), row
    assert ("%)" in row) == (shown == "2/2")


def test_teacher_runs_of_one_suite_are_paired_on_the_train_tasks_both_ran(tmp_path):
    """What a setting does to the teacher (a prefix that steers it off its tools) is measured task by task."""
    runs = [
        {"name": "agent", "train_tasks": 2, "settings": {"samples": 1, "prefix": False}},
        {"name": "agent-prefix", "train_tasks": 2, "settings": {"samples": 1, "prefix": False}},
    ]
    config = ExperimentConfig.build(**_values(tmp_path, teacher_runs=runs))
    run_experiment(config, stages=["collect"], models=FakeModels(load_suite("math", "train", 2)))
    store = config.folder / "teacher" / "agent-prefix-math.jsonl"
    records = [json.loads(line) for line in store.read_text().splitlines()]
    records[0]["correct"] = False  # the prefixed run fails one task the plain run solves
    store.write_text("".join(json.dumps(r) + "\n" for r in records))
    write_experiment_report(config)
    report = (config.folder / "report.md").read_text()
    assert "| run A | run B | suite | tasks | only A | only B |" in report
    assert "| agent | agent-prefix | math | 2 | 1 | 0 | -50.0 | 1.000 |" in report
    pairs = json.loads((config.folder / "summary.json").read_text())["teacher_comparisons"]
    assert [(p["a"], p["b"], p["only_a"], p["only_b"]) for p in pairs] == [("agent", "agent-prefix", 1, 0)]
