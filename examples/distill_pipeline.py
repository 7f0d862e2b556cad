"""The distillation pipeline through the Python API, step by step (what `agentdistill quickstart` does).

python examples/distill_pipeline.py runs/example [--teacher qwen2.5-coder-1.5b] [--student smollm2-135m]
"""

import argparse

from agentdistill.distill import DistillConfig, distill
from agentdistill.pipeline import EvalConfig, evaluate, markdown_table
from agentdistill.pipeline.collect import collect
from agentdistill.pipeline.collect_config import CollectConfig
from agentdistill.trajectories import TrajectoryStore
from agentdistill.trajectories.export import export_dataset
from agentdistill.trajectories.filters import filter_records

parser = argparse.ArgumentParser()
parser.add_argument("out")
parser.add_argument("--teacher", default="qwen2.5-coder-1.5b")
parser.add_argument("--student", default="smollm2-135m")
parser.add_argument("--tasks", type=int, default=8)
args = parser.parse_args()

store = f"{args.out}/teacher.jsonl"
summary = collect(
    CollectConfig(
        suite="math", split="train", n=args.tasks, teacher=args.teacher, out=store, concurrency=4, max_steps=4
    )
)
print(f"teacher solved {summary.correct}/{summary.done}")
kept, stats = filter_records(TrajectoryStore(store))
print(dict(stats))
export_dataset(kept, f"{args.out}/export")
result = distill(DistillConfig(data=f"{args.out}/export", student=args.student, out=f"{args.out}/student", epochs=3))
print(f"trained at {result.tokens_per_second:.0f} tokens/s, loss {result.first_loss:.2f} -> {result.last_loss:.2f}")
runs = [
    evaluate(EvalConfig(suite="math", n=4, model=model, out=f"{args.out}/eval-{name}", label=name))
    for name, model in (("prompted", args.student), ("distilled", f"hf:{result.model_dir}"))
]
print(markdown_table(runs))
