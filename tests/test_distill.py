"""Distillation: the loss mask on real tokenisers, the training templates, and a real (tiny) TRL run."""

import json
import shutil

import pytest

from agentdistill.distill import DistillConfig, load_training_rows, tokenize_example, training_template
from agentdistill.llm import registry
from conftest import require_model

CONVERSATION = [
    {"role": "system", "content": "You solve tasks with Python."},
    {"role": "user", "content": "Task: What is 6 * 7?"},
    {"role": "assistant", "content": "Thought: multiply.\n```python\nprint(6 * 7)\n```"},
    {"role": "user", "content": "Observation:\n42"},
    {"role": "assistant", "content": "Thought: done.\n```python\nfinal_answer(42)\n```"},
]


def tokenizer_of(name: str):
    require_model(name)
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(registry.model_path(name))


def loss_text(tokenizer, example) -> str:
    return tokenizer.decode([t for t, m in zip(example["input_ids"], example["assistant_masks"], strict=False) if m])


@pytest.mark.parametrize("name", ["smollm2-135m", "qwen2.5-coder-0.5b"])
def test_training_template_renders_what_the_model_sees_at_inference(name):
    tokenizer = tokenizer_of(name)
    template = training_template(tokenizer)
    assert "generation" in template
    assert tokenizer.apply_chat_template(CONVERSATION, tokenize=False) == tokenizer.apply_chat_template(
        CONVERSATION, chat_template=template, tokenize=False
    )


def test_loss_falls_exactly_on_the_agents_turns_smollm():
    tokenizer = tokenizer_of("smollm2-135m")
    example = tokenize_example(tokenizer, training_template(tokenizer), CONVERSATION)
    # both assistant turns with their end-of-turn token; not the system prompt, task, observation or role headers
    assert loss_text(tokenizer, example) == (
        "Thought: multiply.\n```python\nprint(6 * 7)\n```<|im_end|>"
        "Thought: done.\n```python\nfinal_answer(42)\n```<|im_end|>"
    )


def test_loss_mask_qwen_keeps_the_end_of_turn_and_masks_observations():
    tokenizer = tokenizer_of("qwen2.5-coder-0.5b")
    example = tokenize_example(tokenizer, training_template(tokenizer), CONVERSATION)
    text = loss_text(tokenizer, example)
    assert text.count("<|im_end|>") == 2
    assert "Observation" not in text and "6 * 7?" not in text and "You solve" not in text
    assert "final_answer(42)" in text and "print(6 * 7)" in text


def test_prefix_tokens_can_be_masked():
    tokenizer = tokenizer_of("smollm2-135m")
    template = training_template(tokenizer)
    span = [0, len("Thought: multiply.")]
    kept = loss_text(tokenizer, tokenize_example(tokenizer, template, CONVERSATION, span, mask_prefix=True))
    assert kept.startswith("\n```python\nprint(6 * 7)")  # the prefix is gone, the code after it stays
    assert "Thought: done." in kept  # later turns are untouched
    unmasked = loss_text(tokenizer, tokenize_example(tokenizer, template, CONVERSATION, span, mask_prefix=False))
    assert unmasked.startswith("Thought: multiply.")


def test_training_rows_from_an_export_folder_and_bad_input(tmp_path):
    (tmp_path / "train.jsonl").write_text(json.dumps({"id": "a", "messages": CONVERSATION}) + "\n")
    assert load_training_rows(tmp_path)[0]["id"] == "a"
    with pytest.raises(FileNotFoundError, match="no training data"):
        load_training_rows(tmp_path / "missing")
    (tmp_path / "bad.jsonl").write_text(json.dumps({"id": "b"}) + "\n")
    with pytest.raises(ValueError, match="without 'messages'"):
        load_training_rows(tmp_path / "bad.jsonl")


def test_config_rejects_nonsense():
    with pytest.raises(ValueError):
        DistillConfig(epochs=0)
    with pytest.raises(ValueError):
        DistillConfig(dtype="float8")
    assert DistillConfig().lr == 2e-4 and DistillConfig(full=True).lr == 2e-5


@pytest.mark.slow
@pytest.mark.model
def test_lora_distillation_trains_saves_and_loads(tmp_path):
    tokenizer_of("smollm2-135m")
    from agentdistill.distill import distill
    from agentdistill.llm import load_chat_model

    rows = [{"id": f"t{i}", "messages": CONVERSATION} for i in range(4)]
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "train.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    result_config = dict(
        data=str(tmp_path / "data"),
        student="smollm2-135m",
        out=str(tmp_path / "out"),
        epochs=2,
        grad_accum=2,
        learning_rate=1e-3,
        gradient_checkpointing=True,  # its path proven too: the loss must still fall
    )
    result = distill(DistillConfig(**result_config))
    assert result.examples == 4 and result.last_loss < result.first_loss
    assert (tmp_path / "out" / "loss.png").stat().st_size > 1000
    assert (tmp_path / "out" / "adapter" / "adapter_config.json").exists()
    from agentdistill.distill.distill_config import student_build

    build = student_build(f"hf:{result.model_dir}")  # the adapter's digest: a retrained student has another
    assert build is not None and len(build) == 16 and student_build("smollm2-135m") is None
    from safetensors.torch import load_file

    kept = load_file(str(tmp_path / "out" / "adapter" / "adapter_model.safetensors"))
    assert {str(tensor.dtype) for tensor in kept.values()} == {"torch.bfloat16"}
    # a fresh checkout keeps the adapter, not the merged model: the same student is merged again, not retrained
    shutil.rmtree(result.model_dir)
    again = distill(DistillConfig(**result_config))
    assert student_build(f"hf:{again.model_dir}") == build and again.seconds == round(result.seconds, 1)
    assert again.gguf is not None and again.gguf.is_file()
    assert result.gguf == result.model_dir / "model-q8_0.gguf" and result.gguf.is_file()  # for the engine
    student = load_chat_model(f"hf:{result.model_dir}", max_new_tokens=4)  # the engine where it is built
    try:
        assert student.complete([{"role": "user", "content": "Hi"}])[0].completion_tokens > 0
    finally:
        student.close()


def test_a_stopped_run_resumes_on_another_cpu_but_not_in_other_dtypes(tmp_path):
    """The resumption check keys on what changes training (settings, data, dtypes), not on the CPU's name: a run
    stopped on an AMD EPYC with bf16 continues on an Intel Xeon with bf16, and is refused where auto picks fp32."""
    from agentdistill.distill.trainer import _checkpoint_to_resume, _run_fingerprint
    from agentdistill.errors import InputFileError
    from agentdistill.llm.precision import TrainingPrecision

    def precision(hardware: str, compute: str) -> TrainingPrecision:
        return TrainingPrecision(
            device="cpu", requested="auto", native_bf16=compute == "bf16", hardware=hardware, weights=compute,
            trainable="fp32", compute=compute, reason=f"{hardware}: {compute}",
        )  # fmt: skip

    config = DistillConfig(data=str(tmp_path / "data"), student="smollm2-135m", out=str(tmp_path / "out"))
    rows = [{"id": "t0", "messages": CONVERSATION}]
    out = tmp_path / "out"
    assert _checkpoint_to_resume(out, _run_fingerprint(config, precision("AMD EPYC", "bf16"), rows)) is None
    (out / "checkpoints" / "checkpoint-20").mkdir(parents=True)  # what a stopped run leaves
    (out / "checkpoints" / "checkpoint-20" / "trainer_state.json").write_text("{}")
    resumed = _checkpoint_to_resume(out, _run_fingerprint(config, precision("Intel Xeon (AMX)", "bf16"), rows))
    assert resumed is not None and resumed.endswith("checkpoint-20")
    with pytest.raises(InputFileError, match=r"other settings \(precision\)"):
        _checkpoint_to_resume(out, _run_fingerprint(config, precision("Intel Xeon (AVX2)", "fp32"), rows))


@pytest.mark.slow
@pytest.mark.model
def test_a_stopped_distillation_resumes_from_its_last_checkpoint_and_trains_alike(tmp_path):
    """Hours of CPU training must survive a stop: a run killed right after its step-4 checkpoint, rerun, continues
    from step 4 with the same data order and optimizer state (its later losses match an uninterrupted run), and
    a rerun with other settings is refused before any model loads, instead of mixing into the stopped run."""
    tokenizer_of("smollm2-135m")
    from transformers import TrainerCallback

    from agentdistill.distill import distill
    from agentdistill.errors import InputFileError

    class KilledAfterCheckpoint(TrainerCallback):
        def on_save(self, args, state, control, **kwargs):
            if state.global_step == 4:
                raise KeyboardInterrupt

    rows = [{"id": f"t{i}", "messages": CONVERSATION} for i in range(4)]
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "train.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")

    def config(out: str, **changes) -> DistillConfig:
        settings = {"epochs": 2, "grad_accum": 1, "learning_rate": 1e-3, "checkpoint_steps": 2, "gguf": "none"}
        return DistillConfig(
            data=str(tmp_path / "data"), student="smollm2-135m", out=str(tmp_path / out), **settings | changes
        )

    whole = distill(config("whole"))
    with pytest.raises(KeyboardInterrupt):
        distill(config("stopped"), callbacks=[KilledAfterCheckpoint()])
    assert (tmp_path / "stopped" / "checkpoints" / "checkpoint-4").is_dir()
    with pytest.raises(InputFileError, match=r"other settings \(learning_rate\)"):
        distill(config("stopped", learning_rate=5e-4))
    steps_done: list[int] = []
    resumed = distill(config("stopped"), on_step=steps_done.append)
    assert resumed.resumed_from_step == 4 and whole.resumed_from_step == 0
    assert steps_done == [1, 2, 3, 4]  # 8 steps in all: this run did the 4 after the checkpoint
    assert not (tmp_path / "stopped" / "checkpoints").exists()  # removed once the student is saved

    def losses(name: str) -> list[float]:
        lines = (tmp_path / name / "train_log.jsonl").read_text().splitlines()
        return [json.loads(line)["loss"] for line in lines]

    assert len(losses("stopped")) == len(losses("whole")) == 8
    assert losses("stopped") == pytest.approx(losses("whole"), abs=1e-3)
    assert resumed.train_tokens == pytest.approx(whole.train_tokens / 2, rel=0.01)  # this run's half only


@pytest.mark.slow
@pytest.mark.model
@pytest.mark.parametrize("dtype, tolerance", [("fp32", 0.02), ("bf16", 0.05)])
def test_packed_examples_do_not_see_each_other(dtype, tolerance, tmp_path):
    """With --packing, four copies of one conversation share one sequence. If a copy could attend to the copies
    before it, it would predict them almost perfectly and the first loss would drop far below an unpacked run's
    (2.20 to 1.27 with the mask broken on purpose); isolated, each copy has the same loss as alone. Both
    precisions `auto` can pick are forced, so that each is proven on every machine, whatever its CPU."""
    tokenizer_of("smollm2-135m")
    from agentdistill.distill import distill

    rows = [{"id": f"t{i}", "messages": CONVERSATION} for i in range(4)]
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "train.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")

    def first_loss(packing: bool) -> float:
        out = tmp_path / ("packed" if packing else "unpacked")
        config = DistillConfig(
            data=str(tmp_path / "data"), student="smollm2-135m", out=str(out), epochs=1, grad_accum=1,
            packing=packing, lora_dropout=0.0, gguf="none", dtype=dtype,
        )  # fmt: skip
        return distill(config).first_loss

    assert first_loss(packing=True) == pytest.approx(first_loss(packing=False), rel=tolerance)
