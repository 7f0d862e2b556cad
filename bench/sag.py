"""Self-consistent action generation: N candidates in one batched call vs N sequential calls.

    python bench/sag.py [--model qwen2.5-coder-0.5b] [--n 8] [--new-tokens 48]

Same model, same agent prompt (first step of a math task), same sampling settings; the wall-time ratio
is measured side by side. Candidate execution is timed too: N isolated sandbox branches, replaying one
committed step, against running the N candidates one after another in a single (leaking) sandbox.
"""

from __future__ import annotations

import argparse
import time

from agentdistill.agents import CodeAgent
from agentdistill.llm import SamplingParams, load_chat_model
from agentdistill.tools.branching import BranchingSandbox
from agentdistill.tools.sandbox import PythonSandbox


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="qwen2.5-coder-0.5b")
    parser.add_argument("--n", type=int, default=8)
    parser.add_argument("--new-tokens", type=int, default=48)
    args = parser.parse_args()
    chat = load_chat_model(args.model)
    agent = CodeAgent(chat, tools=[])
    prompt = agent.initial_messages("A shop sells 23 boxes of 12 pencils and 7 loose pencils. How many pencils?")
    params = SamplingParams(n=args.n, temperature=0.7, top_p=0.95, max_new_tokens=args.new_tokens, seed=0)
    chat.complete(prompt, SamplingParams(n=1, max_new_tokens=2))  # warm-up (and the kept prompt cache)

    started = time.perf_counter()
    batched = chat.complete(prompt, params)
    batched_s = time.perf_counter() - started
    started = time.perf_counter()
    sequential = [chat.complete(prompt, params.model_copy(update={"n": 1, "seed": i}))[0] for i in range(args.n)]
    sequential_s = time.perf_counter() - started
    tokens_b = sum(c.completion_tokens for c in batched)
    tokens_s = sum(c.completion_tokens for c in sequential)
    print(f"{args.model}, {args.n} candidates, <= {args.new_tokens} new tokens each:")
    print(f"  one batched call:   {batched_s:6.1f} s  ({tokens_b} tokens, {tokens_b / batched_s:.1f} tok/s)")
    print(
        f"  {args.n} sequential calls: {sequential_s:6.1f} s  ({tokens_s} tokens, {tokens_s / sequential_s:.1f} tok/s)"
    )
    print(f"  ratio sequential / batched wall time: {sequential_s / batched_s:.2f}x")

    codes = [f"total = 23 * 12 + {i}\nprint(total)" for i in range(args.n)]
    box = BranchingSandbox()
    box.run("pencils = [23, 12]")
    started = time.perf_counter()
    box.try_each(codes)
    branches_s = time.perf_counter() - started
    with PythonSandbox() as shared:
        shared.run("pencils = [23, 12]")
        started = time.perf_counter()
        for code in codes:
            shared.run(code)
        shared_s = time.perf_counter() - started
    print(
        f"  executing {args.n} candidates: isolated branches {branches_s:.2f} s vs one shared sandbox "
        f"{shared_s:.3f} s (isolation costs {branches_s - shared_s:.2f} s per step)"
    )


if __name__ == "__main__":
    main()
