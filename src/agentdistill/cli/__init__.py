"""The `agentdistill` command line: a thin layer over the Python API (one module per group of commands)."""

from agentdistill.cli import (  # noqa: F401  (registers commands)
    agent_commands,
    data_commands,
    recbot_commands,
    train_commands,
)
from agentdistill.cli.common import app
from agentdistill.cli.engine_commands import engine_app
from agentdistill.cli.experiment_commands import experiment_app
from agentdistill.cli.materials_commands import materials_app
from agentdistill.cli.recbot_commands import recbot_app
from agentdistill.cli.study_commands import study_app

app.add_typer(materials_app, name="materials")
app.add_typer(engine_app, name="engine")
app.add_typer(recbot_app, name="recbot")
app.add_typer(study_app, name="study")
app.add_typer(experiment_app, name="experiment")

__all__ = ["app"]
