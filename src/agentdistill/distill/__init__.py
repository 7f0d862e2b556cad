"""Distillation: teacher trajectories -> a fine-tuned student (TRL SFTTrainer, LoRA or full)."""

from agentdistill.distill.dataset import (
    build_dataset,
    load_training_rows,
    tokenize_example,
)
from agentdistill.distill.distill_config import DistillConfig
from agentdistill.distill.templates import training_template
from agentdistill.distill.trainer import DistillResult, distill

__all__ = [
    "DistillConfig",
    "DistillResult",
    "build_dataset",
    "distill",
    "load_training_rows",
    "tokenize_example",
    "training_template",
]
