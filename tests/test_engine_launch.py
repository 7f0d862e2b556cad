"""Launching vLLM's OpenAI server through `EngineServer(engine="vllm")`, with a stand-in `vllm` package on the
path (vLLM itself needs a GPU): the command line, the health check, the shared lease, the backend on top."""

import json
import sys
import textwrap

import pytest

from agentdistill.llm import load_chat_model
from agentdistill.llm.engine import EngineError, EngineServer, _alive

FAKE_SERVER = textwrap.dedent('''
    """Stands in for vllm.entrypoints.openai.api_server: records its argv, answers /health and chat."""
    import json, sys
    from http.server import BaseHTTPRequestHandler, HTTPServer
    args = sys.argv[1:]
    port = int(args[args.index("--port") + 1])
    open(ARGV_FILE, "w").write(json.dumps(args))

    class Handler(BaseHTTPRequestHandler):
        def _send(self, payload):
            data = json.dumps(payload).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            self._send({})

        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            self._send({"id": "x", "object": "chat.completion", "created": 0, "model": body["model"],
                        "choices": [{"index": 0, "finish_reason": "stop",
                                     "message": {"role": "assistant", "content": "served " + body["model"]}}],
                        "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}})

        def log_message(self, *args):
            pass

    HTTPServer(("127.0.0.1", port), Handler).serve_forever()
''')


@pytest.fixture
def fake_vllm(tmp_path, monkeypatch):
    package = tmp_path / "site" / "vllm" / "entrypoints" / "openai"
    package.mkdir(parents=True)
    for folder in (package, package.parent, package.parent.parent):
        (folder / "__init__.py").write_text("")
    argv_file = tmp_path / "argv.json"
    (package / "api_server.py").write_text(f"ARGV_FILE = {str(argv_file)!r}\n" + FAKE_SERVER)
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    monkeypatch.setenv("PYTHONPATH", str(tmp_path / "site"))
    monkeypatch.setenv("AGENTDISTILL_CACHE", str(tmp_path / "cache"))
    model = tmp_path / "Qwen2.5-7B-Instruct"
    model.mkdir()
    (model / "config.json").write_text("{}")
    return model, argv_file


def test_vllm_is_launched_health_checked_shared_and_stopped(fake_vllm):
    model, argv_file = fake_vllm
    server = EngineServer(model, engine="vllm", parallel=16, extra_args=("--tensor-parallel-size", "2"))
    assert server.command(1234)[:3] == [sys.executable, "-m", "vllm.entrypoints.openai.api_server"]
    server.acquire()
    try:
        args = json.loads(argv_file.read_text())
        assert args[args.index("--model") + 1] == str(model) and args[args.index("--max-num-seqs") + 1] == "16"
        assert args[-2:] == ["--tensor-parallel-size", "2"] and args[args.index("--host") + 1] == "127.0.0.1"
        other = EngineServer(model, engine="vllm", parallel=16, extra_args=("--tensor-parallel-size", "2")).acquire()
        assert other.port == server.port and server.status()["users"] == 2  # one server, two users
        chat = load_chat_model(f"openai:{server.served_name}@{server.base_url}")
        assert chat.complete([{"role": "user", "content": "hi"}])[0].text == "served Qwen2.5-7B-Instruct"
        other.release()
        pid = server.status()["pid"]
    finally:
        server.release()
    assert not _alive(pid) and server.status() is None  # the last user out stopped it


def test_vllm_refuses_what_it_cannot_serve(fake_vllm, tmp_path, monkeypatch):
    gguf = tmp_path / "model.gguf"
    gguf.write_bytes(b"GGUF")
    with pytest.raises(EngineError, match="model folder"):
        EngineServer(gguf, engine="vllm").acquire()
    monkeypatch.setattr("importlib.util.find_spec", lambda name, *a: None)
    with pytest.raises(EngineError, match="agentdistill\\[vllm\\]"):
        EngineServer(fake_vllm[0], engine="vllm").acquire()
    with pytest.raises(EngineError, match="unknown engine"):
        EngineServer(fake_vllm[0], engine="tgi")


def test_a_lease_of_a_killed_process_does_not_keep_the_server(fake_vllm):
    """A client killed by a signal never releases (no atexit): its lease is not counted, and the last live user
    out still stops the server."""
    import subprocess

    model, _ = fake_vllm
    server = EngineServer(model, engine="vllm").acquire()
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    state = json.loads(server._state_path.read_text())
    state["users"].append(int(dead.stdout))  # a lease taken by a process that is gone now
    server._state_path.write_text(json.dumps(state))
    assert server.status()["users"] == 1
    pid = server.status()["pid"]
    server.release()
    assert not _alive(pid) and server.status() is None


def test_a_server_whose_users_were_all_killed_is_stopped_by_its_watchdog(fake_vllm, monkeypatch):
    """Regression: a study killed with SIGKILL left its server running at full CPU for nobody. The client here
    dies without releasing; the watchdog started beside the server stops it."""
    import subprocess
    import time

    model, _ = fake_vllm
    monkeypatch.setenv("AGENTDISTILL_ENGINE_REAP_S", "0.2")
    client = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time\n"
            "from agentdistill.llm.engine import EngineServer\n"
            f"EngineServer({str(model)!r}, engine='vllm').acquire()\n"
            "print('held', flush=True); time.sleep(600)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert client.stdout.readline().strip() == "held"
    server = EngineServer(model, engine="vllm")
    pid = server.status()["pid"]
    time.sleep(1)
    assert _alive(pid)  # a live user keeps it
    client.kill()
    client.wait()
    deadline = time.monotonic() + 20
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(pid) and server.status() is None
