"""The demo chat server: the HTTP API (sessions, streaming, validation, isolation) and the page in a real
headless browser."""

import json
import shutil
import threading

import pytest
from fastapi.testclient import TestClient

from agentdistill.recsys.catalog import fashion_catalog
from agentdistill.server.app import ServerConfig, create_app
from conftest import serve_in_thread, unavailable

RED_DRESSES = json.dumps(
    {
        "add_constraints": [
            {"attribute": "category", "op": "==", "value": "dress"},
            {"attribute": "colour", "op": "==", "value": "red"},
        ]
    }
)
PLAN = json.dumps({"chain": [{"tool": "filter"}, {"tool": "rerank", "alpha": 0.2}]})


class ByCommand:
    """A thread-safe fake model for the server: 'red dresses' parses, anything else is gibberish."""

    def __init__(self) -> None:
        from agentdistill.llm.base import AgentChatModel, Completion

        class Model(AgentChatModel):
            def complete_batch(self, conversations, params=None):
                replies = []
                for conversation in conversations:
                    last = conversation[-1]["content"]
                    text = (
                        PLAN
                        if "Command:" not in last and "invalid" not in last
                        else RED_DRESSES
                        if "red dresses" in last.lower()
                        else "I do not know"
                    )
                    replies.append([Completion(text=text, prompt_tokens=1, completion_tokens=1)])
                return replies

        self.model = Model(model_id="fake")


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    config = ServerConfig(sessions_db=str(tmp_path_factory.mktemp("db") / "sessions.sqlite"))
    return create_app(config, parser_model=ByCommand().model, catalog=fashion_catalog())


def events(response) -> list[dict]:
    return [json.loads(line) for line in response.text.splitlines() if line.strip()]


def test_a_command_streams_its_stages_and_changes_the_feed(api):
    client = TestClient(api)
    created = client.post("/api/sessions").json()
    assert len(created["feed"]) == 10 and created["catalog"] == "fashion"
    response = client.post(f"/api/sessions/{created['session']}/commands", json={"text": "red dresses please"})
    stream = events(response)
    assert [e["stage"] for e in stream] == ["parsing", "parsed", "planned", "done"]
    turn = stream[-1]["turn"]
    assert turn["error"] is None and [e["call"]["tool"] for e in turn["effects"]] == ["filter", "rerank"]
    assert all(i["attributes"]["category"] == "dress" and i["attributes"]["colour"] == "red" for i in turn["feed"])
    state = client.get(f"/api/sessions/{created['session']}").json()
    assert state["turns"] == 1 and len(state["preferences"]["constraints"]) == 2


def test_sessions_are_isolated_and_bad_requests_get_clear_errors(api):
    client = TestClient(api)
    first, second = (client.post("/api/sessions").json()["session"] for _ in range(2))
    client.post(f"/api/sessions/{first}/commands", json={"text": "red dresses"})
    assert client.get(f"/api/sessions/{second}").json()["preferences"]["constraints"] == []
    failed = events(client.post(f"/api/sessions/{second}/commands", json={"text": "something nice"}))[-1]["turn"]
    assert failed["error"] and "not a valid PreferenceUpdate" in failed["error"]
    assert client.get(f"/api/sessions/{second}").json()["preferences"]["constraints"] == []  # nothing lost or leaked
    missing = client.post("/api/sessions/nope/commands", json={"text": "hi"})
    assert missing.status_code == 404 and "no session" in missing.json()["error"]
    empty = client.post(f"/api/sessions/{first}/commands", json={"text": ""})
    assert empty.status_code == 422 and "text" in empty.json()["error"]
    wrong_type = client.post(f"/api/sessions/{first}/commands", json={"text": 42})
    assert wrong_type.status_code == 422
    too_long = client.post(f"/api/sessions/{first}/commands", json={"text": "x" * 501})
    assert too_long.status_code == 422 and "500" in too_long.json()["error"]
    huge = client.post(
        f"/api/sessions/{first}/commands",
        content=b"{" + b" " * 20_000 + b"}",
        headers={"content-type": "application/json"},
    )
    assert huge.status_code == 413
    not_json = client.post(
        f"/api/sessions/{first}/commands", content=b"red dresses", headers={"content-type": "application/json"}
    )
    assert not_json.status_code == 422


def test_concurrent_users(api):
    client = TestClient(api)
    sessions = [client.post("/api/sessions").json()["session"] for _ in range(4)]
    results = {}

    def user(session_id: str, text: str) -> None:
        results[session_id] = events(client.post(f"/api/sessions/{session_id}/commands", json={"text": text}))[-1]

    threads = [
        threading.Thread(target=user, args=(s, "red dresses" if n % 2 else "hello")) for n, s in enumerate(sessions)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(results) == 4
    for n, s in enumerate(sessions):
        assert (results[s]["turn"]["error"] is None) == bool(n % 2)


# -- the page, in a real browser --------------------------------------------------------------------------
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.slow
def test_the_page_in_a_headless_browser(api, tmp_path):
    if CHROMIUM is None:
        unavailable("no chromium on this machine (apt-get install -y chromium)")
    playwright = pytest.importorskip("playwright.sync_api", reason="playwright (dev extra) is not installed")
    server, thread, url = serve_in_thread(api)
    try:
        with playwright.sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path=CHROMIUM,
                args=[
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                    "--no-first-run",
                    "--disable-quic",
                ],
            )
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(f"{url}/")
            expect = playwright.expect
            cards = page.locator("#feed .card")
            expect(cards).to_have_count(10)
            first_before = cards.first.inner_text()
            page.fill("#command", "red dresses please")
            page.click("#send")
            expect(page.locator("#preferences")).to_contain_text("category == dress")
            expect(page.locator("#chain")).to_contain_text("filter")
            expect(page.locator("#status")).to_contain_text("updated in")
            titles = cards.locator("h3").all_inner_texts()
            assert titles and all("dress" in t.lower() and t.lower().startswith("red") for t in titles)
            assert cards.first.inner_text() != first_before
            expect(page.locator("#log")).to_contain_text("s · fake")  # per turn: the time and who answered
            page.fill("#command", "something nice")
            page.click("#send")
            expect(page.locator("#status")).to_contain_text("feed is unchanged")
            assert cards.locator("h3").all_inner_texts() == titles
            page.reload()  # the same session comes back: its feed, preferences and commands
            expect(page.locator("#log")).to_contain_text("red dresses please")
            expect(page.locator("#preferences")).to_contain_text("category == dress")
            assert cards.locator("h3").all_inner_texts() == titles
            shot = tmp_path / "feed.png"
            page.screenshot(path=str(shot), full_page=True)
            assert shot.stat().st_size > 10_000
            browser.close()
    finally:
        server.should_exit = True
        thread.join(10)
