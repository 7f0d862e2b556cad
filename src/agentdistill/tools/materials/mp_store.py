"""`MPStore`: the live Materials Project through `mp_api.client.MPRester`, failing fast instead of hanging.

mp-api's client calls the server's `heartbeat` in its constructor with no timeout, so an unreachable API
would block forever. Here a probe with a timeout runs first, and every client call runs under a deadline:
an unreachable, refused or keyless API fails in seconds with a message that says what to do.
Searches push filters, sorting and limits to the server (`_sort_fields`, `_limit`, chosen `fields`).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from agentdistill.tools.materials.records import (
    MaterialQuery,
    MaterialRecord,
    MaterialsError,
    MaterialsStore,
)

DEFAULT_ENDPOINT = "https://api.materialsproject.org/"
# our property name -> (summary search argument, summary document field)
_MP_NAMES = {
    "band_gap_ev": ("band_gap", "band_gap"),
    "formation_energy_per_atom_ev": ("formation_energy", "formation_energy_per_atom"),
    "bulk_modulus_gpa": ("k_vrh", "bulk_modulus"),
    "shear_modulus_gpa": ("g_vrh", "shear_modulus"),
    "refractive_index": ("n", "n"),
}
_FIELDS = ["material_id", "formula_pretty", "elements", "is_metal", *(doc for _, doc in _MP_NAMES.values())]
T = TypeVar("T")


def _with_deadline(call: Callable[[], T], seconds: float, what: str) -> T:
    """Run `call` in a daemon thread; give up after `seconds` (the thread is abandoned, never waited for)."""
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = call()
        except BaseException as error:
            box["error"] = error

    thread = threading.Thread(target=target, name=f"mp-api {what}", daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        raise MaterialsError(f"Materials Project API: {what} took longer than {seconds:g} s; giving up")
    if "error" in box:
        raise box["error"]
    return box["value"]


class MPStore(MaterialsStore):
    """The Materials Project API (needs `pip install 'agentdistill[mp]'` and an API key).

    The key is `api_key` if given, else the `MP_API_KEY` environment variable. `endpoint` points at another
    server speaking the same API (a mirror, or a test server). `timeout` bounds every request, in seconds.
    """

    name = "mp-api"

    def __init__(self, api_key: str | None = None, endpoint: str | None = None, timeout: float = 10.0) -> None:
        self.api_key = api_key or os.environ.get("MP_API_KEY")
        if not self.api_key:
            raise MaterialsError(
                "no Materials Project API key: pass api_key=... or set MP_API_KEY "
                "(get one at https://next-gen.materialsproject.org/api)"
            )
        if len(self.api_key) != 32:
            raise MaterialsError(f"a Materials Project API key has 32 characters; this one has {len(self.api_key)}")
        self.endpoint = (endpoint or os.environ.get("MP_API_ENDPOINT") or DEFAULT_ENDPOINT).rstrip("/") + "/"
        self.timeout = timeout
        # requests' timeout bounds each socket read, not the request: a server that trickles a byte at a time
        # would hold a plain probe for minutes, so the probe runs under the deadline too
        _with_deadline(self._probe, timeout + 1, "the start-up check")  # +1: a plain read timeout reports first
        self._rester = _with_deadline(self._connect, timeout, "connecting")

    def _probe(self) -> None:
        import requests

        try:
            response = requests.get(self.endpoint + "heartbeat", timeout=self.timeout)
        except requests.RequestException as error:
            raise MaterialsError(
                f"Materials Project API at {self.endpoint} is unreachable "
                f"({type(error).__name__}); use the offline snapshot instead (--store snapshot)"
            ) from None
        if response.status_code >= 500:
            raise MaterialsError(f"Materials Project API at {self.endpoint} answered HTTP {response.status_code}")

    def _connect(self):
        try:
            from mp_api.client import MPRester
        except ImportError:
            raise MaterialsError(
                "the live Materials Project store needs mp-api: pip install 'agentdistill[mp]'"
            ) from None
        return MPRester(api_key=self.api_key, endpoint=self.endpoint, mute_progress_bars=True, use_document_model=False)

    def search(self, query: MaterialQuery) -> list[MaterialRecord]:
        arguments = self.search_arguments(query)
        documents = _with_deadline(lambda: self._call(arguments), self.timeout * 3, "search")
        return [record_from_summary(doc) for doc in documents][: query.limit]

    def _call(self, arguments: dict) -> list[dict]:
        from mp_api.client.core import MPRestError

        try:
            return self._rester.materials.summary.search(**arguments)
        except MPRestError as error:
            message = str(error)
            if any(code in message for code in ("401", "403")):
                raise MaterialsError(
                    "the Materials Project rejected the API key (HTTP 401/403): check MP_API_KEY"
                ) from None
            raise MaterialsError(f"Materials Project API error: {message[:300]}") from None

    @staticmethod
    def search_arguments(query: MaterialQuery) -> dict:
        """`MPRester.materials.summary.search` arguments for `query`: filters, sort and limit go to the server."""
        if query.is_empty():
            raise MaterialsError("give at least one filter: an unfiltered search would fetch the whole database")
        arguments: dict[str, Any] = {"fields": _FIELDS, "num_chunks": 1, "chunk_size": query.limit}
        for name in ("formula", "chemsys", "elements", "exclude_elements", "num_elements", "is_metal"):
            if getattr(query, name) is not None:
                arguments[name] = getattr(query, name)
        for name, bounds in query.ranges().items():
            arguments[_MP_NAMES[name][0]] = tuple(bounds)
        if query.sort:
            sort_name = _MP_NAMES[query.sort.lstrip("-")][1]
            arguments["_sort_fields"] = ("-" if query.sort.startswith("-") else "") + sort_name
        return arguments

    def close(self) -> None:
        session = getattr(self._rester, "session", None)
        if session is not None:
            session.close()


def record_from_summary(document: dict) -> MaterialRecord:
    """A summary document (dict form) as a `MaterialRecord`; moduli are the VRH averages."""
    from agentdistill.tools.materials.records import reduced_formula

    def vrh(value: Any) -> float | None:
        return value.get("vrh") if isinstance(value, dict) else value

    formula = document.get("formula_pretty") or ""
    return MaterialRecord(
        material_id=str(document["material_id"]) if document.get("material_id") else None,
        formula=formula,
        reduced_formula=reduced_formula(formula),
        elements=sorted(str(e) for e in document.get("elements") or []),
        band_gap_ev=document.get("band_gap"),
        formation_energy_per_atom_ev=document.get("formation_energy_per_atom"),
        is_metal=document.get("is_metal"),
        bulk_modulus_gpa=vrh(document.get("bulk_modulus")),
        shear_modulus_gpa=vrh(document.get("shear_modulus")),
        refractive_index=document.get("n"),
        source="mp-api",
    )
