"""FastAPI app of the interactive recommendation feed.

    GET  /                              the web page (feed cards, chat box, preferences and tool chain)
    GET  /api/health                    live sessions and queued commands
    POST /api/sessions                  a new session: its id and first (passive) feed
    GET  /api/sessions/{id}             the session's feed, preferences and its turns so far
    POST /api/sessions/{id}/commands    {"text": ...} -> a stream of JSON lines: parsing, parsed, planned, done

Sessions are isolated (each has its own memory and feed), stored in SQLite turn by turn so that a restart
loses none (`store.py`), expire by an explicit age limit, are capped per client and never dropped while a command
of theirs waits or runs (`sessions.py`). Commands go through one bounded queue to
one model thread (a local model is not thread-safe); a full queue answers 503 with Retry-After at once, and
nothing else ever waits for a model. Bodies are limited as they stream in (`limits.py`).
"""

from __future__ import annotations

import asyncio
import json
from contextlib import asynccontextmanager
from dataclasses import dataclass
from importlib.resources import files

from fastapi import APIRouter, FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, StreamingResponse
from pydantic import BaseModel, Field

from agentdistill.config import (
    CommandConfig,
)
from agentdistill.llm import AgentChatModel
from agentdistill.paths import cache_dir
from agentdistill.pipeline.recbot import FeedAgentSettings
from agentdistill.recsys.catalog import Catalog, Item, open_catalog
from agentdistill.recsys.session import FeedServices, FeedSession, TurnResult
from agentdistill.server.limits import (
    BodyLimit,
    Job,
    ModelQueue,
    QueueFull,
    header_timeout_protocol,
)
from agentdistill.server.sessions import SessionPool
from agentdistill.server.store import SessionStore


class ServerConfig(FeedAgentSettings, CommandConfig):
    """Settings of `serve` (see `agentdistill serve --help`)."""

    host: str = Field("127.0.0.1", description="Interface to listen on (0.0.0.0 for every interface).")
    port: int = Field(8000, ge=1, le=65535, description="Port to listen on.")
    sessions_db: str | None = Field(
        None, description="SQLite file the sessions live in (default: feed-sessions.sqlite in the cache folder)."
    )
    max_sessions: int = Field(
        10_000, ge=1, description="Most stored sessions; beyond, one that never ran a command goes, else 503."
    )
    max_sessions_per_client: int = Field(20, ge=1, description="Most stored sessions of one client address.")
    session_max_age_s: float = Field(
        7 * 86_400.0, gt=0, description="A session unused for this long is deleted (from memory and disk)."
    )
    max_loaded_sessions: int = Field(64, ge=1, description="Sessions kept loaded in memory (the rest stay on disk).")
    max_queued_commands: int = Field(8, ge=1, description="Beyond these, a command is answered 503 at once.")
    max_body_bytes: int = Field(16_384, ge=256, description="Largest request body.")
    body_timeout_s: float = Field(
        10.0, gt=0, description="A client that stops sending its body gets 408; one slow with its headers is closed."
    )
    shutdown_timeout_s: float = Field(
        5.0, gt=0, description="On SIGTERM queued commands are cancelled and the server is gone within this."
    )


class CommandBody(BaseModel):
    text: str = Field(min_length=1, max_length=500, description="The user's command, e.g. 'no floral, under $80'.")


def item_json(item: Item) -> dict:
    return item.model_dump(mode="json")


@dataclass
class FeedState:
    """What the routes share, kept in `app.state.feed`."""

    config: ServerConfig
    catalog: Catalog
    pool: SessionPool
    models: ModelQueue


router = APIRouter()


def create_app(
    config: ServerConfig,
    parser_model: AgentChatModel | None = None,
    planner_model: AgentChatModel | None = None,
    catalog: Catalog | None = None,
):
    """The app (an ASGI callable), with the catalogue, the feed services and the models loaded (pass models to
    share or fake them)."""
    catalog = catalog or open_catalog(config.catalog)
    services = FeedServices(catalog)
    parser, planner = config.agents(catalog, parser_model, planner_model)
    store = SessionStore(config.sessions_db or cache_dir() / "feed-sessions.sqlite", catalog.name)
    pool = SessionPool(
        lambda: FeedSession(services, parser, planner),
        store,
        limit=config.max_sessions,
        per_client=config.max_sessions_per_client,
        max_age_s=config.session_max_age_s,
        max_loaded=config.max_loaded_sessions,
    )
    models = ModelQueue(config.max_queued_commands)

    @asynccontextmanager
    async def lifespan(_: FastAPI):
        yield
        models.close()  # shutting down: queued commands end with an error event instead of holding the exit
        store.close()

    api = FastAPI(title="agentdistill feed", docs_url="/api/docs", lifespan=lifespan)
    api.state.feed = FeedState(config=config, catalog=catalog, pool=pool, models=models)
    api.add_exception_handler(RequestValidationError, _invalid_body)  # type: ignore[arg-type]
    api.add_exception_handler(HTTPException, _http_error)  # type: ignore[arg-type]
    api.include_router(router)
    return BodyLimit(api, config.max_body_bytes, config.body_timeout_s)


def _feed(request: Request) -> FeedState:
    return request.app.state.feed


async def _invalid_body(request: Request, error: RequestValidationError) -> JSONResponse:
    problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'][1:]) or 'body'}: {e['msg']}" for e in error.errors())
    return JSONResponse({"error": f"invalid request: {problems}"}, status_code=422)


async def _http_error(request: Request, error: HTTPException) -> JSONResponse:
    return JSONResponse({"error": error.detail}, status_code=error.status_code, headers=error.headers)


@router.get("/", response_class=HTMLResponse)
async def page() -> str:
    return files("agentdistill.server").joinpath("static", "index.html").read_text(encoding="utf-8")


@router.get("/api/health")
async def health(request: Request) -> dict:
    feed = _feed(request)
    return {"ok": True, "sessions": len(feed.pool), "queued_commands": feed.models.waiting()}


@router.post("/api/sessions")
async def new_session(request: Request) -> dict:
    feed = _feed(request)
    client = request.client.host if request.client else "unknown"
    session_id, session = await asyncio.to_thread(feed.pool.create, client)
    return {
        "session": session_id,
        "catalog": feed.catalog.name,
        "feed": [item_json(i) for i in session.feed],
        "preferences": session.memory.model_dump(mode="json"),
    }


@router.get("/api/sessions/{session_id}")
async def show_session(session_id: str, request: Request) -> dict:
    session = _feed(request).pool.get(session_id)
    return {
        "session": session_id,
        "feed": [item_json(i) for i in session.feed],
        "preferences": session.memory.model_dump(mode="json"),
        "turns": len(session.turns),
        "history": [_turn_json(turn) for turn in session.turns],
    }


def _turn_json(turn: TurnResult) -> dict:
    """A turn as the page shows it (the agents' conversations stay on the server)."""
    return turn.model_dump(mode="json", exclude={"parser_messages", "planner_messages", "feed"})


@router.post("/api/sessions/{session_id}/commands")
async def command(session_id: str, body: CommandBody, request: Request) -> StreamingResponse:
    """Queue the command for the model thread; its progress streams back as JSON lines."""
    feed = _feed(request)
    session = feed.pool.begin(session_id)
    loop = asyncio.get_running_loop()
    events: asyncio.Queue = asyncio.Queue()

    def send(event: dict | None) -> None:
        loop.call_soon_threadsafe(events.put_nowait, event)

    try:
        feed.models.submit(_command_job(feed.pool, session_id, session, body.text, send))
    except QueueFull:
        feed.pool.end(session_id)
        raise HTTPException(
            503,
            f"{feed.config.max_queued_commands} commands are waiting for the model; try again shortly",
            headers={"Retry-After": "5"},
        ) from None

    async def stream():
        while (event := await events.get()) is not None:
            yield json.dumps(event) + "\n"

    return StreamingResponse(stream(), media_type="application/x-ndjson")


def _command_job(pool: SessionPool, session_id: str, session: FeedSession, text: str, send) -> Job:
    """The model thread's job for one command: run it (events go to `send`, None ends the stream), or, when the
    server shuts down first, say so; either way the session is released."""

    def run() -> None:
        try:
            session.on_event = send  # one job at a time: two commands of a session never interleave
            session.on_turn = lambda turn: pool.record(session_id, session, turn)  # stored before "done" is sent
            try:
                session.command(text)
            finally:
                session.on_event = session.on_turn = None
        except Exception as error:
            send({"stage": "error", "message": f"{type(error).__name__}: {error}"})
        finally:
            pool.end(session_id)
            send(None)

    def cancel() -> None:
        pool.end(session_id)
        send({"stage": "error", "message": "the server is shutting down; the command did not run"})
        send(None)

    return Job(run=run, cancel=cancel)


def serve(app, config: ServerConfig) -> None:
    """Run `app` with uvicorn: bounded connections, header and keep-alive timeouts, bounded graceful shutdown."""
    import uvicorn

    uvicorn.run(
        app,
        host=config.host,
        port=config.port,
        log_level="warning",
        limit_concurrency=256,
        timeout_keep_alive=5,
        http=header_timeout_protocol(config.body_timeout_s),
        timeout_graceful_shutdown=int(max(1, config.shutdown_timeout_s)),
    )
