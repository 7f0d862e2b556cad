"""A LoRA student's adapter, kept, and the standalone model merged from it.

Training ends by saving the adapter in bf16 (half the bytes: an experiment commits it) with the fingerprint of
the run that produced it, and by merging that very file into the base model. A machine that has the adapter but
not the merged model (a fresh checkout: the merged model is gigabytes, the adapter megabytes) merges it again in
seconds instead of training for hours, and gets the same student: the build digest is the adapter's.

The adapter's bf16 rounding (a relative 2^-8 on the low-rank factors) is far below what the engine's Q8_0
quantisation of the merged weights changes, and, since the merge reads the rounded file, what runs on the training
machine and on any other is the same model.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from agentdistill.distill.distill_config import STUDENT_MARKER, DistillConfig

ADAPTER_RUN = "run.json"  # next to the adapter: the fingerprint of the training run that produced it


def adapter_fingerprint(fingerprint: dict) -> dict:
    """What makes an adapter this config's: the data and the settings, not the machine's dtypes (an adapter
    trained with bf16 matrix units merges anywhere)."""
    return {key: value for key, value in fingerprint.items() if key != "precision"}


def finished_adapter(out: Path, fingerprint: dict) -> bool:
    """Whether `out/adapter` holds the finished adapter of this very run (same data and settings)."""
    stamp = out / "adapter" / ADAPTER_RUN
    try:
        return json.loads(stamp.read_text(encoding="utf-8")) == adapter_fingerprint(fingerprint)
    except (OSError, ValueError):
        return False


def keep_adapter(model: Any, out: Path) -> Path:
    """Save the trained adapter in bf16, unstamped: `stamp_adapter` marks it finished once the run's summary is
    written, so that a run stopped in between resumes from its checkpoint rather than from a half-kept student."""
    import torch
    from safetensors.torch import load_file, save_file

    folder = out / "adapter"
    (folder / ADAPTER_RUN).unlink(missing_ok=True)
    model.save_pretrained(str(folder))
    for file in folder.glob("*.safetensors"):
        tensors = {name: t.to(torch.bfloat16).contiguous() for name, t in load_file(str(file)).items()}
        save_file(tensors, str(file), metadata={"format": "pt"})
    return folder


def stamp_adapter(out: Path, fingerprint: dict) -> None:
    """Mark `out/adapter` as the finished adapter of the run with this fingerprint."""
    stamp = out / "adapter" / ADAPTER_RUN
    stamp.write_text(json.dumps(adapter_fingerprint(fingerprint), indent=2), encoding="utf-8")


def merge_adapter(out: Path, config: DistillConfig) -> Path:
    """The base model in fp32 plus the kept adapter, merged and saved as a standalone student in `out/model`
    (fp32, so that nothing the adapter learnt is rounded into bf16 base weights)."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from agentdistill.llm import local_model_path

    path = local_model_path(config.student)
    base = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32)
    model = PeftModel.from_pretrained(base, str(out / "adapter")).to(torch.float32).merge_and_unload()
    model_dir = out / "model"
    model.save_pretrained(str(model_dir))
    # the model's own tokenizer and chat template, not the training one
    AutoTokenizer.from_pretrained(path).save_pretrained(str(model_dir))
    write_marker(model_dir, config, build_digest(out / "adapter"))
    return model_dir


def write_marker(model_dir: Path, config: DistillConfig, build: str) -> None:
    """The file that makes a folder a student: students learned the short system prompts (`eval --prompt-style
    auto` reads this to use them), and which build it is."""
    marker = {
        "student": config.student,
        "data": config.data,
        "prompt_style": "short",
        "full": config.full,
        "build": build,
    }
    (model_dir / STUDENT_MARKER).write_text(json.dumps(marker, indent=2), encoding="utf-8")


def build_digest(weights: Path) -> str:
    """A digest of the trained weights (the adapter of a LoRA student, else the model): what tells two trainings
    of one student apart, and makes a model merged again from the same adapter on another machine the same."""
    digest = hashlib.sha256()
    for file in sorted(weights.glob("*.safetensors")):
        with file.open("rb") as stream:
            while chunk := stream.read(1 << 24):
                digest.update(chunk)
    return digest.hexdigest()[:16]
