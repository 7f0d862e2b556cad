"""The demo server under abuse, over real HTTP (uvicorn on a local port): a full model queue never blocks
session creation, bodies are limited as they stream, sessions survive floods, and SIGTERM ends it in time."""

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
import requests

from agentdistill.llm.base import AgentChatModel, Completion
from agentdistill.recsys.catalog import fashion_catalog
from agentdistill.server.app import ServerConfig, create_app
from agentdistill.server.limits import header_timeout_protocol
from conftest import serve_in_thread

RED = json.dumps({"add_constraints": [{"attribute": "colour", "op": "==", "value": "red"}]})
PLAN = json.dumps({"chain": [{"tool": "filter"}]})


class SlowModel(AgentChatModel):
    """Answers after `delay_s`: the parser gets red-only constraints, the planner a filter chain."""

    delay_s: float = 1.0

    def complete_batch(self, conversations, params=None):
        time.sleep(self.delay_s)
        return [[Completion(text=PLAN if "Command:" not in c[-1]["content"] else RED)] for c in conversations]


@pytest.fixture
def serve(tmp_path):
    running = []

    def make(config: ServerConfig, delay_s: float = 1.0) -> str:
        config = config.model_copy(update={"sessions_db": str(tmp_path / f"sessions-{len(running)}.sqlite")})
        app = create_app(config, parser_model=SlowModel(model_id="slow", delay_s=delay_s), catalog=fashion_catalog())
        server, thread, url = serve_in_thread(app, http=header_timeout_protocol(config.body_timeout_s))
        running.append((server, thread))
        return url

    yield make
    for server, thread in running:
        server.should_exit = True
        thread.join(10)


@pytest.mark.slow
def test_queued_commands_never_block_new_sessions_and_a_full_queue_says_503(serve):
    url = serve(ServerConfig(max_queued_commands=2), delay_s=1.5)
    sessions = [requests.post(f"{url}/api/sessions", timeout=10).json()["session"] for _ in range(6)]
    answers: dict[str, int] = {}

    def command(session_id: str) -> None:
        answers[session_id] = requests.post(
            f"{url}/api/sessions/{session_id}/commands", json={"text": "red"}, timeout=60
        ).status_code

    threads = [threading.Thread(target=command, args=(s,)) for s in sessions]
    for t in threads:
        t.start()
        time.sleep(0.05)
    started = time.monotonic()
    created = requests.post(f"{url}/api/sessions", timeout=5)
    health = requests.get(f"{url}/api/health", timeout=5)
    page = requests.get(url, timeout=5)
    assert time.monotonic() - started < 2  # none of them waited for the model
    assert created.status_code == 200 and health.status_code == 200 and page.status_code == 200
    for t in threads:
        t.join(60)
    statuses = sorted(answers.values())
    assert statuses.count(503) >= 2 and statuses.count(200) >= 2, statuses
    busy = requests.post(f"{url}/api/sessions/{sessions[0]}/commands", json={"text": "red"}, timeout=30)
    assert busy.status_code == 200  # the queue drained


def test_a_full_queue_answers_with_retry_after(serve):
    url = serve(ServerConfig(max_queued_commands=1), delay_s=2.0)
    session = requests.post(f"{url}/api/sessions", timeout=10).json()["session"]
    for _ in range(2):  # one running, one waiting
        threading.Thread(
            target=requests.post,
            args=(f"{url}/api/sessions/{session}/commands",),
            kwargs={"json": {"text": "red"}, "timeout": 30},
            daemon=True,
        ).start()
        time.sleep(0.3)
    refused = requests.post(f"{url}/api/sessions/{session}/commands", json={"text": "red"}, timeout=5)
    assert refused.status_code == 503 and refused.headers["Retry-After"] == "5"
    assert "waiting for the model" in refused.json()["error"]


def raw_request(url: str, head: bytes, chunks, read_timeout: float = 10) -> tuple[bytes, int]:
    """Send `head` then `chunks` on one connection until the server answers; (answer, body bytes sent)."""
    host, port = url.removeprefix("http://").split(":")
    sent = 0
    with socket.create_connection((host, int(port)), timeout=read_timeout) as conn:
        conn.sendall(head)
        conn.setblocking(False)
        answer = b""
        for chunk in chunks:
            try:
                answer += conn.recv(65536)
            except BlockingIOError:
                pass
            if answer:
                break
            try:
                conn.sendall(chunk)
                sent += len(chunk)
            except (BlockingIOError, BrokenPipeError, ConnectionResetError):
                break
        conn.setblocking(True)
        conn.settimeout(read_timeout)
        try:
            answer += conn.recv(65536)
        except (TimeoutError, ConnectionResetError):
            pass
    return answer, sent


def test_a_chunked_body_is_cut_at_the_limit(serve):
    url = serve(ServerConfig())
    session = requests.post(f"{url}/api/sessions", timeout=10).json()["session"]
    head = (
        f"POST /api/sessions/{session}/commands HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        "Transfer-Encoding: chunked\r\n\r\n"
    ).encode()
    megabyte = b"%x\r\n" % (1 << 20) + b" " * (1 << 20) + b"\r\n"
    answer, sent = raw_request(url, head, (megabyte for _ in range(100)))
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert sent < 30 * (1 << 20)  # far from the 100 MB offered


def test_a_body_that_never_comes_times_out(serve):
    url = serve(ServerConfig(body_timeout_s=1.0))
    session = requests.post(f"{url}/api/sessions", timeout=10).json()["session"]
    head = (
        f"POST /api/sessions/{session}/commands HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        "Content-Length: 100\r\n\r\n{"
    ).encode()
    started = time.monotonic()
    answer, _ = raw_request(url, head, [], read_timeout=10)
    assert answer.startswith(b"HTTP/1.1 408") and time.monotonic() - started < 5, answer[:200]


def test_headers_sent_a_byte_at_a_time_are_cut_off(serve):
    url = serve(ServerConfig(body_timeout_s=1.0))
    host, port = url.removeprefix("http://").split(":")
    started = time.monotonic()
    with socket.create_connection((host, int(port)), timeout=10) as conn:
        closed = False
        for byte in b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 100:
            try:
                conn.sendall(bytes([byte]))
            except (BrokenPipeError, ConnectionResetError):
                closed = True
                break
            time.sleep(0.1)
            if time.monotonic() - started > 5:
                break
        if not closed:
            conn.settimeout(3)
            closed = conn.recv(1024) == b""
    assert closed and time.monotonic() - started < 4


def test_a_flood_of_new_sessions_evicts_no_working_user(serve):
    url = serve(ServerConfig(max_sessions=10, max_sessions_per_client=1000), delay_s=0.1)
    working = requests.post(f"{url}/api/sessions", timeout=10).json()["session"]
    assert requests.post(f"{url}/api/sessions/{working}/commands", json={"text": "red"}, timeout=30).ok
    for _ in range(200):
        assert requests.post(f"{url}/api/sessions", timeout=10).status_code == 200
    kept = requests.get(f"{url}/api/sessions/{working}", timeout=10)
    assert kept.status_code == 200 and kept.json()["turns"] == 1


def test_sessions_per_client_are_capped_and_old_ones_expire(serve):
    url = serve(ServerConfig(max_sessions_per_client=3, session_max_age_s=1.0))
    first = [requests.post(f"{url}/api/sessions", timeout=10) for _ in range(4)]
    assert [r.status_code for r in first] == [200, 200, 200, 429]
    time.sleep(1.5)  # all three go idle past the limit
    again = requests.post(f"{url}/api/sessions", timeout=10)
    assert again.status_code == 200
    assert requests.get(f"{url}/api/sessions/{first[0].json()['session']}", timeout=10).status_code == 404


def test_a_session_with_work_in_flight_is_never_evicted_nor_expired(tmp_path):
    from agentdistill.server.sessions import SessionPool
    from agentdistill.server.store import SessionStore

    class Session:
        def __init__(self) -> None:
            self.turns: list = []
            self.history: list = []

    now = [0.0]
    store = SessionStore(tmp_path / "s.sqlite", "fashion", clock=lambda: now[0])
    pool = SessionPool(Session, store, limit=2, per_client=10, max_age_s=10)
    busy, _ = pool.create("a")
    pool.begin(busy)
    store._db.execute("UPDATE sessions SET turns = 1 WHERE id = ?", (busy,))  # it has worked: not disposable
    unused, _ = pool.create("a")
    pool.create("b")  # full: the one that never ran a command goes, never the busy one
    assert busy in pool and unused not in pool
    now[0] = 100.0  # long past max_age_s: still kept while busy
    pool.create("c")
    assert busy in pool
    pool.end(busy)
    now[0] = 200.0
    pool.create("d")
    assert busy not in pool  # idle and past the age limit: expired, explicitly


@pytest.mark.slow
def test_sigterm_with_work_queued_exits_within_the_shutdown_timeout(tmp_path):
    script = textwrap.dedent(f"""
        import sys, time
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        from test_server_limits import SlowModel
        from agentdistill.recsys.catalog import fashion_catalog
        from agentdistill.server.app import ServerConfig, create_app, serve
        config = ServerConfig(shutdown_timeout_s=2, port=int(sys.argv[1]), sessions_db=sys.argv[2])
        app = create_app(config, parser_model=SlowModel(model_id="slow", delay_s=20), catalog=fashion_catalog())
        serve(app, config)
    """)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, "-c", script, str(port), str(tmp_path / "sessions.sqlite")],
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                session = requests.post(f"{url}/api/sessions", timeout=2).json()["session"]
                break
            except requests.ConnectionError:
                time.sleep(0.2)

        def command() -> None:
            try:
                requests.post(f"{url}/api/sessions/{session}/commands", json={"text": "red"}, timeout=30)
            except requests.RequestException:
                pass  # the server went away under it: that is the point

        for _ in range(3):  # one stuck in the model for 20 s, two queued
            threading.Thread(target=command, daemon=True).start()
        time.sleep(1.0)
        started = time.monotonic()
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=15)
        assert time.monotonic() - started < 2 + 3
    finally:
        process.kill()
