"""`EngineChatModel`: an embedded model (or any GGUF file) served by the managed llama.cpp engine.

It is the OpenAI backend pointed at a `llm.engine.EngineServer` it holds a lease on: the server starts (or is
joined) when the model is loaded and stops when its last user closes. llama.cpp's own sampling defaults
(repeat penalty 1.1, top-k 40, min-p 0.05) are switched off, so that greedy decoding is greedy. A server that
dies under a run is restarted once and the request repeated; a second death is an `EngineError` naming its log.
"""

from __future__ import annotations

import atexit
import threading
from pathlib import Path
from typing import Any

from pydantic import PrivateAttr

from agentdistill.llm.base import Capabilities, ChatMessage, Completion, SamplingParams
from agentdistill.llm.engine import DEFAULT_SLOTS, EngineError, EngineServer
from agentdistill.llm.gguf_convert import gguf_quantization
from agentdistill.llm.openai_compat import OpenAIChatModel
from agentdistill.llm.precision import quantized_precision

NEUTRAL_SAMPLING = {"repeat_penalty": 1.0, "top_k": 0, "min_p": 0.0, "cache_prompt": True}
# vLLM's own defaults are neutral, but a model's generation_config.json (Qwen2.5: repetition penalty 1.05,
# top-k 20) would apply without `--generation-config vllm`; stated per request too, for servers started by hand
VLLM_NEUTRAL_SAMPLING = {"repetition_penalty": 1.0, "min_p": 0.0}


class EngineChatModel(OpenAIChatModel):
    """Chat completions from a managed local server: `llama-server` (spec `engine:NAME` or `engine:PATH.gguf`, or
    backend `engine`), or vLLM's OpenAI server (backend `vllm`, on a GPU machine)."""

    _server: Any = PrivateAttr(default=None)
    _restarts: int = PrivateAttr(default=0)
    _restart_lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    @classmethod
    def start(
        cls,
        served: str | Path,
        parallel: int = DEFAULT_SLOTS,
        engine_args: tuple[str, ...] = (),
        engine: str = "llama.cpp",
        **fields: Any,
    ) -> EngineChatModel:
        """Join (or start) the server for `served`: a GGUF file on llama.cpp, a model folder on vLLM (`engine`).
        `engine_args` are extra server flags, and a server started with other flags is another server."""
        path = Path(served)
        server = EngineServer(path, parallel=parallel, extra_args=engine_args, engine=engine).acquire()
        llama = engine == "llama.cpp"
        fields.setdefault("model_id", f"engine:{path.name}" if llama else f"vllm:{path.name}")
        # requests queue for a free slot on a saturated local server: minutes are normal, not a failure
        fields.setdefault("timeout_s", 1800.0)
        model = cls(
            model=server.served_name,
            base_url=server.base_url,
            sampling_defaults=NEUTRAL_SAMPLING if llama else VLLM_NEUTRAL_SAMPLING,
            max_concurrency=parallel,
            precision=quantized_precision(gguf_quantization(path)) if llama else None,  # vLLM picks its dtype
            **fields,
        )
        model._server = server
        atexit.register(model.close)
        return model

    @property
    def capabilities(self) -> Capabilities:
        return super().capabilities.model_copy(update={"prefix_cache": True})

    def _choices(self, conversation: list[ChatMessage], p: SamplingParams, n: int) -> list[Completion]:
        from openai import APIConnectionError, APITimeoutError

        port = self._server.port if self._server else None
        try:
            return super()._choices(conversation, p, n)
        except APIConnectionError as error:
            if self._server is None or isinstance(error, APITimeoutError):  # slow is not dead
                raise
            self._recover(port)
        try:
            return super()._choices(conversation, p, n)
        except APIConnectionError as error:
            raise EngineError(
                f"the engine serving {self.model} does not answer (see {self._server.log_path})"
            ) from error

    def _recover(self, failed_port: int | None) -> None:
        """Restart the dead server once (threads that failed on the same server wait for that one restart)."""
        with self._restart_lock:
            if self._server.port != failed_port:
                return  # another thread restarted it already
            if self._restarts >= 1:
                raise EngineError(f"the engine serving {self.model} died again (see {self._server.log_path})")
            self._restarts += 1
            self._server.restart()
            self.base_url = self._server.base_url
            self.model_post_init(None)  # a client for the new port

    def close(self) -> None:
        """Leave the engine (the last user out stops it)."""
        if self._server is not None:
            self._server.release()
            self._server = None
