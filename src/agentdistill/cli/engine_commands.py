"""`agentdistill engine`: build the llama.cpp engine, and run, inspect or stop a long-lived server per model."""

from __future__ import annotations

import time

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from agentdistill.cli.common import _fail, console

engine_app = typer.Typer(help="The managed llama.cpp engine (llama-server): build it, serve, status, stop.",
                         no_args_is_help=True)


def _server(model: str, parallel: int):
    from agentdistill.llm import ModelNotAvailable, UnknownModel, registry
    from agentdistill.llm.engine import EngineServer

    try:
        gguf = model if model.endswith(".gguf") else registry.gguf_path(model)
    except (ModelNotAvailable, UnknownModel) as error:
        _fail(str(error))
    return EngineServer(gguf, parallel=parallel)


@engine_app.command("build")
def engine_build() -> None:
    """Compile llama-server from the llama-cpp-python PyPI source distribution (once; ~9 min on 2 cores)."""
    from agentdistill.llm import engine

    if engine.is_built():
        console.print(f"engine: already built at {engine.server_binary()}")
        return
    with Progress(TextColumn("[bold]building llama-server[/]"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
                  TimeElapsedColumn(), console=console) as progress:
        task = progress.add_task("", total=100)
        try:
            path = engine.build(progress=lambda percent, line: progress.update(task, completed=percent))
        except engine.EngineError as error:
            _fail(str(error))
    console.print(f"engine: built {path}")


@engine_app.command("serve")
def engine_serve(
    model: str = typer.Argument(..., help="Embedded model name or a .gguf path."),
    parallel: int = typer.Option(4, min=1, max=64, help="Parallel slots (concurrent requests)."),
) -> None:
    """Start (or join) the server for MODEL and keep it until Ctrl-C; prints its OpenAI-compatible URL."""
    from agentdistill.llm.engine import EngineError

    server = _server(model, parallel)
    try:
        server.acquire()
    except EngineError as error:
        _fail(str(error))
    console.print(f"{model}: {server.base_url}  (use --model openai:{model}@{server.base_url}; log {server.log_path})")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        server.release()


@engine_app.command("status")
def engine_status(model: str = typer.Argument(...), parallel: int = typer.Option(4, min=1, max=64)) -> None:
    """Whether a server for MODEL runs, on which port, with how many users."""
    status = _server(model, parallel).status()
    console.print(f"{model}: not running" if status is None else
                  f"{model}: port {status['port']}, pid {status['pid']}, {status['users']} user(s), "
                  f"{'healthy' if status['healthy'] else 'not answering'}; log {status['log']}")


@engine_app.command("stop")
def engine_stop(model: str = typer.Argument(...), parallel: int = typer.Option(4, min=1, max=64)) -> None:
    """Stop the server for MODEL, whoever uses it."""
    console.print(f"{model}: {'stopped' if _server(model, parallel).stop() else 'was not running'}")
