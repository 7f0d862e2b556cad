"""`report`: compare eval runs side by side: a markdown table and a bar chart of accuracy."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from agentdistill.pipeline.evaluate import SUMMARY_COLUMNS, EvalSummary


def markdown_table(summaries: Sequence[EvalSummary]) -> str:
    lines = ["| " + " | ".join(SUMMARY_COLUMNS) + " |", "|" + "---|" * len(SUMMARY_COLUMNS)]
    lines += ["| " + " | ".join(s.row()) + " |" for s in summaries]
    return "\n".join(lines)


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


def write_report(summaries: Sequence[EvalSummary], out: str | Path) -> tuple[Path, Path]:
    """`out`.md and `out`.png; returns both paths."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    md, png = out.with_suffix(".md"), out.with_suffix(".png")
    md.write_text(markdown_table(summaries) + "\n", encoding="utf-8")
    plot_accuracy(summaries, png)
    return md, png
