"""Distillation throughput on this CPU: LoRA training tokens/s of a student as `distill` trains it today, against
sequence packing (padding-free), fp32 against the precision `auto` picks, and torch.compile, measured side by side
in one run through the same `distill` code; and the CPU's own matmul peak, to say how far training is from it.

    python bench/train_throughput.py [--student qwen2.5-coder-0.5b] [--data runs/recbot/export] [--examples 48]
                                     [--variants as-is packed fp32 compiled] [--out FILE.json]

- as-is:    what `distill` does by default (batch 1, 4 examples per update, `auto` precision)
- packed:   `--packing`: examples packed best-fit into sequences of about 4 examples, 1 sequence per update,
            so an update still sees about 4 examples (the same learning rate then means the same thing)
- fp32:     as-is with `--dtype fp32` (the difference `auto` makes on a CPU with bf16 units)
- compiled: as-is with `--torch-compile` (compilation time is in the seconds, as a user would pay it)

Every row trains one epoch over the same examples from the same seed, so the losses show whether a variant trains
alike. The achieved rate counts 4 x (matmul parameters) FLOPs per token (forward, and the backward through frozen
weights; LoRA's own products are below 2% and left out) against `torch.mm`'s rate at the student's layer shapes.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import tempfile
import time
from pathlib import Path

import torch

from _results import load_results, save_results, training_machine
from agentdistill.distill import DistillConfig, distill, load_training_rows, tokenize_example, training_template
from agentdistill.llm import registry
from agentdistill.pipeline.markdown import markdown_rows
from precision import conversations

EXAMPLES_PER_UPDATE = 4
VARIANTS = {
    "as-is": {},
    "packed": {"packing": True},
    "fp32": {"dtype": "fp32"},
    "compiled": {"torch_compile": True},
}


def example_lengths(rows: list[dict], student: str) -> list[int]:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(registry.model_path(student))
    template = training_template(tokenizer)
    return [len(tokenize_example(tokenizer, template, row["messages"])["input_ids"]) for row in rows]


def matmul_parameters(student: str) -> tuple[int, int, int]:
    """(parameters in matmuls, hidden size, MLP size) of the student, counted on the meta device (no weights)."""
    from transformers import AutoConfig, AutoModelForCausalLM

    config = AutoConfig.from_pretrained(registry.model_path(student))
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(config)
    linear = sum(m.weight.numel() for m in model.modules() if isinstance(m, torch.nn.Linear))
    return linear, config.hidden_size, config.intermediate_size


def matmul_peak(dtype: torch.dtype, m: int, k: int, n: int, seconds: float = 3.0) -> float:
    """GFLOP/s of `torch.mm` for an (m x k) @ (k x n) product in `dtype`, after a warm-up."""
    a, b = torch.randn(m, k, dtype=dtype), torch.randn(k, n, dtype=dtype)
    for _ in range(3):
        torch.mm(a, b)
    count, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        torch.mm(a, b)
        count += 1
    return 2 * m * k * n * count / (time.perf_counter() - started) / 1e9


def measure(variant: str, student: str, data: Path, work: Path, pack_length: int) -> dict:
    settings = {"epochs": 1, "grad_accum": EXAMPLES_PER_UPDATE, "merge": False, "gguf": "none", "checkpoint_steps": 0}
    settings |= VARIANTS[variant]
    if settings.get("packing"):
        settings |= {"max_length": pack_length, "grad_accum": 1}
    config = DistillConfig(data=str(data), student=student, out=str(work / variant), **settings)
    started = time.perf_counter()
    result = distill(config)
    log = [json.loads(line) for line in (work / variant / "train_log.jsonl").read_text().splitlines()]
    return {
        "tokens_per_s": result.tokens_per_second,
        "train_s": result.seconds,
        "wall_s": time.perf_counter() - started,
        "updates": len(log),
        "compute": result.precision.compute,
        "weights": result.precision.weights,
        "first_loss": result.first_loss,
        "last_loss": result.last_loss,
        "mean_loss": statistics.fmean(row["loss"] for row in log),
    }


def _repo_path(path: Path) -> str:
    """`path` as seen from the repository root, so that result files read the same from wherever it ran."""
    root = Path(__file__).resolve().parent.parent
    resolved = path.resolve()
    return str(resolved.relative_to(root)) if resolved.is_relative_to(root) else str(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--student", default="qwen2.5-coder-0.5b")
    parser.add_argument("--data", type=Path, default=None, help="Training data (default: agent-shaped math rows).")
    parser.add_argument("--examples", type=int, default=48)
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--out", type=Path, default=None, help="Result file (JSON); rows in it are kept.")
    args = parser.parse_args()
    if not registry.is_ready(args.student):
        parser.error(f"{args.student} is not installed: run `agentdistill models pull {args.student}`")
    rows = load_training_rows(args.data)[: args.examples] if args.data else conversations(args.examples)
    lengths = example_lengths(rows, args.student)
    pack_length = 64 * math.ceil(EXAMPLES_PER_UPDATE * statistics.fmean(lengths) / 64)
    params, hidden, mlp = matmul_parameters(args.student)
    header = {
        **training_machine(),
        "student": args.student,
        "data": _repo_path(args.data) if args.data else "bench/precision.py math rows",
        "examples": len(rows),
        "mean_tokens": statistics.fmean(lengths),
        "pack_length": pack_length,
        "matmul_params": params,
    }
    print(json.dumps(header, indent=1))
    results = load_results(args.out, header, ("cpu", "torch", "threads", "student", "data", "examples"))
    results.setdefault("peak_gflops", {})
    for name, dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16)):
        if name not in results["peak_gflops"]:
            results["peak_gflops"][name] = matmul_peak(dtype, m=round(statistics.fmean(lengths)), k=hidden, n=mlp)
    save_results(args.out, results)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        (work / "data").mkdir()
        (work / "data" / "train.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
        for variant in args.variants:
            if variant not in results["rows"]:
                results["rows"][variant] = measure(variant, args.student, work / "data", work, pack_length)
                save_results(args.out, results)
    print(render(results))


def render(results: dict) -> str:
    """The markdown table of a result file: tokens/s per variant, its ratio to as-is, and its share of the peak."""
    peak = results["peak_gflops"]
    lines = [
        f"{results['cpu']}, native bf16: {'yes' if results['native_bf16'] else 'no'}, torch {results['torch']}, "
        f"{results['threads']} threads; {results['student']} LoRA, {results['examples']} examples of "
        f"{results['mean_tokens']:.0f} tokens on average ({results['data']}), packed to {results['pack_length']}; "
        f"matmul peak at the student's shapes: fp32 {peak['fp32']:.0f}, bf16 {peak['bf16']:.0f} GFLOP/s",
        "",
    ]
    header = ["variant", "precision", "training tokens/s", "vs as-is", "updates", "GFLOP/s (of peak)"]
    header.append("loss first -> last (mean)")
    rows = []
    base = results["rows"].get("as-is")
    for name, row in results["rows"].items():
        ratio = f"{row['tokens_per_s'] / base['tokens_per_s']:.2f}x" if base else "-"
        achieved = 4 * results["matmul_params"] * row["tokens_per_s"] / 1e9
        of_peak = peak["bf16" if row["compute"] == "bf16" else "fp32"]
        loss = f"{row['first_loss']:.3f} -> {row['last_loss']:.3f} ({row['mean_loss']:.3f})"
        rows.append(
            [
                name,
                f"{row['compute']} ({row['weights']} weights)",
                f"{row['tokens_per_s']:.1f}",
                ratio,
                str(row["updates"]),
                f"{achieved:.0f} ({achieved / of_peak:.0%})",
                loss,
            ]
        )
    return "\n".join([*lines, markdown_rows(header, rows)])


if __name__ == "__main__":
    main()
