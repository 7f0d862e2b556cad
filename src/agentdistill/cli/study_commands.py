"""`study`: collection recipes compared on the same tasks, from a study file (see `pipeline/study.py`)."""

from __future__ import annotations

from pathlib import Path

import typer

from agentdistill.cli.common import console, quiet_libraries

study_app = typer.Typer(
    help="Compare teacher recipes (greedy, best-of-k, SAG, prefixes, prompts) on the same tasks, resumably.",
    no_args_is_help=True,
)


@study_app.command("run")
def run(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help="The study's YAML file."),
    suite: str | None = typer.Option(None, help="Run only the cells of this suite."),
) -> None:
    """Run every cell not yet complete, in the file's order; rerun to continue.

    The file is read again before each cell. Episodes, wall times, summary.json and report.md go to results/NAME/.
    """
    from agentdistill.pipeline.study import StudyConfig, run_study_file

    study = StudyConfig.from_file(file)  # a broken file fails here, before any model loads
    quiet_libraries()

    def started(cell, left: int) -> None:
        console.print(f"[bold]{cell.name}[/] ({cell.n} tasks; {left} cells left)")

    def finished(summary) -> None:
        console.print(f"  {summary.episodes} episodes, {summary.wall_seconds / 60:.1f} wall minutes in all")

    def progress(record, collect_summary) -> None:
        if collect_summary.done % 10 == 0:
            console.print(f"  {collect_summary.done} episodes, {collect_summary.correct} correct")

    run_study_file(
        file,
        only=(lambda c: c.suite == suite) if suite else (lambda c: True),
        on_cell_start=started,
        on_cell=finished,
        on_record=progress,
    )
    print((study.folder / "report.md").read_text(encoding="utf-8"))


@study_app.command("report")
def report(file: Path = typer.Argument(..., exists=True, dir_okay=False, help="The study's YAML file.")) -> None:
    """Rewrite summary.json and report.md from what is stored, and print the report."""
    from agentdistill.pipeline.study import StudyConfig, write_report

    study = StudyConfig.from_file(file)
    write_report(study)
    print((study.folder / "report.md").read_text(encoding="utf-8"))
