"""Collection throughput: episodes/minute at several concurrencies, same tasks, same loaded model, per model.

    python bench/collect.py [--teachers qwen2.5-coder-0.5b qwen2.5-coder-1.5b] [--backend auto]
                            [--suite math] [--tasks 16] [--concurrency 1 4 8] [--out bench/results/collect-avx2.json]

Each model is loaded once; every concurrency runs the same greedy tasks into a throwaway store, so the ratios to
concurrency 1 are measured side by side. With `--out` each cell is saved as it finishes and a rerun on the same
CPU skips the cells already there; `render()` makes the README table from the file.
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
from pathlib import Path

from _results import load_results, save_results
from agentdistill.llm import load_chat_model, resolve_backend
from agentdistill.llm.precision import cpu_hardware
from agentdistill.pipeline.collect import Collector
from agentdistill.pipeline.collect_config import CollectConfig
from agentdistill.pipeline.markdown import markdown_rows


def measure(
    model, teacher: str, backend: str, suite: str, tasks: int, concurrency: int, max_steps: int, work: Path
) -> dict:
    config = CollectConfig(
        suite=suite,
        split="train",
        n=tasks,
        teacher=teacher,
        backend=backend,
        out=str(work / f"{teacher}-{concurrency}.jsonl"),
        concurrency=concurrency,
        max_steps=max_steps,
        # one greedy episode per task, so that backends and concurrency compare on the same work
        temperature=0.0,
        samples=1,
        stop_after_correct=None,
        prefix=False,
    )
    summary = Collector(config, model=model).run()
    return {
        "teacher": teacher,
        "backend": backend,
        "weights": str(model.precision or "server"),
        "concurrency": concurrency,
        "episodes": summary.done,
        "seconds": round(summary.seconds, 1),
        "episodes_per_minute": round(summary.episodes_per_minute, 2),
        "correct": summary.correct,
        "completion_tokens": summary.completion_tokens,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--teachers", nargs="+", default=["qwen2.5-coder-0.5b"])
    parser.add_argument("--backend", default="auto", help="auto, engine or transformers")
    parser.add_argument("--suite", default="math")
    parser.add_argument("--tasks", type=int, default=16)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 4, 8])
    parser.add_argument("--max-steps", type=int, default=3)
    parser.add_argument("--out", type=Path, default=None, help="JSON result file (resumable)")
    args = parser.parse_args()
    hardware = cpu_hardware()
    header = {
        "cpu": hardware.name,
        "machine": platform.machine(),
        "threads": os.cpu_count(),
        "suite": args.suite,
        "tasks": args.tasks,
        "max_steps": args.max_steps,
    }
    results = load_results(args.out, header, ("cpu", "threads", "suite", "tasks", "max_steps"))
    with tempfile.TemporaryDirectory() as tmp:
        for teacher in args.teachers:
            backend = resolve_backend(teacher, backend=args.backend)
            todo = [c for c in args.concurrency if f"{teacher} | {backend} | {c}" not in results["rows"]]
            if not todo:
                continue
            # an engine serves as many sequences at once as the highest concurrency asks for, so that every
            # concurrency runs on the same server and only the number of episodes in flight differs
            slots = {"parallel": max(args.concurrency)} if backend == "engine" else {}
            model = load_chat_model(teacher, backend=backend, **slots)
            try:
                for concurrency in todo:
                    row = measure(
                        model, teacher, backend, args.suite, args.tasks, concurrency, args.max_steps, Path(tmp)
                    )
                    results["rows"][f"{teacher} | {backend} | {concurrency}"] = row
                    save_results(args.out, results)
                    print(
                        f"{teacher} ({backend}) concurrency {concurrency}: {row['episodes']} episodes in "
                        f"{row['seconds']:.0f} s = {row['episodes_per_minute']:.2f} episodes/min",
                        flush=True,
                    )
            finally:
                model.close()
    print(render(results))


def render(results: dict) -> str:
    """The markdown table of a result file: episodes/min per model and concurrency, as a ratio to concurrency 1."""
    lines = [
        f"{results['cpu']}, {results['threads']} threads; {results['tasks']} {results['suite']} train tasks, "
        f"greedy, at most {results['max_steps']} steps",
        "",
    ]
    header = ["model", "backend", "weights", "concurrency", "episodes/min", "vs. 1 at a time", "solved"]
    rows = []
    for row in results["rows"].values():
        single = results["rows"].get(f"{row['teacher']} | {row['backend']} | 1")
        ratio = f"{row['episodes_per_minute'] / single['episodes_per_minute']:.2f}x" if single else "—"
        rows.append(
            [
                row["teacher"],
                row["backend"],
                row["weights"],
                str(row["concurrency"]),
                f"{row['episodes_per_minute']:.2f}",
                ratio,
                f"{row['correct']}/{row['episodes']}",
            ]
        )
    return "\n".join([*lines, markdown_rows(header, rows)])


if __name__ == "__main__":
    main()
