"""Sessions survive the server: a real server process is killed (SIGKILL, no shutdown at all) and started again
on the same SQLite file, and a user's session goes on with its preferences, feed and turns; a process killed in
the middle of a turn leaves the session as of its last committed turn."""

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time

import pytest
import requests

SERVER = textwrap.dedent('''
    """A feed server whose model is scripted: 'red' and 'cheap' parse; a plan after 'floral' hangs (a turn that
    never finishes, to kill the process in the middle of it)."""
    import json, sys, time
    from agentdistill.llm.base import AgentChatModel, Completion
    from agentdistill.recsys.catalog import fashion_catalog
    from agentdistill.server.app import ServerConfig, create_app, serve

    UPDATES = {
        "red": {"add_constraints": [{"attribute": "colour", "op": "==", "value": "red"}]},
        "cheap": {"add_constraints": [{"attribute": "price", "op": "<", "value": 60}]},
        "floral": {"add_constraints": [{"attribute": "pattern", "op": "!=", "value": "floral"}]},
    }

    class Scripted(AgentChatModel):
        def complete_batch(self, conversations, params=None):
            replies = []
            for conversation in conversations:
                last = conversation[-1]["content"]
                if "Command:" in last:
                    word = next(w for w in UPDATES if w in last.split("Command:")[-1])
                    replies.append([Completion(text=json.dumps(UPDATES[word]))])
                    continue
                if "floral" in last:
                    time.sleep(600)
                replies.append([Completion(text=json.dumps({"chain": [{"tool": "filter"}, {"tool": "rerank"}]}))])
            return replies

    config = ServerConfig(port=int(sys.argv[1]), sessions_db=sys.argv[2])
    serve(create_app(config, parser_model=Scripted(model_id="scripted"), catalog=fashion_catalog()), config)
''')


@pytest.fixture
def server(tmp_path):
    script, db, processes = tmp_path / "server.py", tmp_path / "sessions.sqlite", []
    script.write_text(SERVER)

    def start() -> str:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        env = {**os.environ, "HF_HUB_OFFLINE": "1"}
        processes.append(subprocess.Popen([sys.executable, str(script), str(port), str(db)], env=env))
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if requests.get(f"{url}/api/health", timeout=2).ok:
                    return url
            except requests.ConnectionError:
                time.sleep(0.2)
        raise AssertionError("the server did not start")

    def kill() -> None:
        processes[-1].send_signal(signal.SIGKILL)
        processes[-1].wait(10)

    yield start, kill
    for process in processes:
        if process.poll() is None:
            process.kill()
            process.wait(10)


def command(url: str, session: str, text: str) -> dict:
    response = requests.post(f"{url}/api/sessions/{session}/commands", json={"text": text}, timeout=60)
    return [json.loads(line) for line in response.text.splitlines() if line.strip()][-1]


def test_a_killed_server_loses_no_session_and_a_turn_cut_short_leaves_the_last_committed_one(server):
    start, kill = server
    url = start()
    session = requests.post(f"{url}/api/sessions", timeout=10).json()["session"]
    assert command(url, session, "red please")["turn"]["error"] is None
    before = requests.get(f"{url}/api/sessions/{session}", timeout=10).json()
    assert before["turns"] == 1 and [c["value"] for c in before["preferences"]["constraints"]] == ["red"]

    kill()  # no shutdown, no flush: what a crash or an OOM kill does
    url = start()
    after = requests.get(f"{url}/api/sessions/{session}", timeout=10).json()
    assert after["preferences"] == before["preferences"] and after["feed"] == before["feed"]
    assert [t["command"] for t in after["history"]] == ["red please"]
    turn = command(url, session, "something cheap")["turn"]  # it goes on from where it was
    assert [c["attribute"] for c in turn["preferences"]["constraints"]] == ["colour", "price"]
    assert all(i["attributes"]["colour"] == "red" and i["attributes"]["price"] < 60 for i in turn["feed"])
    committed = requests.get(f"{url}/api/sessions/{session}", timeout=10).json()

    try:  # this turn hangs in the planner, after its parse: the process dies in the middle of it
        requests.post(f"{url}/api/sessions/{session}/commands", json={"text": "no floral"}, timeout=3)
    except (requests.Timeout, requests.ConnectionError):  # a read timeout mid-stream reads as the latter
        pass
    kill()
    url = start()
    again = requests.get(f"{url}/api/sessions/{session}", timeout=10).json()
    assert again["turns"] == 2 and again["preferences"] == committed["preferences"]
    assert again["feed"] == committed["feed"]
    assert requests.get(f"{url}/api/sessions/{'0' * 32}", timeout=10).status_code == 404
