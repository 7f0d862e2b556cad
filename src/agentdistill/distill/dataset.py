"""Tokenised training examples: which tokens carry loss is decided here, once, and tested exactly.

Loss falls on what the agent wrote (its assistant turns, including the end-of-turn token) and nowhere else:
system prompt, task and observations are masked. Optionally the first-thought prefix is masked too, since
the student will not be given one at inference (or will, and should not learn to produce it).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from agentdistill.errors import InputFileError, MissingFileError


def load_training_rows(path: str | Path) -> list[dict[str, Any]]:
    """Rows {"id", "messages", "prefix_span"} from an `export` folder, its train.jsonl, or a trajectory store
    (whose records are filtered with the default filter and given the student's short system prompt)."""
    from agentdistill.trajectories.export import student_messages
    from agentdistill.trajectories.filters import filter_records
    from agentdistill.trajectories.store import TrajectoryStore

    path = Path(path)
    if path.is_dir():
        path = path / "train.jsonl"
    if not path.is_file():
        raise MissingFileError(
            f"no training data at {path} (expected an `agentdistill export` folder or a trajectory .jsonl)"
        )
    with path.open(encoding="utf-8") as f:
        first = next((line for line in f if line.strip()), "")
    if not first:
        raise InputFileError(f"{path} is empty: nothing to train on")
    if "schema_version" in json.loads(first):
        kept, _ = filter_records(TrajectoryStore(path))
        return [
            {"id": r.id, "messages": student_messages(r), "prefix_span": list(r.prefix.char_span) if r.prefix else None}
            for r in kept
        ]
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    for row in rows:
        if "messages" not in row:
            raise InputFileError(f"{path}: a row without 'messages' (id {row.get('id')!r})")
    return rows


def tokenize_example(
    tokenizer: Any,
    template: str,
    messages: list[dict[str, str]],
    prefix_span: list[int] | tuple[int, int] | None = None,
    mask_prefix: bool = False,
) -> dict[str, list[int]]:
    """{"input_ids", "assistant_masks"}: 1 where the token is the agent's own text (and counts in the loss)."""
    encoded = tokenizer.apply_chat_template(
        messages, chat_template=template, tokenize=True, return_dict=True, return_assistant_tokens_mask=True
    )
    ids, mask = list(encoded["input_ids"]), list(encoded["assistant_masks"])
    if 1 not in mask:
        raise ValueError("the conversation has no assistant text to learn from")
    if mask_prefix and prefix_span and prefix_span[1] > prefix_span[0]:
        for index in _prefix_token_indices(tokenizer, template, messages, ids, prefix_span):
            mask[index] = 0
    return {"input_ids": ids, "assistant_masks": mask}


def _prefix_token_indices(
    tokenizer: Any, template: str, messages: list[dict[str, str]], ids: list[int], span: list[int] | tuple[int, int]
) -> list[int]:
    """Indices of the tokens that overlap the prefix's characters in the first assistant turn."""
    first = next(i for i, m in enumerate(messages) if m["role"] == "assistant")
    text = tokenizer.apply_chat_template(messages, chat_template=template, tokenize=False)
    before = tokenizer.apply_chat_template(messages[:first], chat_template=template, tokenize=False)
    offset = text.index(messages[first]["content"], len(before))
    start, end = offset + span[0], offset + span[1]
    encoded = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    if list(encoded["input_ids"]) != ids:
        raise ValueError("re-tokenising the rendered conversation gave different tokens; cannot locate the prefix")
    return [i for i, (a, b) in enumerate(encoded["offset_mapping"]) if a < end and b > start]


def build_dataset(rows: list[dict[str, Any]], tokenizer: Any, template: str, mask_prefix: bool = False):
    """A pre-tokenised `datasets.Dataset` (input_ids, assistant_masks) for TRL's SFTTrainer."""
    from datasets import Dataset

    examples = [
        tokenize_example(tokenizer, template, row["messages"], row.get("prefix_span"), mask_prefix) for row in rows
    ]
    return Dataset.from_list(examples)
