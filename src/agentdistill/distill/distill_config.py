"""`DistillConfig`: every setting of `distill`; the CLI maps one-to-one onto it (as TRL's SFTConfig does)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from agentdistill.llm.gguf_convert import GGUF_TYPES
from agentdistill.llm.precision import parse_dtype

STUDENT_MARKER = "agentdistill_student.json"  # written next to a student's weights: how it was trained


@dataclass
class DistillConfig:
    """Settings of `distill` (see `agentdistill distill --help` for each)."""

    data: str = "runs/export"
    student: str = "qwen2.5-coder-0.5b"
    out: str = "runs/student"
    full: bool = False
    lora_r: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.05
    epochs: float = 2.0
    learning_rate: float | None = None  # None: 2e-4 for LoRA, 2e-5 for full fine-tuning
    batch_size: int = 1
    grad_accum: int = 4
    max_length: int = 2048
    mask_prefix: bool = False
    dtype: str = "auto"  # auto, fp32, bf16 (mixed) or fp16 (mixed, GPU); see llm.precision
    gradient_checkpointing: bool = False
    seed: int = 0
    logging_steps: int = 1
    merge: bool = True
    gguf: str = "q8_0"  # the merged student also as model-<type>.gguf for the engine: q8_0, f16, bf16, f32 or none

    def __post_init__(self) -> None:
        if self.epochs <= 0 or self.batch_size < 1 or self.grad_accum < 1 or self.max_length < 64:
            raise ValueError("epochs must be > 0, batch_size and grad_accum >= 1, max_length >= 64")
        if self.lora_r < 1 or not 0 <= self.lora_dropout < 1:
            raise ValueError("lora_r must be >= 1 and lora_dropout in [0, 1)")
        self.dtype = parse_dtype(self.dtype)
        if self.gguf not in ("none", *GGUF_TYPES):
            raise ValueError(f"gguf must be one of none, {', '.join(GGUF_TYPES)}")

    @property
    def lr(self) -> float:
        return self.learning_rate if self.learning_rate is not None else (2e-5 if self.full else 2e-4)

    def to_dict(self) -> dict:
        return asdict(self)
