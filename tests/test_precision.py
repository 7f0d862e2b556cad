"""Precision per machine: every branch of the one decision (forced, whatever this CPU is), the `--dtype`
option on every command, and real bf16/fp32 training and generation with the embedded SmolLM2."""

import json
import math

import pytest
from typer.testing import CliRunner

from agentdistill.cli import app
from agentdistill.llm.precision import (
    CPU_BF16_ENV,
    Hardware,
    Precision,
    PrecisionError,
    cpu_supports_bf16,
    describe_precisions,
    detect_hardware,
    flags_have_bf16,
    inference_precision,
    parse_cpuinfo,
    parse_dtype,
    training_precision,
)
from conftest import require_model
from test_distill import CONVERSATION

AVX2 = Hardware(device="cpu", native_bf16=False, name="EPYC (avx2)")
SAPPHIRE_RAPIDS = Hardware(device="cpu", native_bf16=True, name="Xeon (avx512_bf16 amx_bf16)")
H100 = Hardware(device="cuda", native_bf16=True, name="H100")
T4 = Hardware(device="cuda", native_bf16=False, name="Tesla T4")


@pytest.mark.parametrize(
    "given, canonical",
    [
        ("auto", "auto"),
        ("fp32", "fp32"),
        ("float32", "fp32"),
        ("bfloat16", "bf16"),
        ("BF16", "bf16"),
        ("float16", "fp16"),
    ],
)
def test_dtype_names_and_aliases(given, canonical):
    assert parse_dtype(given) == canonical


def test_unknown_dtype_is_one_clear_line():
    with pytest.raises(PrecisionError) as error:
        parse_dtype("float8")
    assert "\n" not in str(error.value) and "use auto, fp32, bf16 or fp16" in str(error.value)


@pytest.mark.parametrize(
    "hardware, inference, compute, lora_weights, flags",
    [
        (AVX2, "fp32", "fp32", "fp32", {"bf16": False, "fp16": False, "use_cpu": True}),
        (SAPPHIRE_RAPIDS, "bf16", "bf16", "bf16", {"bf16": True, "fp16": False, "use_cpu": True}),
        (H100, "bf16", "bf16", "bf16", {"bf16": True, "fp16": False, "use_cpu": False}),
        (T4, "fp16", "fp16", "fp16", {"bf16": False, "fp16": True, "use_cpu": False}),
    ],
)
def test_auto_on_every_kind_of_machine(hardware, inference, compute, lora_weights, flags):
    assert inference_precision("auto", hardware).dtype == inference
    lora = training_precision("auto", lora=True, hardware=hardware)
    assert (lora.compute, lora.weights, lora.trainable) == (compute, lora_weights, "fp32")
    assert lora.trainer_flags() == flags
    full = training_precision("auto", lora=False, hardware=hardware)
    assert (full.compute, full.weights, full.trainable) == (compute, "fp32", "fp32")  # fp32 master weights


def test_explicit_choices_are_kept_and_recorded_as_asked():
    for hardware in (AVX2, SAPPHIRE_RAPIDS, H100):
        assert inference_precision("fp32", hardware).dtype == "fp32"
        assert training_precision("fp32", hardware=hardware).trainer_flags()["bf16"] is False
    forced = training_precision("bf16", hardware=AVX2)  # emulated bf16 still runs, just slower
    assert forced.compute == "bf16" and forced.requested == "bf16" and forced.trainer_flags()["use_cpu"]
    assert inference_precision("fp16", AVX2).dtype == "fp16"


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: training_precision("fp16", hardware=AVX2), "fp16 training needs a GPU"),
        (lambda: training_precision("fp16", hardware=SAPPHIRE_RAPIDS), "fp16 training needs a GPU"),
        (lambda: training_precision("bf16", hardware=T4), "Tesla T4 has no bf16"),
        (lambda: inference_precision("bf16", T4), "Tesla T4 has no bf16"),
    ],
)
def test_choices_a_machine_cannot_run_fail_in_one_line(call, message):
    with pytest.raises(PrecisionError) as error:
        call()
    assert message in str(error.value) and "\n" not in str(error.value)


@pytest.mark.parametrize(
    "text, machine, native",
    [
        ("model name\t: AMD EPYC 9R14\nflags\t\t: fpu sse avx2 avx512f avx512_bf16\n", "x86_64", True),
        ("model name\t: Intel Xeon Platinum 8480+\nflags\t\t: avx2 avx512f amx_bf16 amx_tile\n", "x86_64", True),
        ("model name\t: AMD EPYC\nflags\t\t: fpu sse avx avx2 fma\n", "x86_64", False),
        ("model name\t: Intel Xeon\nflags\t\t: avx2 avx512f avx512bw\n", "x86_64", False),  # AVX512 without BF16
        ("processor\t: 0\nFeatures\t: fp asimd sve bf16 i8mm\n", "aarch64", True),  # Graviton 3
        ("processor\t: 0\nFeatures\t: fp asimd crc32\n", "aarch64", False),  # Graviton 2
        ("", "arm64", True),  # Apple silicon (M2 and later): no /proc/cpuinfo, bf16 assumed
    ],
)
def test_cpu_flags_decide_native_bf16(text, machine, native):
    _, flags = parse_cpuinfo(text)
    assert flags_have_bf16(flags, machine) is native


def test_environment_forces_the_cpu_decision(monkeypatch):
    monkeypatch.setenv(CPU_BF16_ENV, "1")
    assert cpu_supports_bf16() is True
    hardware = detect_hardware()
    if hardware.device == "cpu":
        assert hardware.native_bf16 and f"{CPU_BF16_ENV}=1" in hardware.name
        assert inference_precision("auto").dtype == "bf16"
    monkeypatch.setenv(CPU_BF16_ENV, "0")
    assert cpu_supports_bf16() is False


def test_a_gpu_is_detected_with_its_bf16_support(monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda including_emulation=True: False)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda *args: "Tesla T4")
    assert detect_hardware() == T4
    assert inference_precision("auto").dtype == "fp16"
    assert training_precision("auto").trainer_flags() == {"bf16": False, "fp16": True, "use_cpu": False}


def test_a_run_mixing_precisions_says_so():
    fp32 = inference_precision("auto", AVX2)
    bf16 = inference_precision("bf16", AVX2)
    assert describe_precisions([fp32, fp32]) == "fp32, CPU without native bf16"
    assert (
        describe_precisions([fp32, bf16, None])
        == "bf16, CPU without native bf16 (1); fp32, CPU without native bf16 (1); server (1)"
    )


def test_a_server_decides_its_own_precision():
    from agentdistill.llm import load_chat_model

    with pytest.raises(PrecisionError, match="applies to transformers models"):
        load_chat_model("openai:m@http://127.0.0.1:9/v1", dtype="bf16")
    assert load_chat_model("openai:m@http://127.0.0.1:9/v1").precision is None


@pytest.mark.parametrize(
    "args",
    [
        ["distill", "{data}", "--dtype", "float8"],
        ["run", "What is 2+2?", "--dtype", "float8"],
        ["collect", "--dtype", "float8"],
        ["eval", "--dtype", "float8"],
        ["serve", "--dtype", "float8"],
        ["quickstart", "--tiny", "--dtype", "float8"],
    ],
)
def test_every_command_rejects_a_bad_dtype_before_loading(args, tmp_path):
    result = CliRunner().invoke(app, [a.format(data=tmp_path) for a in args])
    assert result.exit_code == 2 and "unknown dtype 'float8'" in result.output


def test_fp16_training_on_a_cpu_fails_before_any_model_loads(tmp_path, monkeypatch):
    monkeypatch.setenv(CPU_BF16_ENV, "0")
    if detect_hardware().device != "cpu":
        pytest.skip("a GPU trains in fp16")
    (tmp_path / "train.jsonl").write_text(json.dumps({"id": "a", "messages": CONVERSATION}) + "\n")
    for args in (
        ["distill", str(tmp_path), "--dtype", "fp16", "--out", str(tmp_path / "out")],
        ["quickstart", "--tiny", "--dtype", "fp16", "--out", str(tmp_path / "qs")],
    ):
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 1 and "fp16 training needs a GPU" in result.output
        assert "Traceback" not in result.output
    assert not (tmp_path / "out").exists() and not (tmp_path / "qs" / "teacher.jsonl").exists()


def test_records_and_summaries_carry_the_precision(scripted, tmp_path):
    from agentdistill.pipeline import EvalConfig, evaluate

    model = scripted("Thought: add.\n```python\nfinal_answer(4)\n```")
    model.precision = inference_precision("bf16", AVX2)
    summary = evaluate(EvalConfig(suite="math", n=1, out=str(tmp_path)), model=model)
    record = json.loads((tmp_path / "episodes.jsonl").read_text().splitlines()[0])
    assert Precision.model_validate(record["precision"]).dtype == "bf16"
    assert summary.precision == "bf16, CPU without native bf16" and summary.row()[-1] == summary.precision


# -- real models: the bf16 paths run here even though this CPU has no native bf16 -----------------------


@pytest.mark.model
@pytest.mark.parametrize(
    "dtype, pretend_native_bf16, trained",
    [
        ("fp32", "0", "fp32"),
        ("bf16", "0", "bf16"),
        ("auto", "1", "bf16"),  # what `auto` does on a CPU with AVX512-BF16/AMX
    ],
)
@pytest.mark.slow
def test_distill_cli_trains_a_student_that_reloads_and_generates(
    dtype, pretend_native_bf16, trained, tmp_path, monkeypatch
):
    require_model("smollm2-135m")
    from agentdistill.llm import load_chat_model

    monkeypatch.setenv(CPU_BF16_ENV, pretend_native_bf16)
    rows = [{"id": f"t{i}", "messages": CONVERSATION} for i in range(2)]
    (tmp_path / "train.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    out = tmp_path / "student"
    result = CliRunner().invoke(
        app,
        [
            "distill",
            str(tmp_path / "train.jsonl"),
            "--student",
            "smollm2-135m",
            "--out",
            str(out),
            "--dtype",
            dtype,
            "--epochs",
            "1",
            "--grad-accum",
            "1",
            "--learning-rate",
            "1e-3",
            "--max-length",
            "256",
            "--gguf",
            "none",
        ],
    )
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["precision"]["compute"] == trained and summary["precision"]["trainable"] == "fp32"
    assert summary["precision"]["weights"] == trained  # the frozen LoRA base sits in the compute dtype
    assert math.isfinite(summary["first_loss"]) and math.isfinite(summary["last_loss"])
    assert summary["saved_dtype"] == "fp32"
    assert json.loads((out / "model" / "config.json").read_text())["dtype"] == "float32"

    student = load_chat_model(f"hf:{out / 'model'}", dtype=dtype, backend="transformers", max_new_tokens=8)
    assert student.precision.dtype == ("bf16" if trained == "bf16" else "fp32")
    assert str(student.model.dtype) == f"torch.{'bfloat16' if trained == 'bf16' else 'float32'}"
    reply = student.complete([{"role": "user", "content": "Task: What is 6 * 7?"}])[0]
    assert reply.completion_tokens > 0 and reply.text.strip()
    if dtype == "bf16":
        assert_merged_student_computes_what_the_adapter_computes(out)


def assert_merged_student_computes_what_the_adapter_computes(out):
    """The adapter trained over a bf16 base is merged in fp32: the merged model gives the adapter's own logits."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from agentdistill.llm import registry

    ids = AutoTokenizer.from_pretrained(out / "model")(CONVERSATION[2]["content"], return_tensors="pt")["input_ids"]
    base = AutoModelForCausalLM.from_pretrained(registry.model_path("smollm2-135m"), dtype=torch.float32)
    adapted = PeftModel.from_pretrained(base, str(out / "adapter")).eval()
    merged = AutoModelForCausalLM.from_pretrained(out / "model", dtype=torch.float32).eval()
    with torch.inference_mode():
        want, got = adapted(ids).logits, merged(ids).logits
        with adapted.disable_adapter():
            untrained = adapted(ids).logits
    assert (want - untrained).abs().max() > 1e-3  # the adapter learnt something (the second step; the first warms up)
    assert torch.allclose(want, got, atol=1e-3), (want - got).abs().max()  # ... and the merge kept it
