"""Export trajectory records as a conversational dataset (`messages` with roles) for TRL's SFTTrainer."""

from __future__ import annotations

import json
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import Literal

from agentdistill.trajectories.record import TrajectoryRecord


@cache
def _short_prompt(tool_names: tuple[str, ...]) -> str:
    from agentdistill.agents.code_agent import system_prompt
    from agentdistill.tools.builtin import resolve_tool

    return system_prompt("short", [resolve_tool(name) for name in tool_names])


def student_messages(record: TrajectoryRecord, system: Literal["short", "keep"] = "short") -> list[dict[str, str]]:
    """The conversation to train on. Students learn with the short system prompt (no few-shot examples), as
    in the reference: they learn the format from the data instead. The code agent's is rebuilt from its tools;
    another agent states its own in the record (`metadata["student_system"]`), or keeps the prompt it ran with."""
    messages = [dict(m) for m in record.messages]
    if system != "short" or not messages or messages[0]["role"] != "system":
        return messages
    metadata = record.trajectory.metadata
    if metadata.get("agent", "code") == "code":
        messages[0]["content"] = _short_prompt(tuple(metadata.get("tools", [])))
    elif metadata.get("student_system"):
        messages[0]["content"] = metadata["student_system"]
    return messages


def export_dataset(records: Iterable[TrajectoryRecord], out: str | Path, system: Literal["short", "keep"] = "short"):
    """Write `out/train.jsonl` ({"messages", "id", "prefix_span"} a line) and a `datasets` copy in `out/dataset`;
    returns the `datasets.Dataset`."""
    from datasets import Dataset

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rows = [
        {
            "id": r.id,
            "messages": student_messages(r, system),
            "prefix_span": list(r.prefix.char_span) if r.prefix else None,
        }
        for r in records
    ]
    with (out / "train.jsonl").open("w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row) + "\n")
    dataset = Dataset.from_list(rows) if rows else Dataset.from_dict({"id": [], "messages": [], "prefix_span": []})
    dataset.save_to_disk(str(out / "dataset"))
    return dataset
