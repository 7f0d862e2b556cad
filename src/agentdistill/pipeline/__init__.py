"""Stages that run agents over the data layer: collect teacher trajectories, evaluate on held-out tasks, compare
runs in a report, run the recbot sessions, and the quickstart that chains them with `distill`."""

from agentdistill.pipeline.collect import Collector
from agentdistill.pipeline.collect_config import CollectConfig
from agentdistill.pipeline.eval_config import EvalConfig
from agentdistill.pipeline.evaluate import EvalSummary, evaluate, load_summary
from agentdistill.pipeline.report import markdown_table, write_report

__all__ = [
    "CollectConfig",
    "Collector",
    "EvalConfig",
    "EvalSummary",
    "evaluate",
    "load_summary",
    "markdown_table",
    "write_report",
]
