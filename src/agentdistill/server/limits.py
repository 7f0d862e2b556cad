"""What keeps the demo server answering under abuse: a body limit counted as bytes stream in, a body read
timeout, and one bounded queue for model work, so that pages, session creation and health checks never wait
for a model."""

from __future__ import annotations

import asyncio
import json
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass


class BodyLimit:
    """ASGI middleware: 413 once a request body passes `max_bytes` (counted as it arrives, chunked or not),
    408 when the client stops sending for `timeout_s`. The rest of the body is never read."""

    def __init__(self, app, max_bytes: int, timeout_s: float) -> None:
        self.app, self.max_bytes, self.timeout_s = app, max_bytes, timeout_s

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope.get("headers") or []).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.max_bytes:
            return await _respond(send, 413, f"request body over {self.max_bytes} bytes")
        state = {"received": 0, "answered": False, "started": False}

        async def limited_receive():
            try:
                message = await asyncio.wait_for(receive(), self.timeout_s)
            except TimeoutError:
                await answer(408, f"no request body byte for {self.timeout_s:g} s")
                return {"type": "http.disconnect"}
            if message["type"] == "http.request":
                state["received"] += len(message.get("body", b""))
                if state["received"] > self.max_bytes:
                    await answer(413, f"request body over {self.max_bytes} bytes")
                    return {"type": "http.disconnect"}
            return message

        async def answer(status: int, text: str) -> None:
            if not state["started"]:
                state["answered"] = True
                await _respond(send, status, text)

        async def guarded_send(message) -> None:
            if not state["answered"]:  # the app's own answer to a body we cut off is dropped
                state["started"] = True
                await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except Exception:
            if not state["answered"]:
                raise  # the app's error, not a disconnect we caused


async def _respond(send, status: int, text: str) -> None:
    body = json.dumps({"error": text}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def header_timeout_protocol(seconds: float):
    """uvicorn's h11 protocol, closing a connection whose request head is not complete within `seconds` of the
    connection (or of the previous response): uvicorn itself waits for headers forever, so a client sending a
    byte at a time (slowloris) would hold a connection slot."""
    import h11
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class HeaderTimeoutProtocol(H11Protocol):
        _header_timer: asyncio.TimerHandle | None = None

        def connection_made(self, transport) -> None:
            super().connection_made(transport)
            self._arm_header_timer()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            self._arm_header_timer()

        def connection_lost(self, exc) -> None:
            if self._header_timer is not None:
                self._header_timer.cancel()
            super().connection_lost(exc)

        def _arm_header_timer(self) -> None:
            if self._header_timer is not None:
                self._header_timer.cancel()
            self._header_timer = self.loop.call_later(seconds, self._headers_too_slow)

        def _headers_too_slow(self) -> None:
            if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
                self.transport.close()  # still no complete request head

    return HeaderTimeoutProtocol


class QueueFull(Exception):
    pass


@dataclass
class Job:
    run: Callable[[], None]
    cancel: Callable[[], None]  # tells whoever waits that it will not run (shutdown)


class ModelQueue:
    """Model work, one job at a time on one daemon thread (a local model is not thread-safe), with at most
    `limit` jobs waiting: beyond that `submit` raises `QueueFull` at once instead of making anyone wait."""

    def __init__(self, limit: int) -> None:
        self._jobs: queue.Queue[Job | None] = queue.Queue(maxsize=limit)
        self._thread = threading.Thread(target=self._serve, name="model-queue", daemon=True)
        self._thread.start()

    def submit(self, job: Job) -> None:
        try:
            self._jobs.put_nowait(job)
        except queue.Full:
            raise QueueFull from None

    def waiting(self) -> int:
        return self._jobs.qsize()

    def close(self) -> None:
        """Cancel what waits (the job running now finishes on its daemon thread, or dies with the process)."""
        while True:
            try:
                job = self._jobs.get_nowait()
            except queue.Empty:
                break
            if job is not None:
                job.cancel()
        try:
            self._jobs.put_nowait(None)
        except queue.Full:
            pass

    def _serve(self) -> None:
        while (job := self._jobs.get()) is not None:
            try:
                job.run()
            except Exception:
                pass
