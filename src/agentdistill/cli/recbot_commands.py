"""The interactive recommendation feed on the command line: `serve`, and `recbot eval|collect` (simulated
sessions with a parser/planner pair; `--sessions`/`-n` counts sessions)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import typer
from rich.table import Table

from agentdistill.cli.common import app, console, counted_progress, quiet_libraries
from agentdistill.cli.config_options import config_command
from agentdistill.pipeline.recbot import RecbotCollectConfig, RecbotConfig
from agentdistill.server.app import ServerConfig

recbot_app = typer.Typer(
    help="Simulated sessions of the recommendation feed: evaluate a parser/planner pair, "
    "collect a teacher's outputs for distillation.",
    no_args_is_help=True,
)


@contextmanager
def _session_progress(name: str, total: int) -> Iterator:
    """A progress bar over simulated sessions; yields (on_session callback, [passed, done] counts)."""
    counts = [0, 0]
    with counted_progress(name) as progress:
        bar = progress.add_task("", total=total)

        def on_session(log) -> None:
            counts[0] += log.passed
            counts[1] += 1
            progress.update(bar, advance=1, description=f"passed {counts[0]}/{counts[1]}")

        yield on_session, counts


def recbot_eval(config: RecbotConfig) -> None:
    """Evaluate a parser/planner pair on simulated test sessions: Recall@10, NDCG@10, pass rate, latency
    (resumable: rerun to continue)."""
    from agentdistill.pipeline.recbot import RECBOT_COLUMNS, evaluate_recbot

    quiet_libraries()
    with _session_progress("recbot eval", config.sessions) as (on_session, _):
        summary = evaluate_recbot(config, on_session=on_session)
    table = Table(*RECBOT_COLUMNS)
    table.add_row(*summary.row())
    console.print(table)
    console.print(f"[dim]{config.out}/summary.json, {config.out}/sessions.jsonl[/]")


def recbot_collect(config: RecbotCollectConfig) -> None:
    """Store a teacher's parser/planner conversations on simulated train sessions as training records
    (resumable: rerun to continue)."""
    from agentdistill.pipeline.recbot import collect_recbot

    quiet_libraries()
    with _session_progress("recbot collect", config.sessions) as (on_session, counts):
        added = collect_recbot(config, on_session=on_session)
    console.print(f"{added} new sessions ({counts[0]} passed) -> {config.out}")


def serve(config: ServerConfig) -> None:
    """Serve the interactive recommendation feed: a web page with the feed, a chat box for commands, and the
    parsed preferences and tool chain of each turn."""
    from agentdistill.server.app import create_app
    from agentdistill.server.app import serve as serve_app

    quiet_libraries()
    with console.status("loading the catalogue, the item embeddings and the models…"):
        api = create_app(config)
    console.print(f"feed on [bold]http://{config.host}:{config.port}/[/] (Ctrl-C stops)")
    serve_app(api, config)


config_command(recbot_app, RecbotConfig, recbot_eval, name="eval")
config_command(recbot_app, RecbotCollectConfig, recbot_collect, name="collect")
config_command(app, ServerConfig, serve)
