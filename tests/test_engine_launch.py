"""Launching vLLM's OpenAI server through `EngineServer(engine="vllm")`, with a stand-in `vllm` package on the
path (vLLM itself needs a GPU): the command line, the health check, the shared lease, the backend on top."""

import json
import sys
import textwrap
from pathlib import Path

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
            open(ARGV_FILE + ".request", "w").write(json.dumps(body))
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


def test_the_vllm_backend_serves_a_local_model_folder_with_neutral_sampling(fake_vllm):
    """`backend="vllm"`: the model folder is served by a vLLM server it starts (GPU machines), sampling as the
    caller asks, not as the model's generation_config.json would: greedy stays greedy."""
    model, argv_file = fake_vllm
    chat = load_chat_model(f"hf:{model}", backend="vllm")
    try:
        assert chat.model_id == f"hf:{model}" and chat.precision is None  # the server picks its dtype
        assert chat.complete([{"role": "user", "content": "hi"}])[0].text == "served Qwen2.5-7B-Instruct"
        args = json.loads(argv_file.read_text())
        assert args[args.index("--model") + 1] == str(model) and args[args.index("--generation-config") + 1] == "vllm"
        request = json.loads(Path(str(argv_file) + ".request").read_text())
        assert request["repetition_penalty"] == 1.0 and request["min_p"] == 0.0 and "repeat_penalty" not in request
        pid = EngineServer(model, engine="vllm").status()["pid"]
    finally:
        chat.close()
    assert not _alive(pid)  # its only user closed it


def test_the_vllm_backend_refuses_what_it_cannot_honour():
    from agentdistill.errors import ConfigError
    from agentdistill.llm import PrecisionError, resolve_backend

    with pytest.raises(PrecisionError, match="vLLM picks its own"):
        resolve_backend("qwen2.5-coder-0.5b", dtype="bf16", backend="vllm")
    with pytest.raises(ConfigError, match="names the engine"):
        resolve_backend("engine:qwen2.5-coder-0.5b", backend="vllm")
    with pytest.raises(ConfigError, match="applies to local models"):
        resolve_backend("openai:m@http://gpu:8000/v1", backend="vllm")


def test_an_experiment_run_with_backend_vllm_serves_its_models_with_vllm(fake_vllm, tmp_path):
    """`experiment run FILE --backend vllm`: the file unchanged, every local model served by vLLM (here the
    stand-in, whose replies are wrong answers), the choice recorded in the config saved beside the results."""
    import yaml
    from typer.testing import CliRunner

    from agentdistill.cli import app

    model, argv_file = fake_vllm
    file = tmp_path / "tiny.yaml"
    out = tmp_path / "exp"
    file.write_text(
        yaml.safe_dump(
            {
                "name": "tiny",
                "out": str(out),
                "teacher": f"hf:{model}",
                "suites": ["math"],
                "test_tasks": 1,
                "episode": {"max_steps": 1, "concurrency": 1},
                "rows": [{"name": "teacher agent", "model": "teacher"}],
            }
        )
    )
    result = CliRunner().invoke(app, ["experiment", "run", str(file), "--backend", "vllm", "--stage", "evaluate"])
    assert result.exit_code == 0, result.output
    args = json.loads(argv_file.read_text())
    assert args[args.index("--model") + 1] == str(model)
    episode = json.loads((out / "eval" / "teacher-agent-math" / "episodes.jsonl").read_text().splitlines()[0])
    assert "served Qwen2.5-7B-Instruct" in json.dumps(episode)
    assert yaml.safe_load((out / "config.yaml").read_text())["backend"] == "vllm"
    assert EngineServer(model, engine="vllm").status() is None  # stopped when the run ended


def test_on_vllm_a_run_serves_one_local_model_at_a_time(fake_vllm, tmp_path):
    """Each vLLM server claims most of the GPU: the model cache stops one before it starts the next."""
    from agentdistill.pipeline.models import ModelCache

    first, _ = fake_vllm
    second = tmp_path / "student"
    second.mkdir()
    (second / "config.json").write_text("{}")
    cache = ModelCache(backend="vllm")
    try:
        cache(f"hf:{first}")
        pid = EngineServer(first, engine="vllm").status()["pid"]
        assert cache(f"hf:{second}").complete([{"role": "user", "content": "hi"}])[0].text == "served student"
        assert not _alive(pid) and list(cache.loaded) == [f"hf:{second}"]
    finally:
        cache.close()
