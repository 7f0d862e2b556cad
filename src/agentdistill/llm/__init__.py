"""Chat models behind one interface (`AgentChatModel`), chosen by a spec string.

- ``"qwen2.5-coder-0.5b"`` (or another name from `agentdistill models list`): an embedded model, offline.
- ``"hf:PATH"``: a transformers model folder (or a single ``.gguf`` file) on disk.
- ``"openai:MODEL@BASE_URL"``: any OpenAI-compatible server, e.g. ``openai:Qwen/Qwen2.5-32B@http://gpu:8000/v1``.
- ``"engine:NAME"`` (or ``"engine:PATH.gguf"``): the embedded model served by the managed llama.cpp engine
  (`agentdistill engine build` once), started on first use and stopped when its last user closes.

Local models (a name or ``hf:PATH``) run on one of three backends, `backend=`:

- ``"engine"``: the llama.cpp engine serves the model's GGUF file (the embedded models ship as GGUF; a distilled
  student gets one from `distill`, or converted on demand); fast on CPUs, parallel slots, JSON schemas.
- ``"transformers"``: eager transformers in-process, in the precision `dtype` chooses; what training uses.
- ``"vllm"``: vLLM's OpenAI server serves the model's folder, started and stopped like the engine (a GPU machine
  with `pip install 'agentdistill[vllm]'`); a multi-stage run serves its freshly distilled students the same way.
- ``"auto"`` (default): the engine where it is built and the model has a GGUF file, unless a `dtype` is asked
  for (a transformers setting); transformers otherwise.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, get_args

from agentdistill.errors import ConfigError, MissingFileError
from agentdistill.llm import registry
from agentdistill.llm.base import (
    AgentChatModel,
    ChatMessage,
    Completion,
    ContextOverflow,
    GenerationStopped,
    SamplingParams,
    call_seed,
    resume_generation,
    stop_generation,
)
from agentdistill.llm.precision import (
    Precision,
    PrecisionError,
    TrainingPrecision,
    parse_dtype,
)
from agentdistill.llm.registry import (
    DEFAULT_CHAT_MODEL,
    ModelNotAvailable,
    UnknownModel,
)

__all__ = [
    "BACKENDS",
    "DEFAULT_CHAT_MODEL",
    "AgentChatModel",
    "Backend",
    "ChatMessage",
    "Completion",
    "ContextOverflow",
    "GenerationStopped",
    "ModelNotAvailable",
    "Precision",
    "PrecisionError",
    "SamplingParams",
    "TrainingPrecision",
    "UnknownModel",
    "call_seed",
    "engine_gguf",
    "is_server_spec",
    "load_chat_model",
    "local_model_path",
    "parse_backend",
    "parse_dtype",
    "registry",
    "resolve_backend",
    "resume_generation",
    "stop_generation",
]

Backend = Literal["auto", "engine", "transformers", "vllm"]
# the names, from the one Literal, for validating a string that came from a file or the command line
BACKENDS: tuple[str, ...] = get_args(Backend)


def is_server_spec(spec: str) -> bool:
    """True for `openai:MODEL@URL` and `engine:...`: the model runs in a server, which decides its own precision."""
    return spec.startswith(("openai:", "engine:"))


def parse_backend(value: str) -> str:
    """Validate a backend name (auto, engine, transformers, vllm)."""
    if value not in BACKENDS:
        raise ConfigError(f"unknown backend {value!r}; choose one of {', '.join(BACKENDS)}")
    return value


def resolve_backend(spec: str, dtype: str = "auto", backend: str = "auto") -> str:
    """Which backend `load_chat_model` uses for `spec`: 'engine', 'transformers', 'vllm' or 'openai' (see the module
    docstring). Raises ValueError for a combination that cannot be honoured, before anything loads."""
    from agentdistill.llm import engine

    parse_backend(backend)
    if spec.startswith("openai:"):
        if backend != "auto":
            raise ConfigError(f"--backend {backend} applies to local models; {spec} is a server")
        return "openai"
    if spec.startswith("engine:"):
        if backend in ("transformers", "vllm"):
            raise ConfigError(f"{spec} names the engine; use the model's name or hf:PATH for {backend}")
        return "engine"
    if backend == "auto":
        if parse_dtype(dtype) != "auto":
            return "transformers"
        return "engine" if engine.is_built() and engine_gguf(spec, convert=False) is not None else "transformers"
    if backend == "engine" and parse_dtype(dtype) != "auto":
        raise PrecisionError(f"--dtype {dtype} applies to the transformers backend; the engine serves GGUF weights")
    if backend == "vllm" and parse_dtype(dtype) != "auto":
        raise PrecisionError(f"--dtype {dtype} applies to the transformers backend; vLLM picks its own")
    return backend


def load_chat_model(
    spec: str = DEFAULT_CHAT_MODEL, dtype: str = "auto", backend: str = "auto", **fields: Any
) -> AgentChatModel:
    """Load a chat model from a spec string on a backend (see the module docstring); `fields` set defaults such
    as `temperature`, `max_new_tokens`, `n`, `seed`. `dtype` (auto, fp32, bf16, fp16) applies to transformers
    models; `auto` picks the fastest sound precision for this machine (`llm.precision`)."""
    if is_server_spec(spec) and parse_dtype(dtype) != "auto":
        raise PrecisionError(
            f"--dtype {dtype} applies to transformers models; the server behind {spec} decides its own"
        )
    chosen = resolve_backend(spec, dtype, backend)
    if chosen == "engine":
        from agentdistill.llm.engine_backend import EngineChatModel

        gguf = engine_gguf(spec.removeprefix("engine:"), convert=True)
        assert gguf is not None, "engine_gguf converts a folder without a GGUF file"
        fields.setdefault("model_id", spec)
        return EngineChatModel.start(gguf, **fields)
    if chosen == "vllm":
        from agentdistill.llm.engine_backend import EngineChatModel

        fields.setdefault("model_id", spec)
        return EngineChatModel.start(local_model_path(spec), engine="vllm", **fields)
    if chosen == "openai":
        from agentdistill.llm.openai_compat import OpenAIChatModel

        model, _, base_url = spec.removeprefix("openai:").partition("@")
        if not model:
            raise ConfigError(f"bad model spec {spec!r}: expected openai:MODEL@BASE_URL")
        return OpenAIChatModel(model=model, base_url=base_url or None, model_id=spec, **fields)

    from agentdistill.llm.hf import HFChatModel

    if not spec.startswith("hf:"):
        fields.setdefault("model_id", spec)
    return HFChatModel.from_pretrained(local_model_path(spec), dtype=dtype, **fields)


def engine_gguf(target: str, convert: bool) -> Path | None:
    """The GGUF file the engine serves for a name, `hf:PATH` or `PATH.gguf`; a model folder without one is
    converted when `convert` (else None). An unknown name raises `UnknownModel`."""
    from agentdistill.llm.gguf_convert import find_gguf, to_gguf

    path = Path(target.removeprefix("hf:")).expanduser()
    if target.endswith(".gguf"):
        if not path.is_file():
            raise MissingFileError(f"no GGUF file at {path}")
        return path
    if target.startswith("hf:") or (target not in registry.EMBEDDED and path.is_dir()):
        return find_gguf(path) or (to_gguf(path) if convert else None)
    model = registry.get(target)
    if model.role != "chat":
        raise ConfigError(f"{target!r} is an embedding model, not a chat model")
    if not convert and not model.installed():
        return None
    return registry.gguf_path(target)


def local_model_path(spec: str) -> Path:
    """The folder (or .gguf file) behind a local spec: `hf:PATH` or an embedded chat model's name."""
    if spec.startswith("hf:"):
        return Path(spec.removeprefix("hf:")).expanduser()
    if is_server_spec(spec):
        raise ConfigError(f"a local model (name or hf:PATH) is needed here, not the server {spec}")
    if registry.get(spec).role != "chat":
        raise ConfigError(f"{spec!r} is an embedding model, not a chat model")
    return registry.model_path(spec)
