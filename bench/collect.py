"""Collection throughput: episodes/minute at concurrency 1 vs N (batched generate), same tasks, same model.

    python bench/collect.py [--teacher qwen2.5-coder-0.5b] [--suite math] [--tasks 8] [--concurrency 8]

Both runs use one loaded model and write to throwaway stores; the ratio is measured side by side.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from agentdistill.llm import load_chat_model
from agentdistill.trajectories.collect import Collector
from agentdistill.trajectories.collect_config import CollectConfig


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--teacher", default="qwen2.5-coder-0.5b")
    parser.add_argument("--suite", default="math")
    parser.add_argument("--tasks", type=int, default=8)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--max-steps", type=int, default=3)
    args = parser.parse_args()
    model = load_chat_model(args.teacher)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for concurrency in (1, args.concurrency):
            config = CollectConfig(suite=args.suite, split="train", n=args.tasks, teacher=args.teacher,
                                   out=str(Path(tmp) / f"c{concurrency}.jsonl"), concurrency=concurrency,
                                   max_steps=args.max_steps)
            collector = Collector(config, model=model)
            summary = collector.run()
            sizes = getattr(collector.model, "batch_sizes", [])
            mean_batch = sum(sizes) / len(sizes) if sizes else 1.0
            rows.append((concurrency, summary, mean_batch))
            print(f"concurrency {concurrency}: {summary.done} episodes in {summary.seconds:.0f} s = "
                  f"{summary.episodes_per_minute:.2f} episodes/min, accuracy {summary.accuracy:.0%}, "
                  f"mean batch {mean_batch:.1f}")
    (c1, s1, _), (cn, sn, _) = rows
    print(f"ratio concurrency {cn} / 1: {sn.episodes_per_minute / s1.episodes_per_minute:.2f}x episodes/min "
          f"({args.teacher}, {args.tasks} {args.suite} tasks)")


if __name__ == "__main__":
    main()
