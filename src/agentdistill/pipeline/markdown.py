"""Markdown tables, the one format every report of the pipeline writes (README tables are generated from them)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence


def markdown_rows(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """A GitHub markdown table: the header, its rule, then one line per row (cells are already strings)."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join([*lines, *("| " + " | ".join(row) + " |" for row in rows)])
