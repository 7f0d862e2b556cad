"""The managed llama.cpp engine against the transformers path, side by side in one run per model: start
seconds, prefill of a real agent prompt (cold, then cached), one-stream decode, total tokens/s at 8
concurrent, and one agent episode's wall time, each engine figure with its ratio to transformers.

    python bench/engine.py [--models qwen2.5-coder-0.5b] [--tokens 128] [--out bench/results/engine-CPU.txt]

The last line is `engine speedup (0.5B episode, 1 stream): X.Xx` (transformers episode wall time over the
engine's, same task, greedy). Needs `agentdistill engine build` and the models pulled.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

from agentdistill.agents import CodeAgent
from agentdistill.llm import SamplingParams, load_chat_model
from agentdistill.llm.precision import detect_hardware
from agentdistill.tasks import load_suite

LONG = [{"role": "user", "content": "Count from 1 to 300, separated by commas, with nothing else."}]


def timed(call):
    started = time.perf_counter()
    value = call()
    return value, time.perf_counter() - started


def measure(spec: str, tokens: int, **fields) -> dict[str, float]:
    model, start_s = timed(lambda: load_chat_model(spec, **fields))
    agent = CodeAgent(model, tools=[], max_steps=4, max_new_tokens=256)
    task = load_suite("math", "test", 1)[0]
    prompt = agent.initial_messages(task.question)
    one = SamplingParams(max_new_tokens=1)
    _, cold = timed(lambda: model.complete(prompt, one))
    _, cached = timed(lambda: model.complete(prompt, one))
    reply, decode_s = timed(lambda: model.complete(LONG, SamplingParams(max_new_tokens=tokens))[0])
    batch, batch_s = timed(lambda: model.complete_batch([LONG] * 8, SamplingParams(max_new_tokens=tokens)))
    trajectory, episode_s = timed(lambda: agent.run(task.question))
    model.close()
    return {
        "start_s": start_s,
        "cold_prefill_s": cold,
        "cached_prefill_s": cached,
        "decode_tok_s": reply.completion_tokens / decode_s,
        "concurrent8_tok_s": sum(r[0].completion_tokens for r in batch) / batch_s,
        "episode_s": episode_s,
        "episode_steps": len(trajectory.steps),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["qwen2.5-coder-0.5b"])
    parser.add_argument("--tokens", type=int, default=128)
    parser.add_argument("--out", type=Path, default=None, help="Also write the printed output here (a result file).")
    args = parser.parse_args()
    lines: list[str] = []

    def say(text: str = "") -> None:  # printed, and kept for --out
        lines.append(text)
        sys.stdout.write(text + "\n")
        sys.stdout.flush()

    hw = detect_hardware()
    say(f"{hw.name}; torch {torch.__version__}, {torch.get_num_threads()} threads")
    speedups = {}
    for name in args.models:
        engine = measure(f"engine:{name}", args.tokens, parallel=8)
        local = measure(name, args.tokens, backend="transformers")
        say(f"\n{name}: {'':24} {'engine':>10} {'transformers':>13} {'ratio':>7}")
        for key in engine:
            rate = key.endswith("tok_s") or key == "episode_steps"  # higher is better; else seconds
            better = engine[key] / local[key] if rate else local[key] / engine[key]
            say(f"  {key:32} {engine[key]:10.2f} {local[key]:13.2f} {better:6.1f}x")
        speedups[name] = local["episode_s"] / engine["episode_s"]
    first = args.models[0]
    say(f"engine speedup ({first.split('-')[-1].upper()} episode, 1 stream): {speedups[first]:.1f}x")
    if args.out:
        args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
