"""`experiment`: teacher runs -> distilled students -> evaluated rows -> report, from one file, resumably."""

from __future__ import annotations

from pathlib import Path

import typer

from agentdistill.cli.common import console, quiet_libraries

experiment_app = typer.Typer(
    help="The paper's comparison from one config file (see pipeline/experiment_config.py), resumably.",
    no_args_is_help=True,
)


@experiment_app.command("run")
def run(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help="The experiment's YAML file."),
    stage: list[str] = typer.Option(
        [], help="Run only these stages (collect, train, evaluate, report); repeatable. Default: all, in order."
    ),
    row: list[str] = typer.Option(
        [],
        help="Evaluate only these rows (by name); repeatable. Default: every row, in the file's order. A row whose "
        "student must train first, on a machine that lacks it, can wait while rows without one run.",
    ),
    backend: str | None = typer.Option(
        None,
        help="Where every local model runs, over the file's `backend`: auto, engine, transformers, or vllm "
        "(a GPU machine: the teacher, the student and each distilled one served by vLLM).",
    ),
) -> None:
    """Run every stage, skipping what is done (rerun to continue); results go to results/NAME/."""
    from agentdistill.pipeline.experiment import STAGES, run_experiment
    from agentdistill.pipeline.experiment_config import ExperimentConfig

    overrides = {"backend": backend} if backend else {}
    config = ExperimentConfig.from_file(file, **overrides)  # a broken file fails here, before any model loads
    if unknown := set(stage) - set(STAGES):
        raise typer.BadParameter(f"unknown stages {sorted(unknown)}; choose from {', '.join(STAGES)}")
    if unknown := set(row) - {r.name for r in config.rows}:
        raise typer.BadParameter(
            f"unknown rows {sorted(unknown)}; the file's rows: {', '.join(r.name for r in config.rows)}"
        )
    quiet_libraries()

    def progress(record, summary) -> None:
        if summary.done % 10 == 0:
            console.print(f"  {summary.done} episodes, {summary.correct} correct")

    run_experiment(
        config,
        stages=[s for s in STAGES if s in stage] or STAGES,
        announce=console.print,
        progress=progress,
        rows=row or None,
    )
    if not stage or "report" in stage:
        print((config.folder / "report.md").read_text(encoding="utf-8"))


@experiment_app.command("report")
def report(file: Path = typer.Argument(..., exists=True, dir_okay=False, help="The experiment's YAML file.")) -> None:
    """Rewrite summary.json, report.md and accuracy.png from what is stored, and print the report."""
    from agentdistill.pipeline.experiment_config import ExperimentConfig
    from agentdistill.pipeline.experiment_report import write_experiment_report

    print(write_experiment_report(ExperimentConfig.from_file(file)).read_text(encoding="utf-8"))
