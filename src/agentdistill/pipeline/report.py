"""`report`: compare runs side by side: eval runs (a markdown table and a bar chart of accuracy) and recbot
evaluations (a table of Recall@10, NDCG@10, pass rate with intervals, invalid outputs and latency)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from agentdistill.errors import InputFileError, MissingFileError
from agentdistill.pipeline.evaluate import SUMMARY_COLUMNS, EvalSummary, load_summary
from agentdistill.pipeline.markdown import markdown_rows
from agentdistill.pipeline.recbot import RECBOT_COLUMNS, RecbotSummary

Summary = EvalSummary | RecbotSummary


def load_any_summary(folder: str | Path) -> Summary:
    """The summary.json of an `eval` or a `recbot eval` output folder."""
    path = Path(folder) / "summary.json"
    if not path.is_file():
        raise MissingFileError(f"{folder} has no summary.json (is it an eval or recbot eval output folder?)")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as error:
        raise InputFileError(f"{path} is not JSON: {error}") from None
    if isinstance(data, dict) and "recall_at_10" in data:
        try:
            return RecbotSummary.model_validate(data)
        except ValueError as error:
            raise InputFileError(f"{path} is not a recbot summary: {error}") from None
    return load_summary(folder)


def markdown_table(summaries: Sequence[Summary]) -> str:
    """One table for the eval runs and one for the recbot runs, whichever are there."""
    tables = []
    for columns, kind in ((SUMMARY_COLUMNS, EvalSummary), (RECBOT_COLUMNS, RecbotSummary)):
        rows = [s for s in summaries if isinstance(s, kind)]
        if rows:
            tables.append(markdown_rows(columns, (s.row() for s in rows)))
    return "\n\n".join(tables)


def plot_accuracy(summaries: Sequence[EvalSummary], path: str | Path) -> None:
    """Grouped bars: one group per suite, one bar per run label."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    suites = list(dict.fromkeys(s.suite for s in summaries))
    labels = list(dict.fromkeys(s.label for s in summaries))
    width = 0.8 / max(len(labels), 1)
    fig, ax = plt.subplots(figsize=(max(5, 1.6 * len(suites) * len(labels) / 2 + 3), 3.8))
    for j, label in enumerate(labels):
        values = [
            next((100 * s.accuracy for s in summaries if s.suite == suite and s.label == label), 0.0)
            for suite in suites
        ]
        bars = ax.bar([i + j * width for i in range(len(suites))], values, width, label=label)
        ax.bar_label(bars, fmt="%.0f", fontsize=8)
    ax.set_xticks([i + width * (len(labels) - 1) / 2 for i in range(len(suites))], suites)
    ax.set_ylabel("accuracy (%)")
    ax.set_ylim(0, 105)
    ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def write_report(summaries: Sequence[Summary], out: str | Path) -> tuple[Path, Path | None]:
    """`out`.md, and `out`.png of the eval runs' accuracy (None without eval runs); returns both paths."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    md, png = out.with_suffix(".md"), out.with_suffix(".png")
    md.write_text(markdown_table(summaries) + "\n", encoding="utf-8")
    evals = [s for s in summaries if isinstance(s, EvalSummary)]
    if not evals:
        return md, None
    plot_accuracy(evals, png)
    return md, png
