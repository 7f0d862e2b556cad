"""The `agentdistill` command line: a thin layer over the Python API (one module per group of commands)."""

from agentdistill.cli import agent_commands, data_commands, train_commands  # noqa: F401  (registers commands)
from agentdistill.cli.common import app

__all__ = ["app"]
