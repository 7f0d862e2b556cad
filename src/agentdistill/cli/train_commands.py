"""Commands that train and measure: distill, eval, report, quickstart."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from agentdistill.cli.common import app, console, episode_progress, quiet_libraries
from agentdistill.cli.config_options import config_command
from agentdistill.distill.distill_config import DistillConfig
from agentdistill.pipeline.eval_config import EvalConfig
from agentdistill.pipeline.quickstart import QuickstartConfig


def distill(config: DistillConfig) -> None:
    """Fine-tune a student on teacher trajectories with TRL (loss on the agent's own turns only)."""
    from agentdistill.distill.trainer import distill as run_distill

    quiet_libraries()
    result = run_distill(config)
    console.print(f"precision: {result.precision} ({result.precision.reason})")
    console.print(
        f"trained on {result.examples} conversations ({result.loss_tokens} loss tokens) in "
        f"{result.seconds:.0f} s = {result.tokens_per_second:.0f} tokens/s; loss "
        f"{result.first_loss:.3f} -> {result.last_loss:.3f}"
    )
    served = f"; served by the engine from {result.gguf.name}" if result.gguf else ""
    console.print(f"student: {result.model_dir}  (use --model hf:{result.model_dir}{served})")


def eval_cmd(config: EvalConfig) -> None:
    """Evaluate a model as an agent on held-out tasks: per-task records and a summary (with MAE on the
    regression-style tasks of the materials suite). Resumable: rerun to continue."""
    from agentdistill.pipeline import evaluate
    from agentdistill.pipeline.evaluate import SUMMARY_COLUMNS

    quiet_libraries()
    with episode_progress("eval", config.out) as (on_total, on_record):
        summary = evaluate(config, on_record=on_record, total=on_total)
    table = Table(*SUMMARY_COLUMNS)
    table.add_row(*summary.row())
    console.print(table)
    console.print(f"[dim]{config.out}/summary.json, {config.out}/episodes.jsonl[/]")


@app.command()
def report(
    runs: list[Path] = typer.Argument(..., help="Output folders of eval or recbot eval (e.g. runs/eval-*)."),
    out: Path = typer.Option(Path("runs/report"), help="Writes OUT.md (tables) and OUT.png (accuracy chart)."),
) -> None:
    """Compare runs: markdown tables (eval and recbot runs) and an accuracy bar chart of the eval runs."""
    from agentdistill.pipeline.report import load_any_summary, markdown_table, write_report

    summaries = [load_any_summary(folder) for folder in runs]
    md, png = write_report(summaries, out)
    console.print(markdown_table(summaries), markup=False)
    console.print(f"[dim]{md}{f', {png}' if png else ''}[/]")


def quickstart(config: QuickstartConfig) -> None:
    """The whole pipeline, offline on CPU: teacher trajectories -> filter -> distill -> evaluate -> report.
    Resumable: rerun to continue where it stopped."""
    from agentdistill.pipeline.quickstart import run_quickstart

    quiet_libraries()
    columns = [
        TextColumn("[bold]{task.fields[stage]}[/]"),
        BarColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
    ]
    with Progress(*columns, console=console) as progress:
        bar = progress.add_task("", total=None, stage="starting")

        def stage(name: str) -> None:
            progress.console.print(f"[bold cyan]>[/] {name}")
            progress.update(bar, stage=name.split(" ")[0], description="", completed=0)

        def on_record(record, summary) -> None:
            progress.update(bar, advance=1, description=f"episode {summary.done}: solved {summary.correct}")

        result = run_quickstart(config, stage=stage, progress=on_record)
    stats = ", ".join(f"{k} {v}" for k, v in result.filter_stats.items())
    console.print(f"filter: {stats}")
    if result.train_tokens_per_second:
        console.print(
            f"distillation: {result.train_examples} conversations, "
            f"{result.train_tokens_per_second:.0f} training tokens/s"
        )
    if result.train_precision:
        console.print(f"student trained in {result.train_precision}")
    console.print(result.table(), markup=False)
    console.print(f"[dim]{result.report_md}, {result.report_png}[/]")


config_command(app, DistillConfig, distill)
config_command(app, EvalConfig, eval_cmd, name="eval")
config_command(app, QuickstartConfig, quickstart)
