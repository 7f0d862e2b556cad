"""Training precision on this CPU: LoRA distillation tokens/s in fp32 against the two bf16 mixed-precision
layouts, measured side by side in one run through the same `distill` code the CLI runs.

    python bench/precision.py [--students smollm2-135m qwen2.5-coder-0.5b] [--examples 8] [--out FILE.json]

- fp32:               fp32 weights, fp32 products (what `auto` picks on a CPU without native bf16)
- bf16, fp32 weights: fp32 base and adapters, products under bf16 autocast
- bf16, bf16 base:    frozen base held in bf16, fp32 LoRA adapters, bf16 autocast (what `auto` picks with native bf16)

Prints the CPU's flags, tokens/s per layout, the ratio to fp32, and the first and last loss of each run (the
same data and seed, so the losses show whether a layout trains alike). Inference speed per dtype is
`bench/generation.py`. Run it on a CPU with AVX512-BF16 or AMX to check `auto`'s choice there.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import torch

from _results import load_results, save_results, training_machine
from agentdistill.distill import DistillConfig, distill
from agentdistill.llm import registry
from agentdistill.llm.precision import detect_hardware, training_precision
from agentdistill.pipeline.markdown import markdown_rows
from agentdistill.tasks import load_suite

LAYOUTS = {  # name -> (weights, compute)
    "fp32": ("fp32", "fp32"),
    "bf16, fp32 weights": ("fp32", "bf16"),
    "bf16, bf16 base": ("bf16", "bf16"),
}


def conversations(count: int) -> list[dict]:
    """Agent-shaped training rows (system, task, code, observation, answer) over real math-suite tasks."""
    rows = []
    for task in load_suite("math", "train", count, seed=0):
        answer = task.answers[0]
        rows.append(
            {
                "id": task.id,
                "messages": [
                    {
                        "role": "system",
                        "content": "You solve tasks by writing Python code. Think, then act in a code block; "
                        "call final_answer(value) when done.",
                    },
                    {"role": "user", "content": f"Task: {task.question}"},
                    {
                        "role": "assistant",
                        "content": "Thought: I will compute each quantity in code and print it.\n"
                        "```python\nresult = " + answer + "\nprint(result)\n```",
                    },
                    {"role": "user", "content": f"Observation:\n{answer}"},
                    {
                        "role": "assistant",
                        "content": f"Thought: the code printed {answer}.\n```python\nfinal_answer({answer})\n```",
                    },
                ],
            }
        )
    return rows


def measure(student: str, layout: str, data: Path, work: Path) -> dict:
    weights, compute = LAYOUTS[layout]
    precision = training_precision("fp32" if compute == "fp32" else "bf16", lora=True)
    precision = precision.model_copy(update={"weights": weights, "reason": f"bench: {layout}"})
    config = DistillConfig(
        data=str(data),
        student=student,
        out=str(work / f"{student}-{layout}"),
        epochs=1,
        grad_accum=2,
        learning_rate=1e-3,
        merge=False,
    )
    started = time.perf_counter()
    result = distill(config, precision=precision)
    return {
        "tokens_per_s": result.tokens_per_second,
        "train_s": result.seconds,
        "wall_s": time.perf_counter() - started,
        "first_loss": result.first_loss,
        "last_loss": result.last_loss,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", nargs="+", default=["smollm2-135m"])
    parser.add_argument("--examples", type=int, default=8)
    parser.add_argument("--layouts", nargs="+", default=list(LAYOUTS), choices=list(LAYOUTS))
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="Result file (JSON): rows already in it for this CPU are kept, not measured again.",
    )
    args = parser.parse_args()
    header = {**training_machine(), "capability": torch.backends.cpu.get_cpu_capability()}
    hw = detect_hardware()
    print(
        f"torch {header['torch']}, {header['threads']} threads, CPU capability {header['capability']}; "
        f"{hw.device}: {hw.name}, native bf16: {hw.native_bf16}\nauto trains in: {header['auto']}"
    )
    results = load_results(args.out, header, ("cpu", "torch", "threads"))
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        (work / "data").mkdir()
        (work / "data" / "train.jsonl").write_text("\n".join(json.dumps(r) for r in conversations(args.examples)))
        for student in args.students:
            if not registry.is_ready(student):
                print(f"{student}: skipped, run `agentdistill models pull {student}`")
                continue
            for layout in args.layouts:
                key = f"{student} | {layout} | {args.examples}"
                if key not in results["rows"]:
                    results["rows"][key] = {
                        "student": student,
                        "layout": layout,
                        "examples": args.examples,
                        **measure(student, layout, work / "data", work),
                    }
                    save_results(args.out, results)
    print(render(results))


def render(results: dict) -> str:
    """The markdown table of a result file, with each layout's speed relative to fp32 for the same student."""
    lines = [
        f"{results['cpu']}, native bf16: {'yes' if results['native_bf16'] else 'no'}, torch {results['torch']}, "
        f"{results['threads']} threads; `auto` trains in {results['auto']}",
        "",
    ]
    rows = []
    for row in results["rows"].values():
        fp32 = results["rows"].get(f"{row['student']} | fp32 | {row['examples']}")
        ratio = f"{row['tokens_per_s'] / fp32['tokens_per_s']:.2f}x" if fp32 else "-"
        loss = f"{row['first_loss']:.3f} -> {row['last_loss']:.3f}"
        rows.append([row["student"], row["layout"], f"{row['tokens_per_s']:.1f}", ratio, loss])
    header = ["student", "layout", "training tokens/s", "vs fp32", "loss first -> last"]
    return "\n".join([*lines, markdown_rows(header, rows)])


if __name__ == "__main__":
    main()
