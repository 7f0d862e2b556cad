"""`EngineChatModel`: an embedded model (or any GGUF file) served by the managed llama.cpp engine.

It is the OpenAI backend pointed at a `llm.engine.EngineServer` it holds a lease on: the server starts (or is
joined) when the model is loaded and stops when its last user closes. llama.cpp's own sampling defaults
(repeat penalty 1.1, top-k 40, min-p 0.05) are switched off, so that greedy decoding is greedy.
"""

from __future__ import annotations

import atexit
from pathlib import Path
from typing import Any

from pydantic import PrivateAttr

from agentdistill.llm.base import Capabilities
from agentdistill.llm.engine import DEFAULT_SLOTS, EngineServer
from agentdistill.llm.gguf_convert import gguf_quantization
from agentdistill.llm.openai_compat import OpenAIChatModel
from agentdistill.llm.precision import quantized_precision

NEUTRAL_SAMPLING = {"repeat_penalty": 1.0, "top_k": 0, "min_p": 0.0, "cache_prompt": True}


class EngineChatModel(OpenAIChatModel):
    """Chat completions from a local `llama-server` (spec `engine:NAME` or `engine:PATH.gguf`)."""

    _server: Any = PrivateAttr(default=None)

    @classmethod
    def start(cls, gguf: str | Path, parallel: int = DEFAULT_SLOTS, **fields: Any) -> "EngineChatModel":
        gguf = Path(gguf)
        server = EngineServer(gguf, parallel=parallel).acquire()
        fields.setdefault("model_id", f"engine:{gguf.name}")
        model = cls(model=server.served_name, base_url=server.base_url, sampling_defaults=NEUTRAL_SAMPLING,
                    max_concurrency=parallel, precision=quantized_precision(gguf_quantization(gguf)), **fields)
        model._server = server
        atexit.register(model.close)
        return model

    @property
    def capabilities(self) -> Capabilities:
        return super().capabilities.model_copy(update={"prefix_cache": True})

    def close(self) -> None:
        """Leave the engine (the last user out stops it)."""
        if self._server is not None:
            self._server.release()
            self._server = None
