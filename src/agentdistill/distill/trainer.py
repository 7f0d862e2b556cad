"""`distill`: fine-tune a student on teacher trajectories with TRL's SFTTrainer (LoRA by default).

Output folder:
    adapter/          the LoRA adapter (peft, bf16) and run.json, when not --full: kept, so that a checkout
                      without model/ merges the student again in seconds rather than training (distill/merge.py)
    model/            the merged student: `load_chat_model("hf:out/model")`, `vllm serve out/model`
    train_log.jsonl   one line per logged step (loss, learning rate, grad norm, ...)
    loss.png          the loss curve
    summary.json      config, precision, examples, tokens, seconds, tokens/s
    checkpoints/      while training: the last resumable checkpoint (every --checkpoint-steps optimizer steps),
                      removed once the student is saved

A stopped run resumes: rerunning `distill` with the same data, student and training settings continues from the
last checkpoint (the data order, optimizer and scheduler state included); other settings or other data are refused
rather than mixed into the old run.

Precision (`--dtype`, resolved by `llm.precision.training_precision`): fp32, or bf16/fp16 mixed precision in
which what is trained stays fp32 (LoRA adapters over a frozen low-precision base; fp32 master weights for
full fine-tuning) and the products run under autocast. The merged student is saved in fp32, so nothing the
adapters learnt is rounded away at merge time; whoever loads it picks the inference precision.

Under `accelerate launch` (FSDP / DeepSpeed) the same code trains on several GPUs: SFTTrainer reads the
distributed setup from the environment that accelerate prepares.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agentdistill.distill.dataset import build_dataset, load_training_rows
from agentdistill.distill.distill_config import DistillConfig
from agentdistill.distill.merge import (
    build_digest,
    finished_adapter,
    keep_adapter,
    merge_adapter,
    stamp_adapter,
    write_marker,
)
from agentdistill.distill.templates import training_template
from agentdistill.errors import InputFileError
from agentdistill.llm.precision import TrainingPrecision, training_precision


@dataclass
class DistillResult:
    """What one `distill` run produced and measured."""

    out: Path
    model_dir: Path
    examples: int
    loss_tokens: int
    train_tokens: int
    seconds: float
    first_loss: float | None
    last_loss: float | None
    precision: TrainingPrecision
    gguf: Path | None = None  # the merged student as GGUF, for the engine
    resumed_from_step: int = 0  # a stopped run continued from this optimizer step; seconds and tokens are this run's

    @property
    def tokens_per_second(self) -> float:
        return self.train_tokens / self.seconds if self.seconds else 0.0


def distill(
    config: DistillConfig,
    callbacks: list | None = None,
    precision: TrainingPrecision | None = None,
    on_step: Callable[[int], None] | None = None,
) -> DistillResult:
    """Train the student as `config` says; returns where it went and what it measured.

    `precision` replaces the decision `config.dtype` would give (`bench/precision.py` compares the options).
    `on_step(done)` is called after each optimizer step with the steps this call has done (a resumed run counts
    from its checkpoint), so that a caller can account for work even when the run is stopped."""
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import SFTTrainer

    from agentdistill.llm import local_model_path

    precision = precision or training_precision(config.dtype, lora=not config.full)  # fails before loading
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    rows = load_training_rows(config.data)
    if not rows:
        raise InputFileError(f"{config.data} holds no training examples (did the filter keep any trajectory?)")
    fingerprint = _run_fingerprint(config, precision, rows)
    if not config.full and finished_adapter(out, fingerprint):
        return _from_kept_adapter(out, config)  # trained before, only the merged model is missing: seconds
    resume_from = _checkpoint_to_resume(out, fingerprint)  # before loading a model
    resumed_from_step = _checkpoint_step(resume_from)
    path = local_model_path(config.student)
    tokenizer = AutoTokenizer.from_pretrained(path)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    dataset = build_dataset(rows, tokenizer, training_template(tokenizer), config.mask_prefix)
    model = AutoModelForCausalLM.from_pretrained(path, dtype=precision.torch_dtype())
    callbacks = list(callbacks or [])
    if on_step:
        callbacks.append(_steps_done_here(on_step))
    trainer = SFTTrainer(
        model=model,
        args=_sft_config(config, precision, out),
        train_dataset=dataset,
        processing_class=tokenizer,
        peft_config=None if config.full else _lora(config),
        callbacks=callbacks,
    )
    started = time.perf_counter()
    trainer.train(resume_from_checkpoint=resume_from)
    seconds = time.perf_counter() - started
    model_dir = _save(trainer, tokenizer, out, config)
    gguf = _export_gguf(model_dir, config)
    history = [h for h in trainer.state.log_history if "loss" in h]
    _write_log(out, history)
    plot_loss(history, out / "loss.png", title=f"{config.student} ({'full' if config.full else 'LoRA'})")
    # tokens trained by this process only, so that a resumed run's tokens/s is not inflated by earlier work
    steps = trainer.state.max_steps or 1
    done_here = (trainer.state.global_step - resumed_from_step) / steps
    train_tokens = int(sum(len(ids) for ids in dataset["input_ids"]) * config.epochs * done_here)
    result = DistillResult(
        out=out,
        model_dir=model_dir,
        examples=len(dataset),
        loss_tokens=sum(sum(m) for m in dataset["assistant_masks"]),
        train_tokens=train_tokens,
        seconds=seconds,
        first_loss=history[0]["loss"] if history else None,
        last_loss=history[-1]["loss"] if history else None,
        precision=precision,
        gguf=model_dir / gguf if gguf else None,
        resumed_from_step=resumed_from_step,
    )
    _write_summary(out, config, result, gguf)
    if not config.full:  # finished, summary written: from now on the adapter stands for the run
        stamp_adapter(out, fingerprint)
    shutil.rmtree(out / "checkpoints", ignore_errors=True)  # last: until then a stopped run resumes from them
    return result


def _from_kept_adapter(out: Path, config: DistillConfig) -> DistillResult:
    """The student again from its kept adapter (a fresh checkout of an experiment), as its training measured it."""
    model_dir = merge_adapter(out, config) if config.merge else out / "adapter"
    gguf = _export_gguf(model_dir, config)
    trained = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    return DistillResult(
        out=out,
        model_dir=model_dir,
        examples=trained["examples"],
        loss_tokens=trained["loss_tokens"],
        train_tokens=trained["train_tokens"],
        seconds=trained["seconds"],
        first_loss=trained["first_loss"],
        last_loss=trained["last_loss"],
        precision=TrainingPrecision.model_validate(trained["precision"]),
        gguf=model_dir / gguf if gguf else None,
        resumed_from_step=trained["resumed_from_step"],
    )


def _steps_done_here(on_step: Callable[[int], None]) -> Any:
    from transformers import TrainerCallback

    class StepsDoneHere(TrainerCallback):
        def on_train_begin(self, args, state, control, **kwargs):
            self.first = state.global_step  # the checkpoint's step when resuming, else 0

        def on_step_end(self, args, state, control, **kwargs):
            on_step(state.global_step - self.first)

    return StepsDoneHere()


def _sft_config(config: DistillConfig, precision: TrainingPrecision, out: Path):
    from trl import SFTConfig

    return SFTConfig(
        output_dir=str(out / "checkpoints"),
        num_train_epochs=config.epochs,
        learning_rate=config.lr,
        per_device_train_batch_size=config.batch_size,
        gradient_accumulation_steps=config.grad_accum,
        max_length=config.max_length,
        packing=config.packing,
        torch_compile=config.torch_compile,
        **precision.trainer_flags(),
        gradient_checkpointing=config.gradient_checkpointing,
        # the non-reentrant variant: torch deprecates the reentrant default and warns on every step
        gradient_checkpointing_kwargs={"use_reentrant": False} if config.gradient_checkpointing else None,
        logging_steps=config.logging_steps,
        lr_scheduler_type="cosine",
        warmup_steps=0.1,
        **_checkpoint_flags(config),
        report_to="none",
        seed=config.seed,
        dataloader_num_workers=0,
        disable_tqdm=False,
    )


def _checkpoint_flags(config: DistillConfig) -> dict:
    if not config.checkpoint_steps:
        return {"save_strategy": "no"}
    return {"save_strategy": "steps", "save_steps": config.checkpoint_steps, "save_total_limit": 1}


def _run_fingerprint(config: DistillConfig, precision: TrainingPrecision, rows: list[dict]) -> dict:
    """What must not change between a run and its resumption: the data, the student, the training settings and
    the dtypes. Not the machine: a run stopped on one CPU with bf16 resumes on another (sessions move machines)."""
    settings = config.to_dict()
    for after_training in ("out", "data", "merge", "gguf", "checkpoint_steps", "logging_steps"):
        settings.pop(after_training, None)
    digest = hashlib.sha256(json.dumps(rows, sort_keys=True).encode("utf-8")).hexdigest()
    dtypes = precision.model_dump(mode="json", include={"device", "weights", "trainable", "compute"})
    return {"settings": settings, "precision": dtypes, "data_sha256": digest}


def _checkpoint_to_resume(out: Path, fingerprint: dict) -> str | None:
    """The last checkpoint of a stopped run with the same fingerprint, if any; the fingerprint is written for the
    next resumption. A checkpoint of another run is refused, not overwritten: it may be hours of training."""
    from transformers.trainer_utils import get_last_checkpoint

    folder = out / "checkpoints"
    stamp = folder / "run.json"
    last = get_last_checkpoint(str(folder)) if folder.is_dir() else None
    if last is not None:
        try:
            stored = json.loads(stamp.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            stored = {}  # missing or cut short: nothing says the checkpoint belongs to this run
        if stored != fingerprint:
            raise InputFileError(
                f"{folder} holds a stopped run with other {_differences(stored, fingerprint)}: rerun with those, "
                "or delete the folder or choose another --out to start afresh"
            )
    folder.mkdir(parents=True, exist_ok=True)
    stamp.write_text(json.dumps(fingerprint, indent=2), encoding="utf-8")
    return last


def _differences(stored: dict, fingerprint: dict) -> str:
    settings = stored.get("settings", {})
    changed = [key for key, value in fingerprint["settings"].items() if settings.get(key) != value]
    changed += [name for name in ("precision", "data_sha256") if stored.get(name) != fingerprint[name]]
    return "settings (" + ", ".join(changed).replace("data_sha256", "training data") + ")"


def _checkpoint_step(checkpoint: str | None) -> int:
    return int(Path(checkpoint).name.rsplit("-", 1)[1]) if checkpoint else 0


def _write_summary(out: Path, config: DistillConfig, result: DistillResult, gguf: str | None) -> None:
    summary = {
        "config": config.to_dict(),
        "examples": result.examples,
        "loss_tokens": result.loss_tokens,
        "train_tokens": result.train_tokens,
        "seconds": round(result.seconds, 1),
        "tokens_per_second": round(result.tokens_per_second, 1),
        "resumed_from_step": result.resumed_from_step,
        "precision": result.precision.model_dump(),
        "saved_dtype": "fp32",
        "gguf": gguf,
        "first_loss": result.first_loss,
        "last_loss": result.last_loss,
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")


def _lora(config: DistillConfig):
    from peft import LoraConfig

    return LoraConfig(
        r=config.lora_r,
        lora_alpha=config.lora_alpha,
        lora_dropout=config.lora_dropout,
        target_modules="all-linear",
        task_type="CAUSAL_LM",
    )


def _save(trainer: Any, tokenizer: Any, out: Path, config: DistillConfig) -> Path:
    """The kept adapter (LoRA) and the merged student made from it, or the fully fine-tuned model, in fp32."""
    import torch

    if not config.full:
        adapter = keep_adapter(trainer.model, out)
        return merge_adapter(out, config) if config.merge else adapter
    model_dir = out / "model"
    trainer.model.to(torch.float32).save_pretrained(str(model_dir))
    tokenizer.save_pretrained(str(model_dir))  # with the model's own chat template, not the training one
    write_marker(model_dir, config, build_digest(model_dir))
    return model_dir


def _export_gguf(model_dir: Path, config: DistillConfig) -> str | None:
    """The merged student as a GGUF file for the engine (seconds); the trained model is already saved, so a
    failed conversion is reported, not fatal (`load_chat_model(..., backend="engine")` converts on demand)."""
    from agentdistill.llm.gguf_convert import ConversionError, to_gguf

    if config.gguf == "none" or model_dir.name != "model":
        return None
    try:
        return to_gguf(model_dir, config.gguf).name
    except (ConversionError, OSError) as error:
        warnings.warn(f"the student was saved, but not as GGUF for the engine: {error}", stacklevel=2)
        return None


def _write_log(out: Path, history: list[dict]) -> None:
    with (out / "train_log.jsonl").open("w", encoding="utf-8") as f:
        for entry in history:
            f.write(json.dumps(entry) + "\n")


def plot_loss(history: list[dict], path: Path, title: str) -> None:
    """Training loss per logged step as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot([h.get("step", i + 1) for i, h in enumerate(history)], [h["loss"] for h in history], marker=".")
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("training loss (agent turns only)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
