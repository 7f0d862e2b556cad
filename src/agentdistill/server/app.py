"""FastAPI app of the interactive recommendation feed.

    GET  /                              the web page (feed cards, chat box, preferences and tool chain)
    POST /api/sessions                  a new session: its id and first (passive) feed
    GET  /api/sessions/{id}             the session's feed, preferences and turn count
    POST /api/sessions/{id}/commands    {"text": ...} -> a stream of JSON lines: parsing, parsed, planned, done

Sessions are isolated (each has its own memory and feed); commands run in worker threads, never on the event
loop; one lock serialises model calls (a local model is not thread-safe), so concurrent users queue for it.
"""

from __future__ import annotations

import asyncio
import json
import threading
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from importlib.resources import files

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, StreamingResponse
from pydantic import BaseModel, Field

from agentdistill.llm import AgentChatModel, load_chat_model
from agentdistill.recsys.agents import ParserAgent, PlannerAgent
from agentdistill.recsys.catalog import Catalog, Item, open_catalog
from agentdistill.recsys.session import FeedServices, FeedSession


@dataclass
class ServerConfig:
    """Settings of `serve` (see `agentdistill serve --help`)."""

    catalog: str = "default"
    parser_model: str = "qwen2.5-coder-0.5b"
    planner_model: str | None = None
    max_sessions: int = 200
    max_body_bytes: int = 16_384
    dtype: str = "auto"  # precision of local models: auto, fp32, bf16, fp16 (resolved by llm.precision)


class CommandBody(BaseModel):
    text: str = Field(min_length=1, max_length=500, description="The user's command, e.g. 'no floral, under $80'.")


def item_json(item: Item) -> dict:
    return item.model_dump(mode="json")


class SessionPool:
    """Live sessions by id, least recently used dropped beyond `limit`."""

    def __init__(self, make, limit: int) -> None:
        self._make, self._limit = make, limit
        self._sessions: OrderedDict[str, FeedSession] = OrderedDict()
        self._lock = threading.Lock()

    def create(self) -> tuple[str, FeedSession]:
        session_id = uuid.uuid4().hex
        session = self._make()
        with self._lock:
            self._sessions[session_id] = session
            while len(self._sessions) > self._limit:
                self._sessions.popitem(last=False)
        return session_id, session

    def get(self, session_id: str) -> FeedSession:
        with self._lock:
            session = self._sessions.get(session_id)
            if session is None:
                raise HTTPException(404, f"no session {session_id!r} (it may have expired): create one")
            self._sessions.move_to_end(session_id)
            return session


def create_app(config: ServerConfig, parser_model: AgentChatModel | None = None,
               planner_model: AgentChatModel | None = None, catalog: Catalog | None = None) -> FastAPI:
    """The app, with the catalogue, the feed services and the models loaded (pass models to share or fake them)."""
    catalog = catalog or open_catalog(config.catalog)
    services = FeedServices(catalog)
    parser_model = parser_model or load_chat_model(config.parser_model, dtype=config.dtype)
    planner_model = planner_model or (load_chat_model(config.planner_model, dtype=config.dtype) if config.planner_model
                                      else parser_model)
    parser, planner = ParserAgent(parser_model, catalog), PlannerAgent(planner_model)
    model_lock = threading.Lock()
    pool = SessionPool(lambda: FeedSession(services, parser, planner), config.max_sessions)
    api = FastAPI(title="agentdistill feed", docs_url="/api/docs")

    @api.middleware("http")
    async def limit_body(request: Request, call_next):
        length = request.headers.get("content-length")
        if length and length.isdigit() and int(length) > config.max_body_bytes:
            return JSONResponse({"error": f"request body over {config.max_body_bytes} bytes"}, status_code=413)
        return await call_next(request)

    @api.exception_handler(RequestValidationError)
    async def invalid_body(request: Request, error: RequestValidationError):
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'][1:]) or 'body'}: {e['msg']}" for e in error.errors())
        return JSONResponse({"error": f"invalid request: {problems}"}, status_code=422)

    @api.exception_handler(HTTPException)
    async def http_error(request: Request, error: HTTPException):
        return JSONResponse({"error": error.detail}, status_code=error.status_code)

    @api.get("/", response_class=HTMLResponse)
    async def page() -> str:
        return files("agentdistill.server").joinpath("static", "index.html").read_text(encoding="utf-8")

    @api.post("/api/sessions")
    async def new_session() -> dict:
        session_id, session = await asyncio.to_thread(pool.create)
        return {"session": session_id, "catalog": catalog.name, "feed": [item_json(i) for i in session.feed],
                "preferences": session.memory.model_dump(mode="json")}

    @api.get("/api/sessions/{session_id}")
    async def show_session(session_id: str) -> dict:
        session = pool.get(session_id)
        return {"session": session_id, "feed": [item_json(i) for i in session.feed],
                "preferences": session.memory.model_dump(mode="json"), "turns": len(session.turns)}

    @api.post("/api/sessions/{session_id}/commands")
    async def command(session_id: str, body: CommandBody) -> StreamingResponse:
        session = pool.get(session_id)
        loop = asyncio.get_running_loop()
        events: asyncio.Queue = asyncio.Queue()

        def send(event: dict | None) -> None:
            loop.call_soon_threadsafe(events.put_nowait, event)

        def run() -> None:
            try:
                with model_lock:  # also keeps two commands of one session from interleaving
                    session.on_event = send
                    try:
                        session.command(body.text)
                    finally:
                        session.on_event = None
            except Exception as error:  # noqa: BLE001 - reported to the page; the session stays as it was
                send({"stage": "error", "message": f"{type(error).__name__}: {error}"})
            finally:
                send(None)

        async def stream():
            worker = asyncio.create_task(asyncio.to_thread(run))
            while (event := await events.get()) is not None:
                yield json.dumps(event) + "\n"
            await worker

        return StreamingResponse(stream(), media_type="application/x-ndjson")

    return api

