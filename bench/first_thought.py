"""First-thought prefix ablation: teacher accuracy without a prefix and with each prefix style, same tasks.

    python bench/first_thought.py [--teacher qwen2.5-coder-1.5b] [--tasks 12] [--concurrency 4] [--out runs/ftp]

Writes one trajectory store per (suite, condition) under --out (so an interrupted run resumes) and prints
accuracy by suite and condition, plus how often the episode ended with final_answer.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from agentdistill.llm import load_chat_model
from agentdistill.pipeline.collect import Collector
from agentdistill.pipeline.collect_config import CollectConfig
from agentdistill.pipeline.markdown import markdown_rows
from agentdistill.pipeline.stats import mcnemar_exact
from agentdistill.trajectories import TrajectoryStore

CONDITIONS = ["none", "paragraph", "substantive", "substantive+code"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--teacher", default="qwen2.5-coder-1.5b")
    parser.add_argument("--suites", nargs="+", default=["math", "facts"])
    parser.add_argument("--tasks", type=int, default=12)
    parser.add_argument("--conditions", nargs="+", default=CONDITIONS)
    parser.add_argument("--max-steps", type=int, default=4)
    parser.add_argument("--concurrency", type=int, default=1, help="episodes stepped in lockstep (batched generate)")
    parser.add_argument("--out", default="runs/ftp")
    args = parser.parse_args()
    model = load_chat_model(args.teacher)
    table, outcomes = {}, {}
    for suite in args.suites:
        for condition in args.conditions:
            config = CollectConfig(
                suite=suite,
                split="train",
                n=args.tasks,
                teacher=args.teacher,
                max_steps=args.max_steps,
                concurrency=args.concurrency,
                out=str(Path(args.out) / f"{suite}-{condition.replace('+', '-')}.jsonl"),
                prefix=condition != "none",
                prefix_style="paragraph" if condition == "none" else condition,
            )
            Collector(config, model=model).run()
            records = list(TrajectoryStore(config.out))
            correct = sum(r.correct for r in records)
            finished = sum(r.trajectory.termination == "final_answer" for r in records)
            seconds = sum(r.trajectory.duration_s for r in records) / max(len(records), 1)
            table[suite, condition] = (correct, finished, len(records), seconds)
            outcomes[suite, condition] = {r.task_id: r.correct for r in records}
            print(
                f"{suite:6} {condition:17} correct {correct}/{len(records)}  final_answer {finished}/{len(records)}"
                f"  {seconds:.0f} s/episode",
                flush=True,
            )
    print(f"\n{args.teacher}, {args.tasks} train tasks per suite, greedy, max {args.max_steps} steps")
    cells = {s: [f"{table[s, c][0]}/{table[s, c][2]}" for c in args.conditions] for s in args.suites}
    print(markdown_rows(["suite", *args.conditions], ([s, *cells[s]] for s in args.suites)))
    if "none" in args.conditions:
        print(
            "\nPaired against no prefix (same tasks): tasks only the prefix solved / only no-prefix solved, "
            "two-sided sign-test p"
        )
        for condition in (c for c in args.conditions if c != "none"):
            for suite in [*args.suites, "all"]:
                suites = args.suites if suite == "all" else [suite]
                gained, lost = discordant_pairs([(outcomes[s, "none"], outcomes[s, condition]) for s in suites])
                print(f"  {condition:17} {suite:6} +{gained} -{lost}  p={mcnemar_exact(lost, gained):.2f}")


def discordant_pairs(pairs: list[tuple[dict[str, bool], dict[str, bool]]]) -> tuple[int, int]:
    """Tasks solved only with the condition, and only without it, over the tasks both runs hold."""
    gained = lost = 0
    for base, other in pairs:
        for task_id in base.keys() & other.keys():
            gained += other[task_id] and not base[task_id]
            lost += base[task_id] and not other[task_id]
    return gained, lost


if __name__ == "__main__":
    main()
