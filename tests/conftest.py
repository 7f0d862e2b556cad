import atexit
import json
import os
import shutil
import tempfile
from pathlib import Path

import pytest
from pydantic import Field

from agentdistill.llm import registry
from agentdistill.llm.base import AgentChatModel, Completion, ContextOverflow, SamplingParams

# fixtures that load a real model, start the engine or embed a corpus or catalogue with MiniLM
SLOW_FIXTURES = {"smollm", "smollm_fp32", "qwen05", "engine", "engine_and_model", "countries", "services"}


def pytest_configure(config: pytest.Config) -> None:
    """Tests never write into the user's cache: they get their own, which reuses (links) the models and the
    engine build already there (read as they are) and builds its own indexes, embeddings and server state."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    user_cache = registry.cache_dir()
    test_cache = Path(tempfile.mkdtemp(prefix="agentdistill-test-cache-"))
    # registered before any engine lease: atexit runs last-in first-out, so engine servers stop first
    atexit.register(shutil.rmtree, test_cache, ignore_errors=True)
    (test_cache / "engine").mkdir()
    if (user_cache / "models").is_dir():
        (test_cache / "models").symlink_to(user_cache / "models", target_is_directory=True)
    for built in (user_cache / "engine").glob("llama-cpp-python-*"):
        (test_cache / "engine" / built.name).symlink_to(built, target_is_directory=True)
    os.environ["AGENTDISTILL_CACHE"] = str(test_cache)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """`slow`: tests that load a real model (by fixture) are marked here; the rest that are slow say so."""
    for item in items:
        if SLOW_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


# collect's default is the recipe (first-thought prefix, then best-of-4); tests of one plain greedy trajectory
# per task say so
GREEDY = {"temperature": 0.0, "samples": 1, "stop_after_correct": None, "prefix": False, "greedy_first": False}


class ScriptedModel(AgentChatModel):
    """Test double: replies with canned outputs in order and records every conversation it was given.

    An output may be a (text, mean_logprob) pair; with n samples per call, n outputs are used per call."""

    outputs: list
    seen: list = Field(default_factory=list)
    calls: list = Field(default_factory=list)
    params: list = Field(default_factory=list)  # the resolved SamplingParams of every call

    def complete_batch(self, conversations, params: SamplingParams | None = None):
        used = self.resolve(params)
        self.params.append(used)
        n = used.n
        self.calls.append((len(conversations), n))
        results = []
        for conversation in conversations:
            self.seen.append(conversation)
            results.append([self._next() for _ in range(n)])
        return results

    def _next(self) -> Completion:
        item = self.outputs.pop(0) if self.outputs else "Thought: nothing left to say."
        text, logprob = item if isinstance(item, tuple) else (item, None)
        return Completion(text=text, prompt_tokens=10, completion_tokens=len(text.split()), mean_logprob=logprob)


class ShortContextModel(ScriptedModel):
    """A `ScriptedModel` that refuses, as a server does, a conversation longer than `limit` messages."""

    limit: int = 3
    refused: list = Field(default_factory=list)

    def complete_batch(self, conversations, params: SamplingParams | None = None):
        if too_long := [c for c in conversations if len(c) > self.limit]:
            self.refused += too_long
            raise ContextOverflow(f"{self.model_id}: the prompt exceeds its context")
        return super().complete_batch(conversations, params)


@pytest.fixture
def scripted():
    def make(*outputs: str) -> ScriptedModel:
        return ScriptedModel(model_id="scripted", outputs=list(outputs), seen=[], calls=[], params=[])

    return make


def unavailable(reason: str) -> None:
    """Skip a test whose model, engine or browser is missing, except under AGENTDISTILL_REQUIRE_ALL=1 (set by CI,
    which installs all of them): there a missing piece is a failure, so a CI run can never pass by skipping."""
    if os.environ.get("AGENTDISTILL_REQUIRE_ALL") == "1":
        pytest.fail(f"AGENTDISTILL_REQUIRE_ALL=1 and {reason}")
    pytest.skip(reason)


def require_model(name: str) -> None:
    if not registry.is_ready(name):
        unavailable(f"{name} is not available: run `agentdistill models pull {name}`")


def require_engine() -> None:
    from agentdistill.llm.engine import is_built

    if not is_built():
        unavailable("the engine is not built: run `agentdistill engine build`")


@pytest.fixture(scope="session")
def smollm():
    require_model("smollm2-135m")
    from agentdistill.llm import load_chat_model

    return load_chat_model("smollm2-135m", backend="transformers", max_new_tokens=16)


@pytest.fixture(scope="session")
def qwen05():
    require_model("qwen2.5-coder-0.5b")
    from agentdistill.llm import load_chat_model

    return load_chat_model("qwen2.5-coder-0.5b", backend="transformers")


class FakeOpenAIServer:
    """A local HTTP server speaking the OpenAI chat-completions shape; `reply(body, i)` gives choice i's text, or a
    (status, error object) pair the server answers with instead."""

    def __init__(self, reply, max_choices: int = 64, logprobs: bool = True) -> None:
        import threading
        from http.server import BaseHTTPRequestHandler, HTTPServer

        self.requests: list[dict] = []
        server_self, with_logprobs = self, logprobs

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                server_self.requests.append(body)
                n = min(body.get("n") or 1, max_choices)  # max_choices=1: a server that ignores `n`
                texts = [reply(body, i) for i in range(n)]
                if isinstance(texts[0], tuple):  # (status, error): the server refuses
                    return self._send(texts[0][0], {"error": texts[0][1]})
                logprobs = (
                    None
                    if not with_logprobs
                    else {
                        "content": [
                            {"token": "a", "logprob": -0.5, "bytes": None, "top_logprobs": []},
                            {"token": "b", "logprob": -1.5, "bytes": None, "top_logprobs": []},
                        ]
                    }
                )
                payload = {
                    "id": "x",
                    "object": "chat.completion",
                    "created": 0,
                    "model": body["model"],
                    "choices": [
                        {
                            "index": i,
                            "finish_reason": "stop",
                            "logprobs": logprobs,
                            "message": {"role": "assistant", "content": texts[i]},
                        }
                        for i in range(n)
                    ],
                    "usage": {"prompt_tokens": 7, "completion_tokens": 2 * n, "total_tokens": 7 + 2 * n},
                }
                self._send(200, payload)

            def _send(self, status, payload):
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.base_url = f"http://127.0.0.1:{self.server.server_port}/v1"


@pytest.fixture
def fake_openai():
    servers = []

    def start(reply, **options) -> FakeOpenAIServer:
        servers.append(FakeOpenAIServer(reply, **options))
        return servers[-1]

    yield start
    for server in servers:
        server.server.shutdown()
        server.server.server_close()


def serve_in_thread(app, **settings):
    """Run an ASGI app with uvicorn on a free local port in a daemon thread: (server, thread, base URL).
    Stop it with `server.should_exit = True; thread.join()`."""
    import socket
    import threading
    import time

    import uvicorn

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="critical", **settings))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    return server, thread, f"http://127.0.0.1:{port}"
