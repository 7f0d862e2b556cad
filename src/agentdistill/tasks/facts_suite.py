"""`facts`: single- and multi-hop questions over the `countryinfo` knowledge base (the same data as the
built-in `countries` retrieval corpus), some needing computation. Small models cannot know these
figures: they must retrieve them."""

from __future__ import annotations

import random
from collections.abc import Callable
from functools import lru_cache
from typing import Any

Question = tuple[str, list[str], str, str]  # question, gold answers, metric, template name


@lru_cache(maxsize=1)
def countries() -> dict[str, dict[str, Any]]:
    """Countries with a capital, a population and an area, by name."""
    from countryinfo import all_countries

    records = [c.info() for c in all_countries()]
    by_code = {r["ISO"]["alpha3"]: r["name"] for r in records if r.get("ISO")}
    usable: dict[str, dict[str, Any]] = {}
    for info in records:
        if info.get("capital") and info.get("population") and info.get("area"):
            row = dict(info, neighbours=[by_code[b] for b in info.get("borders") or [] if b in by_code])
            usable[str(row["name"])] = row
    return usable


def _density(r: dict) -> float:
    return r["population"] / r["area"]


def _capital(r: random.Random, data: dict, c: dict) -> Question:
    return f"What is the capital of {c['name']}?", [c["capital"]], "alias", "capital"


def _currency_via_capital(r: random.Random, data: dict, c: dict) -> Question | None:
    if not c.get("currencies"):
        return None
    return (
        f"What is the ISO 4217 code of a currency used in the country whose capital is {c['capital']}?",
        list(c["currencies"]),
        "alias",
        "currency_via_capital",
    )


def _density_q(r: random.Random, data: dict, c: dict) -> Question:
    return (
        f"What is the population density of {c['name']} in people per km2, rounded to one decimal place?",
        [f"{_density(c):.1f}"],
        "numeric",
        "density",
    )


def _larger_population(r: random.Random, data: dict, c: dict) -> Question | None:
    other = data[r.choice(sorted(data))]
    if other["name"] == c["name"] or other["population"] == c["population"]:
        return None
    bigger = max(c, other, key=lambda x: x["population"])["name"]
    return (
        f"Which country has the larger population, {c['name']} or {other['name']}?",
        [bigger],
        "alias",
        "larger_population",
    )


def _neighbour_count(r: random.Random, data: dict, c: dict) -> Question | None:
    if not c["neighbours"]:
        return None
    return f"How many countries border {c['name']}?", [str(len(c["neighbours"]))], "numeric", "neighbour_count"


def _largest_neighbour_density(r: random.Random, data: dict, c: dict) -> Question | None:
    neighbours = [data[n] for n in c["neighbours"] if n in data]
    if len(neighbours) < 2:
        return None
    largest = max(neighbours, key=lambda x: x["area"])
    return (
        f"What is the population density, in people per km2 rounded to one decimal place, of the largest "
        f"(by area) country bordering {c['name']}?",
        [f"{_density(largest):.1f}"],
        "numeric",
        "largest_neighbour_density",
    )


def _region_via_capital(r: random.Random, data: dict, c: dict) -> Question | None:
    if not c.get("subregion"):
        return None
    return (
        f"In which subregion of the world is the country whose capital is {c['capital']}?",
        [c["subregion"]],
        "alias",
        "subregion_via_capital",
    )


TEMPLATES: list[Callable[[random.Random, dict, dict], Question | None]] = [
    _capital,
    _currency_via_capital,
    _density_q,
    _larger_population,
    _neighbour_count,
    _largest_neighbour_density,
    _region_via_capital,
]


def generate(count: int, seed: int = 0) -> list[Question]:
    """`count` questions cycling through the templates over randomly drawn countries; deterministic by seed."""
    data = countries()
    names = sorted(data)
    r = random.Random(seed)
    questions: list[Question] = []
    attempts = 0
    while len(questions) < count and attempts < 50 * count:
        template = TEMPLATES[len(questions) % len(TEMPLATES)]
        attempts += 1
        question = template(r, data, data[r.choice(names)])
        if question is not None and question[0] not in {q[0] for q in questions}:
            questions.append(question)
    return questions
