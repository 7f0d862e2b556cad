"""Chat models behind one interface (`AgentChatModel`), chosen by a spec string.

- ``"qwen2.5-coder-0.5b"`` (or another name from `agentdistill models list`): an embedded model, offline.
- ``"hf:PATH"``: a transformers model folder (or a single ``.gguf`` file) on disk.
- ``"openai:MODEL@BASE_URL"``: any OpenAI-compatible server, e.g. ``openai:Qwen/Qwen2.5-32B@http://gpu:8000/v1``.
- ``"engine:NAME"`` (or ``"engine:PATH.gguf"``): the embedded model served by the managed llama.cpp engine
  (`agentdistill engine build` once), started on first use and stopped when its last user closes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from agentdistill.llm import registry
from agentdistill.llm.base import AgentChatModel, ChatMessage, Completion, SamplingParams
from agentdistill.llm.precision import Precision, PrecisionError, TrainingPrecision, parse_dtype
from agentdistill.llm.registry import DEFAULT_CHAT_MODEL, ModelNotAvailable, UnknownModel

__all__ = [
    "AgentChatModel", "ChatMessage", "Completion", "SamplingParams", "load_chat_model", "local_model_path",
    "DEFAULT_CHAT_MODEL", "ModelNotAvailable", "UnknownModel", "registry", "Precision", "PrecisionError",
    "TrainingPrecision", "parse_dtype", "is_server_spec",
]


def is_server_spec(spec: str) -> bool:
    """True for `openai:MODEL@URL` and `engine:...`: the model runs in a server, which decides its own precision."""
    return spec.startswith(("openai:", "engine:"))


def load_chat_model(spec: str = DEFAULT_CHAT_MODEL, dtype: str = "auto", **fields: Any) -> AgentChatModel:
    """Load a chat model from a spec string (see the module docstring); `fields` set defaults such as
    `temperature`, `max_new_tokens`, `n`, `seed`. `dtype` (auto, fp32, bf16, fp16) applies to transformers models;
    `auto` picks the fastest sound precision for this machine (`llm.precision`)."""
    if is_server_spec(spec) and parse_dtype(dtype) != "auto":
        raise PrecisionError(f"--dtype {dtype} applies to transformers models; the server behind {spec} decides its own")
    if spec.startswith("engine:"):
        from agentdistill.llm.engine_backend import EngineChatModel

        target = spec.removeprefix("engine:")
        gguf = Path(target).expanduser() if target.endswith(".gguf") else registry.gguf_path(target)
        fields.setdefault("model_id", spec)
        return EngineChatModel.start(gguf, **fields)
    if is_server_spec(spec):
        from agentdistill.llm.openai_compat import OpenAIChatModel

        model, _, base_url = spec.removeprefix("openai:").partition("@")
        if not model:
            raise ValueError(f"bad model spec {spec!r}: expected openai:MODEL@BASE_URL")
        return OpenAIChatModel(model=model, base_url=base_url or None, model_id=spec, **fields)

    from agentdistill.llm.hf import HFChatModel

    if not spec.startswith("hf:"):
        fields.setdefault("model_id", spec)
    return HFChatModel.from_pretrained(local_model_path(spec), dtype=dtype, **fields)


def local_model_path(spec: str) -> Path:
    """The folder (or .gguf file) behind a local spec: `hf:PATH` or an embedded chat model's name."""
    if spec.startswith("hf:"):
        return Path(spec.removeprefix("hf:")).expanduser()
    if is_server_spec(spec):
        raise ValueError(f"a local model (name or hf:PATH) is needed here, not the server {spec}")
    if registry.get(spec).role != "chat":
        raise ValueError(f"{spec!r} is an embedding model, not a chat model")
    return registry.model_path(spec)
