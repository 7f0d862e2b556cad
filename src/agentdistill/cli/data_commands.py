"""Commands around trajectory data: collect, filter, export."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import typer
from rich.table import Table

from agentdistill.cli.common import app, console, episode_progress, quiet_libraries
from agentdistill.cli.config_options import config_command
from agentdistill.pipeline.collect_config import CollectConfig


def collect(config: CollectConfig) -> None:
    """Run a teacher agent over a suite and store scored trajectories (resumable: rerun to continue)."""
    from agentdistill.pipeline.collect import Collector

    quiet_libraries()
    with Collector(config) as collector, episode_progress("collect", config.out) as (on_total, on_record):
        summary = collector.run(on_record=on_record, total=on_total)
    table = Table("episodes", "accuracy", "mean steps", "tokens", "exec errors", "episodes/min")
    table.add_row(
        str(summary.done),
        f"{summary.accuracy:.1%}",
        f"{summary.steps / max(summary.done, 1):.2f}",
        str(summary.completion_tokens),
        str(summary.errors),
        f"{summary.episodes_per_minute:.2f}",
    )
    console.print(table)
    if config.samples > 1:
        _print_yield(config)


def _print_yield(config: CollectConfig) -> None:
    """Best-of-k yield of the whole store: what the first k samples of each task gave."""
    from agentdistill.pipeline.yields import yield_table
    from agentdistill.trajectories import TrajectoryStore

    records = list(TrajectoryStore(config.out))
    table = Table("k", "episodes", "tasks with a correct one", "distinct correct", "per task", title="yield")
    for y in yield_table(records, [1, 2, 4, 8, config.samples]):
        table.add_row(str(y.k), str(y.episodes), f"{y.solved}/{y.tasks}", str(y.distinct_correct), f"{y.per_task:.2f}")
    console.print(table)


config_command(app, CollectConfig, collect)


@app.command("filter")
def filter_cmd(
    store: Path = typer.Argument(..., exists=True, dir_okay=False, help="Trajectory store from `collect`."),
    out: Path = typer.Option(..., "--out", "-o", help="Where to write the kept records (JSONL; replaced)."),
    keep_incorrect: bool = typer.Option(False, help="Keep wrong answers too."),
    keep_max_steps: bool = typer.Option(False, help="Keep episodes that ran out of steps."),
    keep_parse_failures: bool = typer.Option(False, help="Keep episodes with unparseable steps."),
    dedupe: bool = typer.Option(
        True, "--dedupe/--no-dedupe", help="Drop repeats of a task that ran the same code to the same answer."
    ),
    max_per_task: int | None = typer.Option(
        None, min=1, help="Keep at most this many trajectories per task (best-of-k collection keeps several)."
    ),
) -> None:
    """Keep the trajectories worth training on and print what was dropped and why."""
    from agentdistill.trajectories.filters import FilterConfig, filter_store

    stats = filter_store(
        store,
        out,
        FilterConfig(
            correct_only=not keep_incorrect,
            drop_max_steps=not keep_max_steps,
            drop_parse_failures=not keep_parse_failures,
            dedupe=dedupe,
            max_per_task=max_per_task,
        ),
    )
    table = Table("outcome", "records")
    for key, value in stats.items():
        table.add_row(key, str(value))
    console.print(table)


@app.command()
def export(
    store: Path = typer.Argument(..., exists=True, dir_okay=False, help="Trajectory store (usually filtered)."),
    out: Path = typer.Option(..., "--out", "-o", help="Output folder: train.jsonl and a `datasets` copy."),
    system: Literal["short", "keep"] = typer.Option("short", help="short: the student prompt; keep: the teacher's."),
    max_per_task: int | None = typer.Option(
        None, min=1, help="Export at most this many trajectories per task (in the store's order)."
    ),
) -> None:
    """Export trajectories as a conversational dataset (`messages`) for TRL."""
    from agentdistill.trajectories import TrajectoryStore
    from agentdistill.trajectories.export import export_dataset
    from agentdistill.trajectories.filters import FilterConfig, filter_records

    quiet_libraries()
    records = list(TrajectoryStore(store))
    if max_per_task is not None:
        cap = FilterConfig(
            correct_only=False, drop_parse_failures=False, drop_max_steps=False, dedupe=False, max_per_task=max_per_task
        )
        records, _ = filter_records(records, cap)
    dataset = export_dataset(records, out, system)
    console.print(f"exported {len(dataset)} conversations to {out}")
