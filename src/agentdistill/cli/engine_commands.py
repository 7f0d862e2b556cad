"""`agentdistill engine`: build the llama.cpp engine, and run, inspect or stop a long-lived server per model."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Literal

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from agentdistill.cli.common import console

if TYPE_CHECKING:
    from agentdistill.llm.engine import EngineServer

engine_app = typer.Typer(
    help="The managed llama.cpp engine (llama-server): build it, serve, status, stop.", no_args_is_help=True
)


def _server(model: str, parallel: int, engine: str = "llama.cpp", extra: str = "") -> EngineServer:
    """The server for MODEL: its GGUF file for llama.cpp (a student folder is converted once), its folder for vLLM."""
    import shlex

    from agentdistill.llm import engine_gguf, local_model_path
    from agentdistill.llm.engine import EngineServer

    path = engine_gguf(model, convert=True) if engine == "llama.cpp" else local_model_path(model)
    assert path is not None, "engine_gguf converts a folder without a GGUF file"
    return EngineServer(path, parallel=parallel, engine=engine, extra_args=tuple(shlex.split(extra)))


_MODEL = typer.Argument(..., help="Embedded model name, hf:PATH (a distilled student) or a .gguf path.")
_PARALLEL = typer.Option(
    8,
    min=1,
    max=256,
    help="Parallel slots (concurrent requests); the default is what "
    "`--backend engine` models use, so they join this server.",
)
_ENGINE = typer.Option("llama.cpp", "--engine", help="llama.cpp (built here, GGUF) or vllm (installed, GPU).")
Engine = Literal["llama.cpp", "vllm"]


@engine_app.command("build")
def engine_build() -> None:
    """Compile llama-server from the llama-cpp-python PyPI source distribution (once; ~9 min on 2 cores)."""
    from agentdistill.llm import engine

    if engine.is_built():
        console.print(f"engine: already built at {engine.server_binary()}")
        return
    with Progress(
        TextColumn("[bold]building llama-server[/]"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(),
        console=console,
    ) as progress:
        task = progress.add_task("", total=100)
        path = engine.build(progress=lambda percent, line: progress.update(task, completed=percent))
    console.print(f"engine: built {path}")


@engine_app.command("serve")
def engine_serve(
    model: str = _MODEL,
    parallel: int = _PARALLEL,
    engine: Engine = _ENGINE,
    extra: str = typer.Option("", help="More server arguments, e.g. '--tensor-parallel-size 4' for vllm."),
) -> None:
    """Start (or join) the server for MODEL and keep it until Ctrl-C; prints its OpenAI-compatible URL. Local
    runs of MODEL join it (llama.cpp); with --engine vllm, point them at the printed openai: spec."""
    server = _server(model, parallel, engine, extra)
    server.acquire()
    console.print(
        f"{model} ({engine}): {server.base_url}  (--model openai:{server.served_name}@{server.base_url}; "
        f"log {server.log_path})"
    )
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        server.release()


@engine_app.command("status")
def engine_status(model: str = _MODEL, parallel: int = _PARALLEL, engine: Engine = _ENGINE) -> None:
    """Whether a server for MODEL runs, on which port, with how many users."""
    status = _server(model, parallel, engine).status()
    console.print(
        f"{model}: not running"
        if status is None
        else f"{model}: port {status['port']}, pid {status['pid']}, {status['users']} user(s), "
        f"{'healthy' if status['healthy'] else 'not answering'}; log {status['log']}"
    )


@engine_app.command("stop")
def engine_stop(model: str = _MODEL, parallel: int = _PARALLEL, engine: Engine = _ENGINE) -> None:
    """Stop the server for MODEL, whoever uses it."""
    console.print(f"{model}: {'stopped' if _server(model, parallel, engine).stop() else 'was not running'}")
