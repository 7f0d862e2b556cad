"""One config per command: the CLI options are the config's fields, `--config FILE` feeds them, options on the
command line win, and bad files or values are clear errors before any model loads."""

import pytest
import typer
from typer.testing import CliRunner

from agentdistill.agents.run_config import RunConfig
from agentdistill.cli import app
from agentdistill.cli.config_options import CONFIG_PARAM
from agentdistill.cli.materials_commands import MaterialsSearchConfig, SnapshotBuildConfig, SnapshotRefreshConfig
from agentdistill.distill.distill_config import DistillConfig
from agentdistill.pipeline.collect_config import CollectConfig
from agentdistill.pipeline.eval_config import EvalConfig
from agentdistill.pipeline.quickstart import QuickstartConfig
from agentdistill.pipeline.recbot import RecbotCollectConfig, RecbotConfig
from agentdistill.server.app import ServerConfig

runner = CliRunner()
COMMANDS = {
    ("run",): RunConfig,
    ("collect",): CollectConfig,
    ("eval",): EvalConfig,
    ("distill",): DistillConfig,
    ("quickstart",): QuickstartConfig,
    ("serve",): ServerConfig,
    ("recbot", "eval"): RecbotConfig,
    ("recbot", "collect"): RecbotCollectConfig,
    ("materials", "search"): MaterialsSearchConfig,
    ("materials", "refresh"): SnapshotRefreshConfig,
    ("materials", "build-snapshot"): SnapshotBuildConfig,
}


def flat(text: str) -> str:
    return " ".join(text.replace("│", " ").split())  # the error box wraps long lines


@pytest.mark.parametrize("path", list(COMMANDS), ids=" ".join)
def test_each_commands_options_are_its_config_fields(path):
    command = typer.main.get_command(app)
    for name in path:
        command = command.commands[name]
    config = COMMANDS[path]
    shown = {n for n, f in config.model_fields.items() if not (f.json_schema_extra or {}).get("cli", {}).get("hidden")}
    assert {p.name for p in command.params} == shown | {CONFIG_PARAM}


def test_a_config_file_then_the_command_line(tmp_path):
    (tmp_path / "a-file").write_text("")
    config = tmp_path / "collect.yaml"
    config.write_text("suite: nosuch\nn: 3\n")
    result = runner.invoke(app, ["collect", "--config", str(config)])
    assert result.exit_code == 2 and "unknown suite 'nosuch'" in flat(result.output)  # the file was read
    blocked = str(tmp_path / "a-file" / "t.jsonl")
    result = runner.invoke(app, ["collect", "--config", str(config), "--suite", "math", "--out", blocked])
    assert result.exit_code == 1 and "cannot write the store" in flat(result.output)  # the option won

    cases = [  # command, file text, exit code, message
        ("eval", "model: gpt-17\n", 2, "--model: unknown model 'gpt-17'"),
        ("distill", f"data: {tmp_path / 'nothing'}\n", 1, "no training data at"),
        ("quickstart", "tiny: true\nsag: -1\n", 2, "--sag: Input should be greater than or equal to 0"),
        ("collect", "temprature: 0.7\n", 2, "temprature: Extra inputs are not permitted"),
        ("eval", "model: [unclosed\n", 1, "is not a valid config file"),
        ("eval", "- a list\n", 1, "must hold a mapping of settings"),
    ]
    for command, text, code, message in cases:
        config.write_text(text)
        result = runner.invoke(app, [command, "--config", str(config)])
        assert result.exit_code == code and message in flat(result.output), (command, text, result.output)
        assert "Traceback" not in result.output


def test_a_saved_config_loads_back_the_same(tmp_path):
    config = CollectConfig(suite="facts", n=7, temperature=0.7, samples=2, prefix=True)
    assert CollectConfig.load(config.save(tmp_path / "c.yaml")) == config
    assert CollectConfig.load(config.save(tmp_path / "c.json"), n=9) == config.model_copy(update={"n": 9})
    tiny = QuickstartConfig.load(QuickstartConfig(tiny=True, sag=0).save(tmp_path / "q.yaml"))
    assert tiny.student == "smollm2-135m" and tiny.sag == 0  # the preset, with what was given on top


def test_the_error_handler_and_debug(tmp_path):
    result = runner.invoke(app, ["tasks", "show", "nosuch"])
    assert result.exit_code == 1 and result.output.startswith("error: unknown suite")
    result = runner.invoke(app, ["--debug", "tasks", "show", "nosuch"])
    assert result.exit_code == 1 and type(result.exception).__name__ == "UnknownNameError"


def test_quickstart_tiny_is_the_preset_with_options_on_top(monkeypatch):
    import agentdistill.pipeline.quickstart as quickstart

    seen = []
    monkeypatch.setattr(quickstart, "run_quickstart", lambda config, **_: seen.append(config) or 1 / 0)
    runner.invoke(app, ["quickstart", "--tiny", "--sag", "0"])
    assert seen and seen[0].student == "smollm2-135m" and seen[0].out == "runs/quickstart-tiny" and seen[0].sag == 0
