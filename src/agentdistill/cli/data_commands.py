"""Commands around trajectory data: collect, filter, export."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.progress import BarColumn, Progress, TextColumn
from rich.table import Table

from agentdistill.cli.common import _fail, _quiet_libraries, app, backend_option, console, dtype_option


@app.command()
def collect(
    suite: str = typer.Option("math", help="Suite name (math, facts, materials, recbot) or a task file path."),
    split: str = typer.Option("train", help="train, test or all."),
    n: Optional[int] = typer.Option(20, "-n", help="Tasks to use (all if omitted)."),
    teacher: str = typer.Option("qwen2.5-coder-1.5b", help="Teacher model spec (embedded name, hf:PATH, openai:MODEL@URL)."),
    out: Path = typer.Option(Path("runs/teacher.jsonl"), help="Trajectory store (JSONL, appended to)."),
    prefix: bool = typer.Option(False, "--prefix/--no-prefix", help="Seed each episode with a first-thought prefix."),
    prefix_style: str = typer.Option("substantive+code", help="paragraph, substantive or substantive+code."),
    samples: int = typer.Option(1, min=1, help="Trajectories per task (needs --temperature > 0 above 1)."),
    seed: int = typer.Option(0, help="Task order and sampling seed."),
    temperature: float = typer.Option(0.0, min=0.0),
    top_p: float = typer.Option(1.0, min=0.01, max=1.0),
    max_steps: int = typer.Option(5, min=1),
    max_new_tokens: int = typer.Option(320, min=16),
    concurrency: int = typer.Option(1, min=1, help="Episodes at once (batched generate for local models)."),
    resume: bool = typer.Option(True, "--resume/--no-resume", help="Skip tasks already in --out."),
    prompt_style: str = typer.Option("full", help="full (few-shot) or short system prompt."),
    sag: int = typer.Option(1, min=1, max=64, help="Self-consistent actions: N candidates per step."),
    closed_book: bool = typer.Option(False, "--closed-book", help="No tools: the model answers from memory in one reply."),
    catalog: str = typer.Option("default", help="recbot: default, movielens:PATH, csv:PATH or jsonl:PATH."),
    max_turns: int = typer.Option(5, min=1, help="recbot: commands per simulated session."),
    dtype: str = dtype_option(),
    backend: str = backend_option(),
) -> None:
    """Run a teacher agent over a suite and store scored trajectories (maps onto CollectConfig)."""
    from rich.progress import MofNCompleteColumn, TimeElapsedColumn

    from agentdistill.llm import ModelNotAvailable, UnknownModel
    from agentdistill.trajectories.collect import Collector
    from agentdistill.trajectories.collect_config import CollectConfig

    _quiet_libraries()
    if suite == "recbot":  # the teacher's parser/planner outputs on simulated train sessions; -n counts sessions
        from agentdistill.cli.recbot_commands import recbot_collect
        from agentdistill.recsys.catalog import CatalogError
        from agentdistill.recsys.evaluate import RecbotConfig

        try:
            recbot_collect(RecbotConfig(catalog=catalog, parser_model=teacher, sessions=n or 20, max_turns=max_turns,
                                        split=split if split != "all" else "train", seed=seed, out=str(out),
                                        dtype=dtype, backend=backend))
        except (ValueError, CatalogError, ModelNotAvailable, UnknownModel) as error:
            _fail(str(error))
        return
    try:
        config = CollectConfig(suite=suite, split=split, n=n, teacher=teacher, out=str(out), prefix=prefix,
                               prefix_style=prefix_style, samples=samples, seed=seed, temperature=temperature,
                               top_p=top_p, max_steps=max_steps, max_new_tokens=max_new_tokens,
                               concurrency=concurrency, resume=resume, prompt_style=prompt_style, sag=sag,
                               closed_book=closed_book, dtype=dtype, backend=backend)
        collector = Collector(config)
    except (ValueError, KeyError, OSError, ModelNotAvailable, UnknownModel) as error:
        _fail(str(error).strip("'\""))
    columns = [TextColumn("[bold]collect[/]"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.description}"),
               TimeElapsedColumn()]
    with Progress(*columns, console=console) as progress:
        bar = progress.add_task("", total=None)

        def on_total(todo: int, skipped: int) -> None:
            progress.update(bar, total=todo)
            if skipped:
                progress.console.print(f"resuming: {skipped} episodes already in {out}")

        def on_record(record, summary) -> None:
            progress.update(bar, advance=1, description=f"solved {summary.correct}/{summary.done} "
                            f"({summary.accuracy:.0%})")

        try:
            summary = collector.run(on_record=on_record, total=on_total)
        except FileExistsError as error:
            _fail(str(error))
    table = Table("episodes", "accuracy", "mean steps", "tokens", "exec errors", "episodes/min")
    table.add_row(str(summary.done), f"{summary.accuracy:.1%}", f"{summary.steps / max(summary.done, 1):.2f}",
                  str(summary.completion_tokens), str(summary.errors), f"{summary.episodes_per_minute:.2f}")
    console.print(table)


@app.command("filter")
def filter_cmd(
    store: Path = typer.Argument(..., exists=True, dir_okay=False, help="Trajectory store from `collect`."),
    out: Path = typer.Option(..., "--out", "-o", help="Where to write the kept records (JSONL)."),
    keep_incorrect: bool = typer.Option(False, help="Keep wrong answers too."),
    keep_max_steps: bool = typer.Option(False, help="Keep episodes that ran out of steps."),
    keep_parse_failures: bool = typer.Option(False, help="Keep episodes with unparseable steps."),
    dedupe: bool = typer.Option(True, "--dedupe/--no-dedupe", help="Drop repeats of a task with the same assistant turns."),
) -> None:
    """Keep the trajectories worth training on and print what was dropped and why."""
    from agentdistill.trajectories import TrajectoryStore
    from agentdistill.trajectories.filters import FilterConfig, filter_records

    config = FilterConfig(correct_only=not keep_incorrect, drop_max_steps=not keep_max_steps,
                          drop_parse_failures=not keep_parse_failures, dedupe=dedupe)
    try:
        kept, stats = filter_records(TrajectoryStore(store), config)
    except ValueError as error:
        _fail(str(error))
    if out.exists():
        out.unlink()
    target = TrajectoryStore(out)
    for record in kept:
        target.append(record)
    table = Table("outcome", "records")
    for key, value in stats.items():
        table.add_row(key, str(value))
    console.print(table)


@app.command()
def export(
    store: Path = typer.Argument(..., exists=True, dir_okay=False, help="Trajectory store (usually filtered)."),
    out: Path = typer.Option(..., "--out", "-o", help="Output folder: train.jsonl and a `datasets` copy."),
    system: str = typer.Option("short", help="short: the student prompt; keep: the teacher's prompt."),
) -> None:
    """Export trajectories as a conversational dataset (`messages`) for TRL."""
    from agentdistill.trajectories import TrajectoryStore
    from agentdistill.trajectories.export import export_dataset

    if system not in ("short", "keep"):
        raise typer.BadParameter("must be short or keep", param_hint="--system")
    _quiet_libraries()
    try:
        dataset = export_dataset(TrajectoryStore(store), out, system)  # type: ignore[arg-type]
    except ValueError as error:
        _fail(str(error))
    console.print(f"exported {len(dataset)} conversations to {out}")


