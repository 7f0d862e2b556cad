"""Evaluation: run agents on held-out tasks, summarise, and compare runs in a report."""

from agentdistill.evaluation.eval_config import EvalConfig
from agentdistill.evaluation.evaluate import EvalSummary, evaluate, load_summary
from agentdistill.evaluation.report import markdown_table, write_report

__all__ = ["EvalConfig", "EvalSummary", "evaluate", "load_summary", "markdown_table", "write_report"]
