"""`DistillConfig`: every setting of `distill`; the command is generated from it (as TRL's from SFTConfig)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

from pydantic import Field

from agentdistill.config import (
    DEFAULT_STUDENT,
    CommandConfig,
    Dtype,
    DtypeSettings,
    ModelSpec,
    cli,
)
from agentdistill.errors import InputFileError
from agentdistill.llm.gguf_convert import GgufType

STUDENT_MARKER = "agentdistill_student.json"  # written next to a student's weights: how it was trained


def is_student(spec: str) -> bool:
    """Whether a model spec is a student `distill` trained (an `hf:` folder with the marker): it learned the
    short system prompts, and should be run with them."""
    return spec.startswith("hf:") and (Path(spec[3:]).expanduser() / STUDENT_MARKER).exists()


def student_build(spec: str) -> str | None:
    """The build of a distilled student (a digest of the weights its training produced), or None for a model
    `distill` did not train (or one trained before builds were recorded). Retraining a student at the same path
    gives another build, so what was measured on the old one is never continued with the new one."""
    if not is_student(spec):
        return None
    path = Path(spec[3:]).expanduser() / STUDENT_MARKER
    try:
        marker = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise InputFileError(f"{path}: unreadable student marker ({error}); train the student again") from error
    if not isinstance(marker, dict):
        raise InputFileError(f"{path}: a student marker is a JSON object; train the student again")
    build = marker.get("build")
    return build if isinstance(build, str) else None


class DistillConfig(DtypeSettings, CommandConfig):
    """Settings of `distill` (see `agentdistill distill --help` for each)."""

    data: str = Field(
        "runs/export",
        description="An `export` folder, its train.jsonl, or a trajectory store.",
        json_schema_extra=cli(argument=True),
    )
    student: ModelSpec = Field(DEFAULT_STUDENT, description="Embedded model name or hf:PATH to fine-tune.")
    out: str = Field(
        "runs/student", description="Output folder (adapter/, model/, loss.png, ...).", json_schema_extra=cli("-o")
    )
    full: bool = Field(False, description="Full fine-tuning instead of LoRA.")
    lora_r: int = Field(16, ge=1, description="LoRA rank.")
    lora_alpha: int = Field(32, ge=1, description="LoRA alpha.")
    lora_dropout: float = Field(0.05, ge=0.0, lt=1.0, description="LoRA dropout.")
    epochs: float = Field(2.0, gt=0.0, description="Passes over the data.")
    learning_rate: float | None = Field(None, gt=0.0, description="Default 2e-4 (LoRA) / 2e-5 (full).")
    batch_size: int = Field(1, ge=1, description="Examples per device step.")
    grad_accum: int = Field(4, ge=1, description="Steps per optimizer update.")
    max_length: int = Field(2048, ge=64, description="Longer conversations are cut.")
    packing: bool = Field(
        False,
        description="Pack several examples into each --max-length sequence (best fit, padding-free; each example "
        "attends only to itself): fewer, fuller steps, so lower --grad-accum to keep the examples per update.",
    )
    mask_prefix: bool = Field(False, description="No loss on first-thought prefix tokens.")
    dtype: Dtype = Field(
        "auto", description="Training precision: auto, fp32, bf16 (mixed) or fp16 (mixed, GPU); see llm.precision."
    )  # parsed as in DtypeSettings
    gradient_checkpointing: bool = Field(False, description="Trade compute for memory.")
    torch_compile: bool = Field(
        False, description="Compile the model with torch.compile first (see bench/train_throughput.py for its gain)."
    )
    seed: int = Field(0, description="Seed of data order and adapter initialisation.")
    logging_steps: int = Field(1, ge=1, description="Optimizer steps between loss records.")
    checkpoint_steps: int = Field(
        20,
        ge=0,
        description="Optimizer steps between resumable checkpoints in OUT/checkpoints (0: none); rerunning with "
        "the same data and settings continues from the last one.",
    )
    merge: bool = Field(True, description="Also save a merged, standalone model.")
    gguf: Literal["none", GgufType] = Field(
        "q8_0", description="Also write the merged model as model-<type>.gguf for the engine (none: do not)."
    )

    @property
    def lr(self) -> float:
        return self.learning_rate if self.learning_rate is not None else (2e-5 if self.full else 2e-4)
