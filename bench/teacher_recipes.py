"""Teacher collection recipes, compared on the same tasks: greedy, best-of-k sampling, self-consistent actions,
a first-thought prefix (issue 17). Resumable: rerun to continue where it stopped.

    python bench/teacher_recipes.py experiments/teacher-recipes.yaml [--only gsm_symbolic] [--report-only]

Writes results/<name>/ (episodes per cell, summary.json, report.md); the README includes report.md.
"""

from __future__ import annotations

import argparse
import signal

from rich.console import Console

from agentdistill.llm import AgentChatModel, load_chat_model
from agentdistill.pipeline.study import StudyConfig, run_study, summarize_cell, write_report

console = Console()


def done(summary) -> None:
    console.print(f"{summary.cell.name}: {summary.episodes} episodes, {summary.wall_seconds / 60:.1f} wall min")


def progress(record, collect_summary) -> None:
    if collect_summary.done % 10 == 0:
        console.print(f"  {record.suite} {collect_summary.done} episodes, {collect_summary.correct} correct")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("config", help="The study's YAML file.")
    parser.add_argument("--only", help="Run only the cells of this suite.")
    parser.add_argument("--report-only", action="store_true", help="Rewrite the report from what is stored.")
    args = parser.parse_args()
    study = StudyConfig.load(args.config)
    # a `kill` stops it like Ctrl-C does, so the interrupted run's wall time is still written down
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    only = (lambda c: c.suite == args.only) if args.only else (lambda c: True)
    if args.report_only:
        write_report(study)
    loaded: dict[str, AgentChatModel] = {}  # kept across cells: a new server would prefill its prompts again
    try:
        while not args.report_only:
            # the file is read again before each cell, so cells can be added or reordered while a study runs
            study = StudyConfig.load(args.config)
            todo = [c for c in study.cells if only(c) and not summarize_cell(study, c).complete]
            if not todo:
                break
            cell = todo[0]
            console.print(f"[bold]{cell.name}[/]: {len(todo)} cells left")
            spec = study.collect_config(cell).teacher
            model = loaded[spec] if spec in loaded else loaded.setdefault(spec, load_chat_model(spec))
            before = summarize_cell(study, cell).episodes
            run_study(study, model=model, only=lambda c, cell=cell: c == cell, on_cell=done, on_record=progress)
            if summarize_cell(study, cell).episodes == before:
                raise SystemExit(f"{cell.name} made no progress; stopping (see the log above)")
    finally:
        for model in loaded.values():
            model.close()
    print((study.folder / "report.md").read_text(encoding="utf-8"))


if __name__ == "__main__":
    main()
