import json

from typer.testing import CliRunner

from agentdistill.cli import app

runner = CliRunner()


def test_help_lists_commands():
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("run", "models", "index"):
        assert command in result.output


def test_bad_arguments_are_clear_errors(tmp_path, monkeypatch):
    result = runner.invoke(app, ["run", "q", "--tools", "python,shell"])
    assert result.exit_code == 2 and "unknown tool(s) shell" in result.output
    result = runner.invoke(app, ["run", "q", "--model", "gpt-17"])
    assert result.exit_code == 1 and "unknown model 'gpt-17'" in result.output
    monkeypatch.setenv("AGENTDISTILL_CACHE", str(tmp_path))
    result = runner.invoke(app, ["run", "q", "--model", "smollm2-135m"])
    assert result.exit_code == 1 and "models pull smollm2-135m" in result.output
    result = runner.invoke(app, ["models", "pull", "nope"])
    assert result.exit_code == 1 and "unknown model" in result.output


def test_models_list_shows_readiness(tmp_path, monkeypatch):
    monkeypatch.setenv("AGENTDISTILL_CACHE", str(tmp_path))
    result = runner.invoke(app, ["models", "list"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    assert "qwen2.5-coder-0.5b" in result.output and "models pull qwen2.5-coder-0.5b" in result.output


def test_index_build_and_search(tmp_path):
    corpus = tmp_path / "corpus.jsonl"
    rows = [{"id": "1", "title": "Lima", "text": "Lima is the capital of Peru."},
            {"id": "2", "title": "Oslo", "text": "Oslo is the capital of Norway."}]
    corpus.write_text("\n".join(json.dumps(r) for r in rows))
    result = runner.invoke(app, ["index", "build", str(corpus), "--out", str(tmp_path / "idx")])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["index", "search", str(tmp_path / "idx"), "Norwegian capital", "-k", "1"],
                           env={"COLUMNS": "200"})
    assert result.exit_code == 0 and "Oslo is the capital of Norway" in result.output
    bad = tmp_path / "bad.jsonl"
    bad.write_text("not json\n")
    result = runner.invoke(app, ["index", "build", str(bad), "--out", str(tmp_path / "x")])
    assert result.exit_code == 1 and "bad.jsonl:1" in result.output


def test_run_json_with_a_scripted_openai_server(tmp_path):
    """`run --json` end to end through the OpenAI backend, against a local server that plays the model."""
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    replies = ["Thought: multiply.\n```python\nprint(12 * 12)\n```", "Thought: done.\n```python\nfinal_answer(144)\n```"]

    class Scripted(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            self.rfile.read(int(self.headers["Content-Length"]))
            body = json.dumps({"id": "x", "object": "chat.completion", "created": 0, "model": "m",
                               "choices": [{"index": 0, "finish_reason": "stop",
                                            "message": {"role": "assistant", "content": replies.pop(0)}}],
                               "usage": {"prompt_tokens": 5, "completion_tokens": 5, "total_tokens": 10}}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Scripted)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        result = runner.invoke(app, ["run", "What is 12 squared?", "--tools", "python", "--json",
                                     "--model", f"openai:m@http://127.0.0.1:{server.server_port}/v1"])
    finally:
        server.shutdown()
    assert result.exit_code == 0, result.output
    trajectory = json.loads(result.output)
    assert trajectory["final_answer"] == 144 and trajectory["steps"][0]["observation"] == "144"
