"""Simulation-augmented distillation of the feed's parser/planner, end to end with the Python API:

teacher on simulated train sessions -> keep the turns it got right (each labelled by its own effect) -> distill
the student (LoRA) -> evaluate the prompted student, the distilled student without and with constrained
decoding, and the teacher on the same simulated test sessions.

    python examples/recbot_distill.py --catalog default --catalog movielens:../shared/data/movielens-100k \
        --train-sessions 100 --test-sessions 50 --paraphrase-model qwen2.5-coder-1.5b \
        --out runs/recbot --results results/recbot

Every stage resumes: rerun the same command to continue. The teacher's records, the export and the student
live under --out (one student learns every catalogue, as one model serves them); each evaluated row's
sessions.jsonl and summary.json, and report.md, under --results (small enough to commit; the README's RecBot
table is that report.md).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from agentdistill.distill.distill_config import STUDENT_MARKER, DistillConfig
from agentdistill.distill.trainer import distill
from agentdistill.pipeline.recbot import RecbotConfig, collect_recbot, evaluate_recbot
from agentdistill.pipeline.report import markdown_table, write_report
from agentdistill.trajectories.export import export_dataset
from agentdistill.trajectories.filters import FilterConfig, filter_records
from agentdistill.trajectories.store import TrajectoryStore


def slug(catalog: str) -> str:
    """A folder name for a catalogue spec: `default`, `movielens-100k`..."""
    return Path(catalog.split(":", 1)[-1]).name


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--teacher", default="qwen2.5-coder-1.5b")
    parser.add_argument("--student", default="qwen2.5-coder-0.5b")
    parser.add_argument(
        "--catalog", action="append", help="Catalogue spec (repeat for several; one student learns them all)."
    )
    parser.add_argument("--train-sessions", type=int, default=8, help="Per catalogue.")
    parser.add_argument("--test-sessions", type=int, default=5, help="Per catalogue.")
    parser.add_argument("--max-turns", type=int, default=5)
    parser.add_argument("--epochs", type=float, default=2.0)
    parser.add_argument("--paraphrase-model", default=None, help="Paraphrases half the sessions' commands.")
    parser.add_argument("--out", default="runs/recbot", help="Teacher records, export and student.")
    parser.add_argument("--results", default=None, help="Evaluations and report.md (default: OUT/results).")
    parser.add_argument("--only", choices=["collect", "distill"], help="Stop after this stage.")
    args = parser.parse_args()
    catalogs = args.catalog or ["default"]
    out = Path(args.out)
    results = Path(args.results) if args.results else out / "results"
    common = {"max_turns": args.max_turns, "paraphrase_model": args.paraphrase_model, "paraphrase_share": 0.5}

    stores = []
    for catalog in catalogs:
        stores.append(out / f"teacher-{slug(catalog)}.jsonl")
        print(f"> teacher collects {args.train_sessions} simulated train sessions of {catalog}", flush=True)
        collect_recbot(
            RecbotConfig(
                catalog=catalog,
                parser_model=args.teacher,
                sessions=args.train_sessions,
                split="train",
                out=str(stores[-1]),
                **common,
            ),
            on_session=lambda log: print(f"  {log.id}: passed {log.passed}, Recall@10 {log.recall:.2f}", flush=True),
        )
    if args.only == "collect":
        return
    kept = []
    for store in stores:
        records, stats = filter_records(TrajectoryStore(store), FilterConfig())
        print(f"> filter {store.name}: {dict(stats)}")
        kept += records
    export_dataset(kept, out / "export")
    student_dir = out / "student"
    if not (student_dir / "model" / STUDENT_MARKER).exists():
        print(f"> distill {len(kept)} parser/planner turns into {args.student}", flush=True)
        distill(DistillConfig(data=str(out / "export"), student=args.student, out=str(student_dir), epochs=args.epochs))
    if args.only == "distill":
        return
    runs = [  # (label, parser/planner model, constrained decoding)
        ("student prompted", args.student, True),
        ("student distilled, unconstrained", f"hf:{student_dir / 'model'}", False),
        ("student distilled", f"hf:{student_dir / 'model'}", True),
        ("teacher", args.teacher, True),
    ]
    summaries = []
    for catalog in catalogs:
        for label, model, constrained in runs:
            print(f"> evaluate {label} on {args.test_sessions} simulated test sessions of {catalog}", flush=True)
            folder = results / slug(catalog) / label.replace(" ", "-").replace(",", "")
            summaries.append(
                evaluate_recbot(
                    RecbotConfig(
                        catalog=catalog,
                        parser_model=model,
                        sessions=args.test_sessions,
                        out=str(folder),
                        label=label,
                        constrained=constrained,
                        **common,
                    )
                )
            )
    write_report(summaries, results / "report")
    print(markdown_table(summaries))


if __name__ == "__main__":
    main()
