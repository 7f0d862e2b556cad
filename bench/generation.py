"""Generation speed of the embedded chat models: load time, greedy and 8-sample tok/s, fp32 vs bf16.

    python bench/generation.py [--models smollm2-135m qwen2.5-coder-0.5b] [--new-tokens 64]

All numbers come from this run; the bf16/fp32 ratios are measured side by side on the same prompts.
Decoding is timed with a forced length (min_new_tokens) so that early EOS does not flatter a model.
"""

from __future__ import annotations

import argparse
import time

import torch

from agentdistill.agents import CodeAgent
from agentdistill.llm import SamplingParams, load_chat_model, registry


def measure(name: str, dtype: str, new_tokens: int) -> dict[str, float]:
    started = time.perf_counter()
    chat = load_chat_model(name, dtype=dtype)
    load_s = time.perf_counter() - started
    agent_prompt = CodeAgent(chat, tools=[]).initial_messages("What is 1234 * 5678?")
    short_prompt = [{"role": "user", "content": "Write a Python function that checks whether a number is prime."}]
    model, tokenizer = chat.model, chat.tokenizer

    def tokens(conversation):
        return tokenizer(chat.render(conversation), return_tensors="pt", add_special_tokens=False)

    with torch.inference_mode():
        model.generate(**tokens(short_prompt), max_new_tokens=2, do_sample=False)  # warm-up
        long_ids = tokens(agent_prompt)
        started = time.perf_counter()
        model(**long_ids)
        prefill_tps = long_ids["input_ids"].shape[1] / (time.perf_counter() - started)
        ids = tokens(short_prompt)
        started = time.perf_counter()
        model.generate(**ids, max_new_tokens=new_tokens, min_new_tokens=new_tokens, do_sample=False)
        greedy_tps = new_tokens / (time.perf_counter() - started)
        started = time.perf_counter()
        model.generate(
            **ids, max_new_tokens=new_tokens, min_new_tokens=new_tokens, do_sample=True, num_return_sequences=8
        )
        sampled_tps = 8 * new_tokens / (time.perf_counter() - started)
    chat.complete(short_prompt, SamplingParams(max_new_tokens=4))
    return {
        "load_s": load_s,
        "prefill": prefill_tps,
        "greedy": greedy_tps,
        "n8": sampled_tps,
        "prompt_tokens": long_ids["input_ids"].shape[1],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["smollm2-135m", "qwen2.5-coder-0.5b"])
    parser.add_argument("--new-tokens", type=int, default=64)
    args = parser.parse_args()
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, CPU capability "
        f"{torch.backends.cpu.get_cpu_capability()}"
    )
    print(f"{'model':20} {'dtype':9} {'load s':>7} {'prefill tok/s':>14} {'greedy tok/s':>13} {'n=8 tok/s':>10}")
    for name in args.models:
        if not registry.is_ready(name):
            print(f"{name:20} skipped: run `agentdistill models pull {name}`")
            continue
        rows = {dtype: measure(name, dtype, args.new_tokens) for dtype in ("fp32", "bf16")}
        for dtype, r in rows.items():
            print(f"{name:20} {dtype:9} {r['load_s']:7.2f} {r['prefill']:14.1f} {r['greedy']:13.1f} {r['n8']:10.1f}")
        f, b = rows["fp32"], rows["bf16"]
        print(
            f"{'':20} bf16/fp32: prefill {b['prefill'] / f['prefill']:.2f}x ({f['prompt_tokens']}-token agent "
            f"prompt), greedy {b['greedy'] / f['greedy']:.2f}x, n=8 {b['n8'] / f['n8']:.2f}x; "
            f"n=8 vs greedy (fp32) {f['n8'] / f['greedy']:.2f}x tokens/s"
        )


if __name__ == "__main__":
    main()
