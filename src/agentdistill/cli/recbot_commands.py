"""The interactive recommendation feed on the command line: `serve`, and the recbot branches of `eval` and
`collect` (simulated sessions instead of tasks)."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Optional

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from agentdistill.cli.common import _fail, _quiet_libraries, app, backend_option, console, dtype_option


@contextmanager
def _session_progress(name: str, total: int):
    """A progress bar over simulated sessions; yields (on_session callback, [passed, done] counts)."""
    counts = [0, 0]
    with Progress(TextColumn(f"[bold]{name}[/]"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.description}"),
                  TimeElapsedColumn(), console=console) as progress:
        bar = progress.add_task("", total=total)

        def on_session(log) -> None:
            counts[0] += log.passed
            counts[1] += 1
            progress.update(bar, advance=1, description=f"passed {counts[0]}/{counts[1]}")

        yield on_session, counts


def recbot_eval(config) -> None:
    """`eval --suite recbot`: simulated sessions, Recall@10 / NDCG@10 / pass rate / latency."""
    from agentdistill.recsys.evaluate import RECBOT_COLUMNS, evaluate_recbot

    with _session_progress("recbot eval", config.sessions) as (on_session, _):
        summary = evaluate_recbot(config, on_session=on_session)
    table = Table(*RECBOT_COLUMNS)
    table.add_row(*summary.row())
    console.print(table)
    console.print(f"[dim]{config.out}/summary.json, {config.out}/sessions.jsonl[/]")


def recbot_collect(config) -> None:
    """`collect --suite recbot`: the teacher's parser/planner conversations on simulated train sessions."""
    from agentdistill.recsys.evaluate import collect_recbot

    with _session_progress("recbot collect", config.sessions) as (on_session, counts):
        added = collect_recbot(config, on_session=on_session)
    console.print(f"{added} new sessions ({counts[0]} passed) -> {config.out}")


@app.command()
def serve(
    catalog: str = typer.Option("default", help="default (embedded fashion), movielens:PATH, csv:PATH or jsonl:PATH."),
    parser_model: str = typer.Option("qwen2.5-coder-0.5b", help="Model of the parser agent."),
    planner_model: Optional[str] = typer.Option(None, help="Model of the planner agent (default: the parser's)."),
    host: str = typer.Option("127.0.0.1", help="Interface to listen on (0.0.0.0 for every interface)."),
    port: int = typer.Option(8000, min=1, max=65535),
    max_sessions: int = typer.Option(200, min=1, help="Most live sessions; the least recently used is dropped."),
    dtype: str = dtype_option(),
    backend: str = backend_option(),
) -> None:
    """Serve the interactive recommendation feed: a web page with the feed, a chat box for commands, and the
    parsed preferences and tool chain of each turn."""
    from agentdistill.llm import ModelNotAvailable, UnknownModel
    from agentdistill.recsys.catalog import CatalogError
    from agentdistill.server.app import ServerConfig, create_app, serve as serve_app

    _quiet_libraries()
    config = ServerConfig(catalog=catalog, parser_model=parser_model, planner_model=planner_model,
                          max_sessions=max_sessions, dtype=dtype, backend=backend)
    try:
        with console.status("loading the catalogue, the item embeddings and the models…"):
            api = create_app(config)
    except (CatalogError, ModelNotAvailable, UnknownModel, ValueError) as error:
        _fail(str(error))
    console.print(f"feed on [bold]http://{host}:{port}/[/] (Ctrl-C stops)")
    serve_app(api, config, host, port)
