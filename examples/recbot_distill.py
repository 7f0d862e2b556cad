"""Simulation-augmented distillation of the feed's parser/planner, end to end with the Python API:

teacher on simulated train sessions -> keep the turns it got right (each labelled by its own effect) -> distill
the student (LoRA) -> evaluate the prompted student, the distilled student without and with constrained
decoding, and the teacher on the same simulated test sessions.

    python examples/recbot_distill.py --catalog default --train-sessions 100 --test-sessions 50 \
        --paraphrase-model qwen2.5-coder-1.5b --out runs/recbot-fashion --results results/recbot-fashion

Every stage resumes: rerun the same command to continue. The teacher's records, the export and the student live
under --out; each evaluated row's sessions.jsonl and summary.json, and report.md, under --results (small enough
to commit; the README's RecBot table is that report.md).
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--teacher", default="qwen2.5-coder-1.5b")
    parser.add_argument("--student", default="qwen2.5-coder-0.5b")
    parser.add_argument("--catalog", default="default")
    parser.add_argument("--train-sessions", type=int, default=8)
    parser.add_argument("--test-sessions", type=int, default=5)
    parser.add_argument("--max-turns", type=int, default=5)
    parser.add_argument("--epochs", type=float, default=2.0)
    parser.add_argument("--paraphrase-model", default=None, help="Paraphrases half the sessions' commands.")
    parser.add_argument("--out", default="runs/recbot", help="Teacher records, export and student.")
    parser.add_argument("--results", default=None, help="Evaluations and report.md (default: OUT/results).")
    parser.add_argument("--only", choices=["collect", "distill"], help="Stop after this stage.")
    args = parser.parse_args()
    out = Path(args.out)
    results = Path(args.results) if args.results else out / "results"

    teacher_store = out / "teacher.jsonl"
    print(f"> teacher collects {args.train_sessions} simulated train sessions")
    collect_recbot(
        RecbotConfig(
            catalog=args.catalog,
            parser_model=args.teacher,
            sessions=args.train_sessions,
            max_turns=args.max_turns,
            split="train",
            out=str(teacher_store),
            paraphrase_model=args.paraphrase_model,
            paraphrase_share=0.5,
        ),
        on_session=lambda log: print(f"  {log.id}: passed {log.passed}, Recall@10 {log.recall:.2f}", flush=True),
    )
    if args.only == "collect":
        return
    kept, stats = filter_records(TrajectoryStore(teacher_store), FilterConfig())
    print(f"> filter: {dict(stats)}")
    export_dataset(kept, out / "export")
    student_dir = out / "student"
    if not (student_dir / "model" / STUDENT_MARKER).exists():
        print(f"> distill {len(kept)} parser/planner turns into {args.student}")
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
    for label, model, constrained in runs:
        print(f"> evaluate {label} on {args.test_sessions} simulated test sessions")
        summaries.append(
            evaluate_recbot(
                RecbotConfig(
                    catalog=args.catalog,
                    parser_model=model,
                    sessions=args.test_sessions,
                    max_turns=args.max_turns,
                    out=str(results / label.replace(" ", "-").replace(",", "")),
                    label=label,
                    constrained=constrained,
                    paraphrase_model=args.paraphrase_model,
                    paraphrase_share=0.5,
                )
            )
        )
    write_report(summaries, results / "report")
    print(markdown_table(summaries))


if __name__ == "__main__":
    main()
