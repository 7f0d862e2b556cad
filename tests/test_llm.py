import json

import pytest

from agentdistill.llm import ModelNotAvailable, SamplingParams, UnknownModel, load_chat_model, registry
from agentdistill.llm.base import truncate_at_stop
from conftest import require_model


def test_truncate_at_stop_cuts_at_earliest():
    assert truncate_at_stop("a\n```\nObservation: x", ["Observation:", "\n```\n"]) == ("a", True)
    assert truncate_at_stop("abc", ["z"]) == ("abc", False)


def test_unknown_and_missing_models_name_the_fix(tmp_path, monkeypatch):
    with pytest.raises(UnknownModel, match="known: smollm2-135m"):
        load_chat_model("gpt-17")
    monkeypatch.setenv("AGENTDISTILL_CACHE", str(tmp_path))
    with pytest.raises(ModelNotAvailable, match="agentdistill models pull smollm2-135m"):
        load_chat_model("smollm2-135m")
    with pytest.raises(ValueError, match="openai:MODEL@BASE_URL"):
        load_chat_model("openai:@http://x")


@pytest.fixture
def fake_server(fake_openai):
    return fake_openai(lambda body, i: f"answer {i}")


def test_openai_backend_sends_sampling_params_and_prefix_flags(fake_server):
    model = load_chat_model(f"openai:teacher@{fake_server.base_url}", temperature=0.7)
    conversation = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "Thought: I"}]
    results = model.complete_batch(
        [conversation[:1], conversation], SamplingParams(n=3, stop=["Observation:"], seed=5, max_new_tokens=9)
    )
    assert [len(r) for r in results] == [3, 3]
    assert results[0][2].text == "answer 2" and results[0][0].mean_logprob == pytest.approx(-1.0)
    assert results[0][0].prompt_tokens == 7 and results[0][0].completion_tokens == 2
    bodies = {len(body["messages"]): body for body in fake_server.requests}
    fresh, continued = bodies[1], bodies[2]
    assert fresh["n"] == 3 and fresh["stop"] == ["Observation:"] and fresh["seed"] == 5 and fresh["max_tokens"] == 9
    assert fresh["temperature"] == 0.7 and "continue_final_message" not in fresh
    assert continued["continue_final_message"] is True and continued["add_generation_prompt"] is False


def test_openai_backend_is_a_langchain_chat_model(fake_server):
    model = load_chat_model(f"openai:teacher@{fake_server.base_url}")
    reply = model.invoke("hello")
    assert reply.content == "answer 0"
    assert reply.usage_metadata["input_tokens"] == 7


def test_unreachable_server_fails_fast():
    """A refused connection is an APIConnectionError within the client's timeout and retries, not a hang."""
    import time

    import openai

    model = load_chat_model("openai:x@http://127.0.0.1:9/v1", timeout_s=2)
    started = time.monotonic()
    with pytest.raises(openai.APIConnectionError, match=r"(?i)connect"):
        model.complete([{"role": "user", "content": "hi"}])
    assert time.monotonic() - started < 30  # a bound on hanging (3 tries of a refused port), not a speed target


@pytest.mark.model
def test_hf_batched_samples_stop_and_usage(smollm):
    conversations = [[{"role": "user", "content": "Count: one, two,"}], [{"role": "user", "content": "Say hello."}]]
    results = smollm.complete_batch(conversations, SamplingParams(n=3, temperature=0.9, seed=0, max_new_tokens=8))
    assert [len(r) for r in results] == [3, 3]
    for completion in results[0] + results[1]:
        assert 0 < completion.completion_tokens <= 8 and completion.prompt_tokens > 0
        assert completion.mean_logprob is not None and completion.mean_logprob <= 0
    greedy = smollm.complete(conversations[1], SamplingParams(max_new_tokens=12))[0].text
    first_word = greedy.split()[0]
    stopped = smollm.complete(conversations[1], SamplingParams(max_new_tokens=12, stop=[first_word]))[0]
    assert first_word not in stopped.text and stopped.finish_reason == "stop"


@pytest.mark.model
def test_hf_continues_a_partial_assistant_message(smollm):
    conversation = [{"role": "user", "content": "Write a haiku."}, {"role": "assistant", "content": "Thought: The"}]
    prompt = smollm.render(conversation)
    assert prompt.endswith("Thought: The")  # not closed: the model continues the same turn
    fresh = smollm.render(conversation[:1])
    assert fresh.endswith("<|im_start|>assistant\n")


@pytest.fixture(scope="module")
def smollm_fp32():
    require_model("smollm2-135m")
    return load_chat_model("smollm2-135m", backend="transformers", dtype="fp32", max_new_tokens=16)


@pytest.mark.slow
@pytest.mark.parametrize("dtype", ["fp32", "bf16"])
def test_hf_prefix_cache_does_not_change_greedy_output(dtype, smollm_fp32):
    """Both branches, whatever this CPU is: fp32 keeps and reuses the prefix cache with the same greedy text;
    bf16 keeps none (a continued prefill rounds differently there) and answers the same call the same way."""
    model = smollm_fp32 if dtype == "fp32" else load_chat_model("smollm2-135m", backend="transformers", dtype="bf16")
    conversation = [
        {"role": "system", "content": "You are terse. " * 20},
        {"role": "user", "content": "Name a colour."},
    ]
    model._cache, model._cache_ids = None, []
    cold = model.complete(conversation, SamplingParams(max_new_tokens=10))[0].text
    warm = model.complete(conversation, SamplingParams(max_new_tokens=10))[0].text  # reuses the cached prefix in fp32
    assert warm == cold
    assert (model._cache is not None) == (dtype == "fp32")


@pytest.mark.model
def test_registry_converted_model_is_a_plain_folder():
    require_model("smollm2-135m")
    folder = registry.model_path("smollm2-135m")
    assert (folder / "config.json").exists() and list(folder.glob("*.safetensors"))
    assert "quantization_config" not in json.loads((folder / "config.json").read_text())


@pytest.mark.model
def test_hf_batch_with_a_shared_prefix_cache_matches_single_calls(smollm_fp32):
    smollm = smollm_fp32
    """Rows of a batch share one cached system-prompt prefix, padded in the middle: same greedy text as alone."""
    system = {"role": "system", "content": "You are a careful assistant. " * 12}
    conversations = [[system, {"role": "user", "content": q}] for q in ("Name a colour.", "What is 2+2? Explain.")]
    params = SamplingParams(n=1, max_new_tokens=8, temperature=0.0)
    alone = []
    for conversation in conversations:
        smollm._cache, smollm._cache_ids = None, []  # no help from an earlier call
        alone.append(smollm.complete(conversation, params)[0].text)
    smollm._cache, smollm._cache_ids = None, []
    batched = [c[0].text for c in smollm.complete_batch(conversations, params)]
    assert len(smollm._cache_ids) > 16  # the shared prefix was cached once for the batch
    assert batched == alone


def test_a_server_that_ignores_n_is_asked_again_for_the_rest(fake_openai):
    from agentdistill.llm import load_chat_model

    server = fake_openai(lambda body, i: f"seed {body.get('seed')}", max_choices=1)
    model = load_chat_model(f"openai:m@{server.base_url}")
    completions = model.complete([{"role": "user", "content": "hi"}], SamplingParams(n=3, temperature=0.7, seed=5))
    assert [c.text for c in completions] == ["seed 5", "seed 6", "seed 7"]  # three samples, not one
    assert len(server.requests) == 3


def test_an_echoed_prefix_is_stripped_from_a_continuation(fake_openai):
    from agentdistill.llm import load_chat_model

    server = fake_openai(lambda body, i: body["messages"][-1]["content"] + " 6 * 7 = 42")
    model = load_chat_model(f"openai:m@{server.base_url}")
    conversation = [{"role": "user", "content": "6*7?"}, {"role": "assistant", "content": "Thought: compute"}]
    assert model.complete(conversation)[0].text == " 6 * 7 = 42"
    assert server.requests[0]["continue_final_message"] is True


def test_the_engine_binary_is_kept_per_kind_of_cpu(monkeypatch):
    """It is built with this CPU's instructions (GGML_NATIVE): another CPU sharing the cache builds its own."""
    from agentdistill.llm import engine

    monkeypatch.setattr(engine, "cpu_info", lambda: ("EPYC", frozenset({"avx2", "fma"})))
    avx2 = engine.engine_dir()
    monkeypatch.setattr(engine, "cpu_info", lambda: ("Xeon", frozenset({"avx2", "fma", "avx512f", "amx_bf16"})))
    assert engine.engine_dir() != avx2 and engine.engine_dir().parent == avx2.parent


@pytest.mark.parametrize(
    ("flags", "amx_off"),
    [
        (frozenset({"avx2", "fma"}), False),  # CI's and most users' x86
        (frozenset({"asimd", "bf16", "i8mm"}), False),  # Arm: gcc there knows no -mno-amx-*
        (frozenset({"avx512f", "avx512_bf16", "amx_tile", "amx_int8", "amx_bf16"}), True),  # Sapphire Rapids on
    ],
)
def test_the_engine_is_built_without_amx_kernels_where_the_cpu_has_amx(flags, amx_off):
    """ggml's AMX kernels crash llama-server's warm-up on virtualised AMX hosts; -march=native would enable them."""
    from agentdistill.llm import engine

    configured = engine.cmake_flags(flags)
    assert "-DGGML_NATIVE=ON" in configured
    c_flags = [f for f in configured if f.startswith(("-DCMAKE_C_FLAGS=", "-DCMAKE_CXX_FLAGS="))]
    assert len(c_flags) == (2 if amx_off else 0)
    assert all("-mno-amx-int8" in f and "-mno-amx-tile" in f for f in c_flags)


def test_an_engine_built_with_other_flags_is_not_reused(monkeypatch):
    from agentdistill.llm import engine

    monkeypatch.setattr(engine, "cpu_info", lambda: ("Xeon", frozenset({"avx512f", "amx_int8"})))
    before = engine.engine_dir()
    monkeypatch.setattr(engine, "_NO_AMX", "-mno-amx-int8")
    assert engine.engine_dir() != before


@pytest.fixture
def stopping():
    """`stop_generation` for one test; generation is allowed again afterwards (it is process-wide)."""
    from agentdistill.llm import resume_generation, stop_generation

    yield stop_generation
    resume_generation()


@pytest.mark.model
def test_hf_generation_in_flight_ends_at_the_next_token_once_the_process_stops(smollm, stopping):
    from agentdistill.llm import GenerationStopped

    forwards = []

    def stop_after_first_decode(module, args, output):  # the process is told to stop mid-generation
        forwards.append(1)
        if len(forwards) == 2:
            stopping()

    hook = smollm.model.register_forward_hook(stop_after_first_decode)
    try:
        with pytest.raises(GenerationStopped):
            smollm.complete([{"role": "user", "content": "Count from 1 to 100."}], SamplingParams(max_new_tokens=64))
    finally:
        hook.remove()
    assert len(forwards) == 2  # no token after the one being decoded when the stop came
    with pytest.raises(GenerationStopped):  # and none starts
        smollm.complete([{"role": "user", "content": "hi"}])


def test_no_request_starts_once_the_process_stops(fake_server, stopping):
    from agentdistill.llm import GenerationStopped

    model = load_chat_model(f"openai:teacher@{fake_server.base_url}")
    assert model.complete([{"role": "user", "content": "hi"}])[0].text == "answer 0"
    stopping()
    with pytest.raises(GenerationStopped):
        model.complete([{"role": "user", "content": "hi"}])
    assert len(fake_server.requests) == 1


@pytest.mark.parametrize(
    ("error", "overflow"),
    [
        # vLLM's words for a prompt longer than --max-model-len
        (
            {
                "message": "This model's maximum context length is 2048 tokens. However, you requested 4096 tokens "
                "(4032 in the messages, 64 in the completion).",
                "type": "BadRequestError",
                "code": 400,
            },
            True,
        ),
        ({"message": "Invalid value for 'temperature'", "type": "invalid_request_error", "code": 400}, False),
    ],
)
def test_a_server_refusing_a_long_prompt_raises_context_overflow(fake_openai, error, overflow):
    """The one error every backend raises for a conversation that does not fit (agents end the episode on it);
    any other refusal stays the client's own error."""
    import openai

    from agentdistill.llm import ContextOverflow, load_chat_model

    server = fake_openai(lambda body, i: (400, error))
    model = load_chat_model(f"openai:m@{server.base_url}")
    expected = ContextOverflow if overflow else openai.BadRequestError
    with pytest.raises(expected) as raised:
        model.complete([{"role": "user", "content": "hi"}])
    assert (str(raised.value) == f"m: {error['message']}") == overflow


@pytest.mark.model
def test_transformers_refuses_a_prompt_past_the_models_positions(smollm_fp32, monkeypatch):
    from agentdistill.llm import ContextOverflow

    monkeypatch.setattr(smollm_fp32._model.config, "max_position_embeddings", 64)  # SmolLM2's 8192, made short
    with pytest.raises(ContextOverflow, match=r"the prompt \(\d+ tokens\) exceeds its context \(64\)"):
        smollm_fp32.complete([{"role": "user", "content": "word " * 80}], SamplingParams(max_new_tokens=2))
    assert smollm_fp32.complete([{"role": "user", "content": "Hi"}], SamplingParams(max_new_tokens=2))[0].text
