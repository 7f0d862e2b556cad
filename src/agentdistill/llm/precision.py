"""Which floating-point precision a model computes in: decided here, once, for inference and for training.

Every command takes `--dtype auto|fp32|bf16|fp16` (`float32`, `bfloat16`, `float16` are aliases). `auto` is
resolved only here, from what the machine can do (`detect_hardware`), and separately for the two purposes:

| machine | inference (`auto`) | training (`auto`) |
| --- | --- | --- |
| CPU without native bf16 (AVX2, AVX512 without BF16) | fp32 | fp32 |
| CPU with native bf16 (AVX512-BF16, AMX, Arm BF16) | bf16 | bf16 mixed precision |
| GPU with bf16 (Ampere and later) | bf16 | bf16 mixed precision |
| GPU without bf16 | fp16 | fp16 mixed precision |

Mixed precision keeps what is trained in fp32: LoRA adapters are fp32 over a frozen base held in the low
precision (the base never changes, so only the adapters need fp32 updates), and full fine-tuning keeps fp32
master weights; the matrix products run under autocast in bf16/fp16. A choice the machine cannot run fails
with a one-line `PrecisionError` before any model loads (fp16 training on a CPU, bf16 on a GPU without it).

`AGENTDISTILL_CPU_BF16=1` (or `0`) overrides the CPU flag check: for containers that hide `/proc/cpuinfo`
flags, and for tests that run the native-bf16 decisions on a CPU without it.
"""

from __future__ import annotations

import os
import platform
from collections import Counter
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from agentdistill.errors import ConfigError

Dtype = Literal["fp32", "bf16", "fp16"]
DTYPE_CHOICES = ("auto", "fp32", "bf16", "fp16")
_ALIASES = {"float32": "fp32", "bfloat16": "bf16", "float16": "fp16", "half": "fp16"}
_BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")  # x86; Arm reports `bf16` among its Features
CPU_BF16_ENV = "AGENTDISTILL_CPU_BF16"


class PrecisionError(ConfigError):
    """A precision this machine cannot run (or a name that is none); the message is one line."""


def parse_dtype(value: str) -> str:
    """The canonical name (`auto`, `fp32`, `bf16`, `fp16`) of a `--dtype` value; aliases are accepted."""
    name = _ALIASES.get(value.strip().lower(), value.strip().lower())
    if name not in DTYPE_CHOICES:
        raise PrecisionError(f"unknown dtype {value!r}: use auto, fp32, bf16 or fp16 (or float32, bfloat16, float16)")
    return name


class Hardware(BaseModel):
    """What decides `auto`: the device and whether it computes in bf16 natively."""

    device: Literal["cpu", "cuda"]
    native_bf16: bool
    name: str = Field(description="The CPU model or GPU name, with the flags that decided native_bf16.")


@lru_cache(maxsize=1)
def cpu_info() -> tuple[str, frozenset[str]]:
    """(model name, flags) of this machine's CPU; no flags where there is no /proc/cpuinfo (macOS, Windows)."""
    try:
        return parse_cpuinfo(Path("/proc/cpuinfo").read_text(errors="replace"))
    except OSError:
        return platform.processor() or platform.machine(), frozenset()


def parse_cpuinfo(text: str) -> tuple[str, frozenset[str]]:
    """(model name, flags) from /proc/cpuinfo text: x86 lists `flags`, Arm lists `Features`."""
    model, flags = "", set()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip().lower()
        if key in ("model name", "cpu model") and not model:
            model = value.strip()
        elif key in ("flags", "features"):
            flags.update(value.split())
    return model or platform.machine(), frozenset(flags)


def flags_have_bf16(flags: frozenset[str], machine: str) -> bool:
    """Native bf16 from CPU flags: AVX512-BF16 or AMX-BF16 on x86, BF16 on Arm."""
    if any(f in flags for f in _BF16_CPU_FLAGS):
        return True
    machine = machine.lower()
    if machine in ("aarch64", "arm64"):
        return "bf16" in flags or (not flags and machine == "arm64")  # arm64 without cpuinfo: Apple silicon
    return False


def cpu_supports_bf16() -> bool:
    """True where the CPU computes in bf16 natively: AVX512-BF16 or AMX on x86, BF16 on Arm.

    Without it torch still runs bf16, by converting to fp32 around every product: decoding gets faster
    (half the bytes read per token) but prefill and training get slower (see `bench/precision.py`).
    """
    forced = os.environ.get(CPU_BF16_ENV, "").strip()
    if forced in ("0", "1"):
        return forced == "1"
    return flags_have_bf16(cpu_info()[1], platform.machine())


def detect_hardware() -> Hardware:
    """The GPU if torch sees one, else the CPU, and whether it has native bf16."""
    import torch

    if torch.cuda.is_available():
        native = torch.cuda.is_bf16_supported(including_emulation=False)
        return Hardware(device="cuda", native_bf16=native, name=torch.cuda.get_device_name())
    return cpu_hardware()


def cpu_hardware() -> Hardware:
    """This CPU, named with the SIMD flags that matter for precision."""
    model, flags = cpu_info()
    native = cpu_supports_bf16()
    shown = [f for f in ("avx2", "avx512f", *_BF16_CPU_FLAGS, "bf16") if f in flags]
    forced = (
        f", {CPU_BF16_ENV}={os.environ[CPU_BF16_ENV]}" if os.environ.get(CPU_BF16_ENV, "").strip() in ("0", "1") else ""
    )
    return Hardware(
        device="cpu", native_bf16=native, name=f"{model} ({' '.join(shown) or 'no SIMD flags seen'}{forced})"
    )


class Precision(BaseModel):
    """The precision a model runs inference in, and why; recorded with every trajectory and evaluation."""

    dtype: Dtype
    device: str
    requested: str = Field(description="What was asked: auto, fp32, bf16 or fp16.")
    native_bf16: bool
    hardware: str
    reason: str
    quantization: str | None = Field(
        default=None,
        description="The weight type of a quantised model (the engine's "
        "GGUF files, e.g. Q4_K_M); `dtype` is then what it computes in.",
    )

    def torch_dtype(self):
        return _torch_dtype(self.dtype)

    @property
    def numerics(self) -> str:
        """What a model's numbers are: its GGUF type when quantised, else its dtype (the machine aside)."""
        return self.quantization or self.dtype

    def __str__(self) -> str:
        weights = f"{self.quantization} weights, {self.dtype} compute" if self.quantization else self.dtype
        return f"{weights}, {_MACHINE_LABELS[machine_kind(self.device, self.native_bf16)]}"


class TrainingPrecision(BaseModel):
    """How a student is trained: the dtype of the weights held, of what is trained, and of the products."""

    device: str
    requested: str
    native_bf16: bool
    hardware: str
    weights: Dtype = Field(description="The loaded model's weights (a LoRA base is frozen, so it may be low).")
    trainable: Dtype = Field(description="What the optimiser updates: LoRA adapters or full master weights.")
    compute: Dtype = Field(description="The autocast dtype of the forward and backward pass (fp32: none).")
    reason: str

    def torch_dtype(self):
        """The dtype to load the model in."""
        return _torch_dtype(self.weights)

    def trainer_flags(self) -> dict[str, Any]:
        """The matching `transformers.TrainingArguments` flags (`use_cpu` makes CPU mixed precision legal)."""
        return {"bf16": self.compute == "bf16", "fp16": self.compute == "fp16", "use_cpu": self.device == "cpu"}

    def __str__(self) -> str:
        machine = _MACHINE_LABELS[machine_kind(self.device, self.native_bf16)]
        if self.compute == "fp32":
            return f"fp32, {machine}"
        return f"{self.compute} mixed precision ({self.weights} weights, {self.trainable} trained), {machine}"


def machine_kind(device: str, native_bf16: bool) -> str:
    """The four kinds of machine `auto` tells apart: cpu, cpu-bf16, gpu, gpu-no-bf16."""
    if device == "cuda":
        return "gpu" if native_bf16 else "gpu-no-bf16"
    return "cpu-bf16" if native_bf16 else "cpu"


_MACHINE_LABELS = {
    "cpu": "CPU without native bf16",
    "cpu-bf16": "CPU with native bf16",
    "gpu": "GPU",
    "gpu-no-bf16": "GPU without bf16",
}


def describe_precisions(precisions: Iterable[Precision | None]) -> str:
    """One label for the precisions a set of records ran in: 'fp32, CPU without native bf16', or each with its
    count where a resumed run mixed several; 'server' where a server chose."""
    counts = Counter(str(p) if p is not None else "server" for p in precisions)
    if len(counts) <= 1:
        return next(iter(counts), "-")
    return "; ".join(f"{label} ({count})" for label, count in sorted(counts.items()))


def _torch_dtype(name: Dtype):
    import torch

    return {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}[name]


# What `auto` picks, per purpose and kind of machine, and why (bench/generation.py and bench/precision.py measure it)
_AUTO: dict[str, dict[str, tuple[Dtype, str]]] = {
    "inference": {
        "cpu": ("fp32", "CPU without native bf16: bf16 prefill is ~5x slower there (bench/generation.py)"),
        "cpu-bf16": ("bf16", "CPU with native bf16: bf16 matrix units, half the bytes read per decoded token"),
        "gpu": ("bf16", "GPU with bf16"),
        "gpu-no-bf16": ("fp16", "GPU without bf16"),
    },
    "training": {
        "cpu": ("fp32", "CPU without native bf16: bf16 autocast trains many times slower there (bench/precision.py)"),
        "cpu-bf16": ("bf16", "CPU with native bf16: bf16 matrix units"),
        "gpu": ("bf16", "GPU with bf16"),
        "gpu-no-bf16": ("fp16", "GPU without bf16"),
    },
}


def _choose(requested: str, purpose: str, hardware: Hardware | None) -> tuple[str, Hardware, Dtype, str]:
    """(canonical request, hardware, dtype, reason) after refusing what this machine cannot run."""
    requested = parse_dtype(requested)
    hw = hardware or detect_hardware()
    if requested == "bf16" and hw.device == "cuda" and not hw.native_bf16:
        raise PrecisionError(f"{hw.name} has no bf16; use --dtype fp16 or fp32")
    if requested == "fp16" and hw.device == "cpu" and purpose == "training":
        raise PrecisionError(
            "fp16 training needs a GPU (CPU autocast has no fp16 loss scaling); use --dtype bf16 or fp32"
        )
    dtype, reason = (
        (requested, "asked for") if requested != "auto" else _AUTO[purpose][machine_kind(hw.device, hw.native_bf16)]
    )
    return requested, hw, dtype, reason  # type: ignore[return-value]


def inference_precision(requested: str = "auto", hardware: Hardware | None = None) -> Precision:
    """The dtype to run a local model in: `requested`, or for `auto` the fastest sound one on this machine."""
    requested, hw, dtype, reason = _choose(requested, "inference", hardware)
    return Precision(
        dtype=dtype, device=hw.device, requested=requested, native_bf16=hw.native_bf16, hardware=hw.name, reason=reason
    )


def quantized_precision(quantization: str) -> Precision:
    """A model the llama.cpp engine serves: quantised GGUF weights, fp32 compute, on the CPU (its build)."""
    hw = cpu_hardware()
    return Precision(
        dtype="fp32",
        device="cpu",
        requested="auto",
        native_bf16=hw.native_bf16,
        hardware=hw.name,
        quantization=quantization,
        reason="the llama.cpp engine computes in fp32 on quantised weights",
    )


def training_precision(
    requested: str = "auto", lora: bool = True, hardware: Hardware | None = None
) -> TrainingPrecision:
    """How to train on this machine: `requested` (bf16/fp16 mean mixed precision), or for `auto` the fastest
    sound choice. What the optimiser updates is always fp32."""
    requested, hw, compute, reason = _choose(requested, "training", hardware)
    # a frozen LoRA base can sit in the compute dtype (half the memory, no cast per step); full fine-tuning
    # needs fp32 master weights, since bf16/fp16 updates below the weight's precision would be rounded away
    weights: Dtype = compute if lora else "fp32"
    return TrainingPrecision(
        device=hw.device,
        requested=requested,
        native_bf16=hw.native_bf16,
        hardware=hw.name,
        weights=weights,
        trainable="fp32",
        compute=compute,
        reason=reason,
    )
