"""`ModelCache`: each model of a multi-stage run is loaded once, when first needed, however many stages use it."""

from __future__ import annotations

import gc

from agentdistill.config import Dtype
from agentdistill.llm import AgentChatModel, Backend


class ModelCache:
    """`cache(spec)` loads a model spec once (local ones with `dtype`/`backend`); `close()` releases them all
    (an engine server stops when its last user leaves). On `vllm` one local model is served at a time."""

    def __init__(self, dtype: Dtype = "auto", backend: Backend = "auto") -> None:
        self.dtype, self.backend = dtype, backend
        self.loaded: dict[str, AgentChatModel] = {}

    def __call__(self, spec: str) -> AgentChatModel:
        from agentdistill.llm import is_server_spec, load_chat_model

        if spec not in self.loaded:
            local = not is_server_spec(spec)
            if local and self.backend == "vllm":
                # a vLLM server takes most of the GPU's memory: the model it serves goes before the next starts
                self.close()
            self.loaded[spec] = load_chat_model(
                spec, dtype=self.dtype if local else "auto", backend=self.backend if local else "auto"
            )
        return self.loaded[spec]

    def close(self) -> None:
        for model in self.loaded.values():
            model.close()
        self.loaded.clear()
        gc.collect()
