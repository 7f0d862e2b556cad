"""Choosing a backend (every branch, with the engine's presence forced) and what the OpenAI backend checks in
what a server returns. The real engine is exercised in test_engine.py."""

from typing import Literal

import pytest

from agentdistill.llm import SamplingParams, load_chat_model, resolve_backend
from agentdistill.llm import engine as engine_module
from agentdistill.llm.base import Capabilities
from agentdistill.llm.precision import PrecisionError
from conftest import GREEDY, require_model


@pytest.fixture
def engine_built(monkeypatch):
    def force(built: bool) -> None:
        monkeypatch.setattr(engine_module, "is_built", lambda: built)

    return force


def test_auto_picks_the_engine_only_where_it_is_built_and_the_model_has_gguf(engine_built, tmp_path, monkeypatch):
    from agentdistill.llm import registry

    monkeypatch.setattr(registry.EmbeddedModel, "installed", lambda self: True)
    monkeypatch.setattr(registry, "gguf_path", lambda name: tmp_path / f"{name}.gguf")  # no packages needed
    engine_built(True)
    assert resolve_backend("qwen2.5-coder-0.5b") == "engine"
    assert resolve_backend("qwen2.5-coder-0.5b", dtype="bf16") == "transformers"  # a dtype is a transformers setting
    assert resolve_backend(f"hf:{tmp_path}") == "transformers"  # a student folder without a GGUF file
    (tmp_path / "model-q8_0.gguf").write_bytes(b"GGUF")
    assert resolve_backend(f"hf:{tmp_path}") == "engine"
    engine_built(False)
    assert resolve_backend("qwen2.5-coder-0.5b") == "transformers"
    assert resolve_backend(f"hf:{tmp_path}") == "transformers"
    assert resolve_backend("qwen2.5-coder-0.5b", backend="engine") == "engine"  # explicit: the load then says why


def test_explicit_backends_and_servers(engine_built):
    engine_built(True)
    assert resolve_backend("smollm2-135m", backend="transformers") == "transformers"
    assert resolve_backend("engine:smollm2-135m") == "engine"
    assert resolve_backend("openai:m@http://h/v1") == "openai"
    with pytest.raises(ValueError, match="applies to local models"):
        resolve_backend("openai:m@http://h/v1", backend="engine")
    with pytest.raises(ValueError, match="names the engine"):
        resolve_backend("engine:smollm2-135m", backend="transformers")
    with pytest.raises(PrecisionError, match="GGUF"):
        resolve_backend("smollm2-135m", dtype="fp32", backend="engine")
    assert resolve_backend("smollm2-135m", backend="vllm") == "vllm"  # served by vLLM (GPU machines)
    with pytest.raises(ValueError, match="unknown backend"):
        resolve_backend("smollm2-135m", backend="tgi")
    with pytest.raises(ValueError, match="embedding model"):
        resolve_backend("minilm")


def test_an_unbuilt_engine_is_a_clear_error(engine_built, monkeypatch):

    engine_built(False)
    monkeypatch.setattr(engine_module, "server_binary", lambda: engine_module.cache_dir() / "no-such-binary")
    require_model("smollm2-135m")
    with pytest.raises(engine_module.EngineError, match="agentdistill engine build"):
        load_chat_model("smollm2-135m", backend="engine")


def test_a_json_schema_reaches_the_server_as_response_format(fake_openai):
    server = fake_openai(lambda body, i: '{"a": 1}')
    model = load_chat_model(f"openai:m@{server.base_url}")
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}}
    assert model.complete([{"role": "user", "content": "x"}], SamplingParams(json_schema=schema))[0].text == '{"a": 1}'
    sent = server.requests[0]["response_format"]
    assert sent["type"] == "json_schema" and sent["json_schema"]["schema"] == schema
    model.complete([{"role": "user", "content": "x"}])
    assert "response_format" not in server.requests[1]


def test_missing_logprobs_stay_missing(fake_openai):
    server = fake_openai(lambda body, i: "hi", logprobs=False)
    reply = load_chat_model(f"openai:m@{server.base_url}").complete([{"role": "user", "content": "x"}])[0]
    assert reply.mean_logprob is None and reply.completion_tokens == 2  # from usage, not a made-up tie


def test_transformers_decodes_under_a_json_schema_in_every_row_of_a_batch(smollm):
    """The 135M model writes no valid JSON of its own; under the schema (llguidance's masks) every sampled row
    of a batch, across prompts and samples, is a document the schema accepts, enums included."""
    import json

    from pydantic import BaseModel

    class Pick(BaseModel):
        colour: Literal["red", "green", "blue"]
        count: int

    schema = {**Pick.model_json_schema(), "additionalProperties": False}
    assert smollm.capabilities.json_schema
    asks = [[{"role": "user", "content": q}] for q in ("Pick a colour.", "How many apples? Answer in JSON.")]
    params = SamplingParams(json_schema=schema, n=2, temperature=1.0, seed=3, max_new_tokens=40)
    replies = [c for row in smollm.complete_batch(asks, params) for c in row]
    assert len(replies) == 4
    for reply in replies:
        Pick.model_validate(json.loads(reply.text))  # raises on anything the schema refuses
    unconstrained = smollm.complete(asks[0], SamplingParams(max_new_tokens=40))[0].text
    with pytest.raises(ValueError):  # what it writes without the schema: the test can fail
        Pick.model_validate(json.loads(unconstrained))


def test_collect_batches_only_for_backends_that_batch_in_process(scripted, tmp_path):
    """The collector asks the model's capabilities, never its class: an in-process model is wrapped in the
    batcher, a server-backed one gets its concurrent requests as they are."""
    from agentdistill.llm.batching import BatchingChatModel
    from agentdistill.pipeline.collect import Collector
    from agentdistill.pipeline.collect_config import CollectConfig

    class InProcess(type(scripted())):
        @property
        def capabilities(self) -> Capabilities:
            return Capabilities(batched_generate=True)

    config = CollectConfig(**GREEDY, suite="math", n=2, out=str(tmp_path / "a.jsonl"), concurrency=4)
    assert not isinstance(Collector(config, model=scripted()).model, BatchingChatModel)
    batched = Collector(config, model=InProcess(model_id="local", outputs=[], seen=[], calls=[])).model
    assert isinstance(batched, BatchingChatModel) and batched.capabilities.parallel_requests
    single = CollectConfig(**GREEDY, suite="math", n=2, out=str(tmp_path / "b.jsonl"), concurrency=1)
    assert not isinstance(
        Collector(single, model=InProcess(model_id="l", outputs=[], seen=[], calls=[])).model, BatchingChatModel
    )
