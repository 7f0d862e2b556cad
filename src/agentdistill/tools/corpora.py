"""Built-in corpora, generated from real knowledge bases shipped on PyPI (never typed from memory).

`countries`: one passage per country from the `countryinfo` package (MIT licence): capital, region,
population, area, borders, currencies, languages, calling code.
"""

from __future__ import annotations

from functools import cache
from importlib.metadata import version
from pathlib import Path

from agentdistill.errors import UnknownNameError
from agentdistill.tools.retriever import Passage, Retriever

BUILTIN_CORPORA = {"countries": "countryinfo (MIT): ~250 countries with capitals, borders, currencies, ..."}


def _join(items: list[str] | None) -> str:
    return ", ".join(items) if items else "none"


def countries_passages() -> list[Passage]:
    """One passage per country of the `countryinfo` package, sorted by name."""
    from countryinfo import all_countries

    records = [c.info() for c in all_countries()]
    by_code = {r["ISO"]["alpha3"]: r["name"] for r in records if r.get("ISO")}
    passages = []
    for r in sorted(records, key=lambda r: r["name"]):
        facts = [
            f"{r['name']} is a country in {r.get('subregion') or r.get('region') or 'an unknown region'}"
            + (f" ({r['region']})." if r.get("region") and r.get("subregion") else "."),
            f"Capital: {r.get('capital') or 'none'}.",
            f"Population: {r['population']:,}." if r.get("population") else "",
            f"Area: {r['area']:,} km2." if r.get("area") else "",
            f"Borders: {_join([by_code.get(b, b) for b in r.get('borders') or []])}.",
            f"Currencies (ISO 4217 codes): {_join(r.get('currencies'))}.",
            f"Languages (ISO 639-1 codes): {_join(r.get('languages'))}.",
            f"Demonym: {r['demonym']}." if r.get("demonym") else "",
            f"Calling code: +{r['callingCodes'][0]}." if r.get("callingCodes") and r["callingCodes"][0] else "",
        ]
        code = r.get("ISO", {}).get("alpha3") or r["name"]
        passages.append(Passage(id=f"country:{code}", title=r["name"], text=" ".join(f for f in facts if f)))
    return passages


@cache  # one index in memory per corpus, however many agents and exports ask for it
def builtin_retriever(name: str = "countries") -> Retriever:
    """The built-in corpus `name`, indexed once and cached under the agentdistill cache."""
    from agentdistill.paths import cache_dir

    if name not in BUILTIN_CORPORA:
        raise UnknownNameError(f"unknown built-in corpus {name!r}; known: {', '.join(BUILTIN_CORPORA)}")
    folder: Path = cache_dir() / "indexes" / f"{name}-countryinfo-{version('countryinfo')}"
    if (folder / "meta.json").exists():
        return Retriever.load(folder)
    retriever = Retriever.build(countries_passages())
    retriever.save(folder)
    return retriever
