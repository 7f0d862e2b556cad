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

from agentdistill.llm.engine import EngineServer
from agentdistill.llm.openai_compat import OpenAIChatModel

NEUTRAL_SAMPLING = {"repeat_penalty": 1.0, "top_k": 0, "min_p": 0.0, "cache_prompt": True}


class EngineChatModel(OpenAIChatModel):
    """Chat completions from a local `llama-server` (spec `engine:NAME` or `engine:PATH.gguf`)."""

    _server: Any = PrivateAttr(default=None)

    @classmethod
    def start(cls, gguf: str | Path, parallel: int = 4, **fields: Any) -> "EngineChatModel":
        server = EngineServer(gguf, parallel=parallel).acquire()
        fields.setdefault("model_id", f"engine:{Path(gguf).name}")
        model = cls(model=Path(gguf).stem, base_url=server.base_url, sampling_defaults=NEUTRAL_SAMPLING,
                    max_concurrency=parallel, **fields)
        model._server = server
        atexit.register(model.close)
        return model

    def close(self) -> None:
        """Leave the engine (the last user out stops it)."""
        if self._server is not None:
            self._server.release()
            self._server = None
