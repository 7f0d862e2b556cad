"""The managed llama.cpp engine with the embedded SmolLM2 (its own Q4_1 GGUF): what agents need from a backend,
through the same OpenAI-compatible code path, and one shared server per model."""

import pytest

from agentdistill.llm import SamplingParams, load_chat_model, registry
from agentdistill.llm.engine import EngineServer, is_built

pytestmark = pytest.mark.skipif(not is_built(), reason="the engine is not built: agentdistill engine build")
TASK = [{"role": "user", "content": "Write a Python function that adds two numbers."}]


@pytest.fixture(scope="module")
def engine():
    if not registry.get("smollm2-135m").installed():
        pytest.skip("smollm2-135m not installed: agentdistill models pull smollm2-135m")
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
