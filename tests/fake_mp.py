"""A local HTTP server speaking the Materials Project API's shape (heartbeat + materials/summary), enough for
`mp_api.client.MPRester`: filters, `_sort_fields`, `_limit`, `_fields`, and the x-api-key check."""

from __future__ import annotations

import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

VALID_KEY = "k" * 32
DOCS = [
    {
        "material_id": "mp-804",
        "formula_pretty": "GaN",
        "elements": ["Ga", "N"],
        "chemsys": "Ga-N",
        "band_gap": 1.73,
        "formation_energy_per_atom": -0.66,
        "is_metal": False,
        "bulk_modulus": {"voigt": 180.0, "reuss": 176.0, "vrh": 178.0},
        "shear_modulus": {"voigt": 108.0, "reuss": 104.0, "vrh": 106.0},
        "n": 2.45,
    },
    {
        "material_id": "mp-2853",
        "formula_pretty": "GaN",
        "elements": ["Ga", "N"],
        "chemsys": "Ga-N",
        "band_gap": 1.56,
        "formation_energy_per_atom": -0.60,
        "is_metal": False,
        "bulk_modulus": None,
        "shear_modulus": None,
        "n": None,
    },
    {
        "material_id": "mp-2657",
        "formula_pretty": "TiO2",
        "elements": ["O", "Ti"],
        "chemsys": "O-Ti",
        "band_gap": 1.78,
        "formation_energy_per_atom": -3.51,
        "is_metal": False,
        "bulk_modulus": None,
        "shear_modulus": None,
        "n": 2.6,
    },
    {
        "material_id": "mp-390",
        "formula_pretty": "TiO2",
        "elements": ["O", "Ti"],
        "chemsys": "O-Ti",
        "band_gap": 2.05,
        "formation_energy_per_atom": -3.46,
        "is_metal": False,
        "bulk_modulus": None,
        "shear_modulus": None,
        "n": None,
    },
    {
        "material_id": "mp-146",
        "formula_pretty": "V",
        "elements": ["V"],
        "chemsys": "V",
        "band_gap": 0.0,
        "formation_energy_per_atom": 0.0,
        "is_metal": True,
        "bulk_modulus": None,
        "shear_modulus": None,
        "n": None,
    },
]


def _matches(doc: dict, params: dict[str, str]) -> bool:
    if "formula" in params and doc["formula_pretty"] not in params["formula"].split(","):
        return False
    if "chemsys" in params and doc["chemsys"] not in params["chemsys"].split(","):
        return False
    if "elements" in params and not set(params["elements"].split(",")) <= set(doc["elements"]):
        return False
    for name, field in (("band_gap", "band_gap"), ("formation_energy", "formation_energy_per_atom")):
        value = doc[field]
        if f"{name}_min" in params and value < float(params[f"{name}_min"]):
            return False
        if f"{name}_max" in params and value > float(params[f"{name}_max"]):
            return False
    return not ("is_metal" in params and str(doc["is_metal"]).lower() != params["is_metal"].lower())


class FakeMPServer:
    def __init__(self, hang: bool = False, trickle: bool = False) -> None:
        self.requests: list[tuple[str, dict, str | None]] = []
        server_self = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                url = urlparse(self.path)
                params = {k: v[-1] for k, v in parse_qs(url.query).items()}
                key = self.headers.get("x-api-key")
                server_self.requests.append((url.path, params, key))
                if hang:
                    threading.Event().wait(30)
                    return
                if trickle:  # a byte every second: no single read ever times out
                    self.wfile.write(b"HTTP/1.1 200 OK\r\n")
                    for _ in range(30):
                        threading.Event().wait(1)
                        self.wfile.write(b"X")
                        self.wfile.flush()
                    return
                if url.path == "/heartbeat":
                    return self._json(
                        200, {"db_version": "2025.09.25", "version": "0.87.0", "access_controlled_batch_ids": []}
                    )
                if url.path.rstrip("/") != "/materials/summary":
                    return self._json(404, {"detail": "Not Found"})
                if key != VALID_KEY:
                    return self._json(401, {"detail": "Invalid API key"})
                docs = [d for d in DOCS if _matches(d, params)]
                if "_sort_fields" in params:
                    field = params["_sort_fields"].lstrip("-")
                    docs.sort(key=lambda d: d[field], reverse=params["_sort_fields"].startswith("-"))
                fields = params.get("_fields", "").split(",")
                limit = int(params.get("_limit", 1000))
                data = [{k: v for k, v in d.items() if k in fields} for d in docs[:limit]]
                return self._json(200, {"data": data, "meta": {"total_doc": len(docs), "max_limit": 1000}})

            def _json(self, status: int, body: dict) -> None:
                payload = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def summary_requests(self) -> list[dict]:
        return [params for path, params, _ in self.requests if path.startswith("/materials/summary")]

    def close(self) -> None:
        """Stop serving, then close the socket. Closing alone leaves `serve_forever` polling a dead socket in a
        busy loop for the rest of the session, which took the GIL and both cores from later model tests."""
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def closed_port_url() -> str:
    """A local URL where nothing listens: connections are refused at once."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/"
