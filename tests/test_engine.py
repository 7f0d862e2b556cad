"""The managed llama.cpp engine with the embedded SmolLM2 (its own Q4_1 GGUF): what agents need from a backend,
through the same OpenAI-compatible code path, and one shared server per model."""

import json
import shutil

import pytest

from agentdistill.llm import SamplingParams, load_chat_model, registry
from agentdistill.llm.engine import EngineServer
from conftest import require_engine, require_model

TASK = [{"role": "user", "content": "Write a Python function that adds two numbers."}]


@pytest.fixture(scope="module", autouse=True)
def engine_and_model():
    require_engine()
    require_model("smollm2-135m")


@pytest.fixture(scope="module")
def engine(engine_and_model):
    model = load_chat_model("engine:smollm2-135m", max_new_tokens=24)
    yield model
    model.close()


def test_greedy_is_deterministic_and_stops_at_stop_strings(engine):
    first = engine.complete(TASK)[0]
    assert first.text and first.completion_tokens > 0 and first.mean_logprob is not None  # log-probs come back
    assert engine.complete(TASK)[0].text == first.text
    stopped = engine.complete(TASK, SamplingParams(stop=["def"], max_new_tokens=64))[0]
    assert "def" not in stopped.text and stopped.finish_reason == "stop"


def test_n_samples_come_back_and_seeds_repeat(engine):
    params = SamplingParams(n=3, temperature=0.9, seed=7, max_new_tokens=16)
    samples = engine.complete(TASK, params)
    assert len(samples) == 3 and all(s.text for s in samples)
    assert [s.text for s in engine.complete(TASK, params)] == [s.text for s in samples]


def test_a_final_assistant_message_is_continued(engine):
    prefix = "Sure! Here is the function:\n```python\ndef add("
    reply = engine.complete([*TASK, {"role": "assistant", "content": prefix}])[0]
    assert reply.text and not reply.text.startswith("Sure!")  # the continuation only, prefix not echoed
    assert reply.text.lstrip()[:1] not in ("", "#")


def test_one_server_per_model_is_shared_and_stops_with_its_last_user(engine):
    other = load_chat_model("engine:smollm2-135m", max_new_tokens=4)
    assert other.base_url == engine.base_url
    server = EngineServer(registry.gguf_path("smollm2-135m"))
    assert server.status()["users"] == 2
    other.close()
    assert server.status()["users"] == 1


def test_output_follows_a_json_schema(engine):
    schema = {
        "type": "object",
        "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
        "required": ["name", "age"],
        "additionalProperties": False,
    }
    reply = engine.complete(
        [{"role": "user", "content": "Describe a person."}], SamplingParams(json_schema=schema, max_new_tokens=48)
    )[0]
    person = json.loads(reply.text)
    assert set(person) == {"name", "age"} and isinstance(person["age"], int)
    assert engine.capabilities.json_schema


def test_an_episodes_next_step_reuses_the_cached_prompt(engine):
    first = engine.complete(TASK)[0]
    step_two = [
        *TASK,
        {"role": "assistant", "content": first.text},
        {"role": "user", "content": "Observation: done. Now say goodbye."},
    ]
    second = engine.complete(step_two)[0]
    assert engine.capabilities.prefix_cache
    assert second.cached_tokens is not None and second.cached_tokens >= first.prompt_tokens - 1
    assert second.prompt_tokens > second.cached_tokens  # only the new tail was prefilled


def test_the_engine_is_the_default_backend_of_an_embedded_model(engine):
    from agentdistill.llm import resolve_backend

    assert resolve_backend("smollm2-135m") == "engine"
    assert resolve_backend("smollm2-135m", dtype="fp32") == "transformers"  # a dtype asks for transformers
    assert engine.precision.quantization == "Q4_1" and "Q4_1 weights" in str(engine.precision)


def test_a_student_folder_served_by_the_engine_agrees_with_transformers(tmp_path):
    """A model folder as `distill` writes it, converted to GGUF: unquantised (f32) the engine gives the same greedy
    text as transformers, so conversion and chat template are right; q8_0 (the default) is measured, not assumed.
    On this 135M model q8_0 flips some answers (activations are quantised too); bench/gguf_agreement.py
    measures it for the 0.5B student."""
    from agentdistill.llm.gguf_convert import find_gguf, gguf_quantization, to_gguf

    student = tmp_path / "model"
    shutil.copytree(registry.model_path("smollm2-135m"), student)
    exact = to_gguf(student, "f32")
    assert find_gguf(student) == exact and gguf_quantization(exact) == "ALL_F32"
    prompts = [
        "What is the capital of France?",
        "Write a Python function that adds two numbers.",
        "List three colours.",
        "What is 12 times 11?",
        "Say hello in Spanish.",
    ]
    hf = load_chat_model(f"hf:{student}", dtype="fp32", max_new_tokens=12)  # f32 against f32, on any CPU
    served = load_chat_model(f"hf:{student}", backend="engine", max_new_tokens=12)
    try:
        pairs = [
            (
                hf.complete([{"role": "user", "content": p}])[0].text,
                served.complete([{"role": "user", "content": p}])[0].text,
            )
            for p in prompts
        ]
    finally:
        served.close()
    assert sum(a == b for a, b in pairs) >= 4, pairs  # fp32 sums in another order may flip one near-tie


def test_a_server_that_dies_is_restarted_once_then_reported():
    import os
    import signal

    from agentdistill.llm.engine import EngineError

    model = load_chat_model("engine:smollm2-135m", parallel=2, max_new_tokens=4)  # its own server (2 slots)
    try:
        first_port = model._server.port
        os.kill(model._server.status()["pid"], signal.SIGKILL)
        assert model.complete(TASK)[0].text  # restarted, and the request repeated
        assert model._server.port != first_port or model._server.status()["healthy"]
        os.kill(model._server.status()["pid"], signal.SIGKILL)
        with pytest.raises(EngineError, match="died again"):
            model.complete(TASK)
    finally:
        model.close()


def test_a_prompt_longer_than_the_context_is_refused_as_context_overflow(engine):
    """llama.cpp answers 400 `exceed_context_size_error` for a prompt over its context (8,192 a slot)."""
    from agentdistill.llm import ContextOverflow

    with pytest.raises(ContextOverflow, match="exceeds the available context size"):
        engine.complete([{"role": "user", "content": "hello " * 9000}])
    assert engine.complete(TASK)[0].text  # the server goes on serving
