"""Result files of the benchmarks: JSON with a header (where it was measured) and rows keyed by cell, written
after every cell, so that an interrupted benchmark resumes where it stopped."""

from __future__ import annotations

import json
from pathlib import Path


def load_results(path: Path | None, header: dict, same: tuple[str, ...]) -> dict:
    """Earlier rows measured where the header's `same` fields agree (a resumed run); anything else starts afresh."""
    if path is not None and path.is_file():
        earlier = json.loads(path.read_text())
        if all(earlier.get(k) == header[k] for k in same):
            return earlier
    return {**header, "rows": {}}


def save_results(path: Path | None, results: dict) -> None:
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(results, indent=2) + "\n")


def training_machine() -> dict:
    """Where a training benchmark ran: the CPU, whether it has native bf16, torch, its threads, and what `auto`
    trains in there (the header fields the training benchmarks share)."""
    import torch

    from agentdistill.llm.precision import detect_hardware, training_precision

    hw = detect_hardware()
    return {
        "cpu": hw.name,
        "native_bf16": hw.native_bf16,
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "auto": str(training_precision("auto")),
    }
