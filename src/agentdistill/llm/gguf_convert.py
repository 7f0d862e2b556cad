"""Transformers model folders -> GGUF files the engine serves, with llama.cpp's own converter.

A distilled student is a plain safetensors folder; `to_gguf` runs `convert_hf_to_gguf.py` from the engine's PyPI
sdist (`engine.ensure_converter`) in a subprocess and writes `model-<type>.gguf` into that folder. q8_0 is the
default: on the base 0.5B it gives the same greedy tokens as the shipped Q4_K_M at the same speed, in seconds,
without a separately built `llama-quantize`.
"""

from __future__ import annotations

import os
import struct
import subprocess
import sys
from pathlib import Path
from typing import BinaryIO, Literal

from agentdistill.errors import AgentDistillError, ConfigError

GgufType = Literal["q8_0", "f16", "bf16", "f32"]
GGUF_TYPES: tuple[GgufType, ...] = ("q8_0", "f16", "bf16", "f32")


class ConversionError(AgentDistillError, RuntimeError):
    pass


def gguf_file(folder: Path, outtype: str) -> Path:
    return folder / f"model-{outtype}.gguf"


def find_gguf(folder: str | Path) -> Path | None:
    """The GGUF file `to_gguf` wrote into `folder` (the first type in `GGUF_TYPES` order), or None."""
    folder = Path(folder)
    return next((gguf_file(folder, t) for t in GGUF_TYPES if gguf_file(folder, t).is_file()), None)


def to_gguf(folder: str | Path, outtype: GgufType = "q8_0") -> Path:
    """Convert the model in `folder` to `folder/model-<outtype>.gguf` (atomic; kept if it is already there)."""
    from agentdistill.llm.engine import EngineError, ensure_converter

    folder = Path(folder)
    if outtype not in GGUF_TYPES:
        raise ConfigError(f"unknown GGUF type {outtype!r}; choose one of {', '.join(GGUF_TYPES)}")
    if not (folder / "config.json").is_file():
        raise ConversionError(f"{folder} is not a transformers model folder (no config.json)")
    target = gguf_file(folder, outtype)
    if target.is_file():
        return target
    staged = target.with_suffix(".gguf.tmp")
    try:
        script = ensure_converter()
    except EngineError as error:
        raise ConversionError(str(error)) from None
    # the converter must use the gguf-py it came with (NO_LOCAL_GGUF would pick whichever one is installed)
    env = {**{k: v for k, v in os.environ.items() if k != "NO_LOCAL_GGUF"}, "HF_HUB_OFFLINE": "1"}
    done = subprocess.run(
        [sys.executable, str(script), str(folder), "--outtype", outtype, "--outfile", str(staged)],
        capture_output=True,
        text=True,
        env=env,
    )
    if done.returncode != 0:
        staged.unlink(missing_ok=True)
        raise ConversionError(f"converting {folder} to GGUF failed: {(done.stderr or done.stdout).strip()[-1500:]}")
    staged.rename(target)
    return target


_SCALAR_SIZES = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}  # GGUF value types
_STRING, _ARRAY, _UINT32 = 8, 9, 4


def gguf_quantization(path: str | Path) -> str:
    """The weight type a GGUF file declares (`general.file_type`), e.g. 'Q4_K_M' or 'Q8_0'.

    Reads only the metadata header: `gguf.GGUFReader` maps every tensor too (16 s for the 0.5B file)."""
    from gguf import LlamaFileType

    with Path(path).open("rb") as f:
        if f.read(4) != b"GGUF":
            raise ConversionError(f"{path} is not a GGUF file")
        _version, _tensors, count = struct.unpack("<IQQ", f.read(20))
        for _ in range(count):
            key = _read_string(f)
            kind = struct.unpack("<I", f.read(4))[0]
            if key == "general.file_type" and kind == _UINT32:
                return LlamaFileType(struct.unpack("<I", f.read(4))[0]).name.removeprefix("MOSTLY_")
            _skip_value(f, kind)
    return "unknown"


def _read_string(f: BinaryIO) -> str:
    (length,) = struct.unpack("<Q", f.read(8))
    return f.read(length).decode("utf-8", errors="replace")


def _skip_value(f: BinaryIO, kind: int) -> None:
    if kind == _STRING:
        (length,) = struct.unpack("<Q", f.read(8))
        f.seek(length, 1)
    elif kind == _ARRAY:
        item, length = struct.unpack("<IQ", f.read(12))
        if item in _SCALAR_SIZES:
            f.seek(_SCALAR_SIZES[item] * length, 1)
        else:
            for _ in range(length):
                _skip_value(f, item)
    elif kind in _SCALAR_SIZES:
        f.seek(_SCALAR_SIZES[kind], 1)
    else:
        raise ConversionError(f"unknown GGUF value type {kind}")
