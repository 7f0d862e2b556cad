"""Catalogues: items with typed attributes, plus the interaction history the base recommender learns from.

- `fashion_catalog(seed)`: the embedded default, a generated clothing catalogue (category, colour, pattern,
  material, season, length, price, description) with generated shoppers' histories; deterministic by seed.
- `load_movielens(path)`: MovieLens 100K in RecBole atomic files (`ml-100k.item`/`.inter`) or GroupLens'
  own `u.item`/`u.data`. It is never shipped: the user gives the path.
- `load_table(path, schema)`: any CSV/JSONL with a declared attribute schema.
"""

from __future__ import annotations

import csv
import json
import random
from functools import lru_cache
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from agentdistill.errors import InputFileError

AttributeKind = Literal["categorical", "multi", "numeric"]


class CatalogError(InputFileError):
    """A catalogue that cannot be loaded; the message names the file and the problem."""


class Attribute(BaseModel):
    name: str
    kind: AttributeKind
    values: list[str] = Field(default_factory=list, description="Known values of categorical/multi attributes.")
    unit: str = ""


class Item(BaseModel):
    id: str
    title: str
    attributes: dict[str, str | float | list[str]]
    text: str = Field(description="Free text for semantic matching (title + attributes + description).")


def number(value: str | float | list[str]) -> float:
    """A numeric attribute's value (stored as a float; a string from a file converts)."""
    if isinstance(value, list):
        raise ValueError(f"expected a number, got the list {value!r}")
    return float(value)


class Catalog(BaseModel):
    name: str
    items: list[Item]
    schema_: list[Attribute] = Field(alias="schema")
    interactions: list[tuple[int, int]] = Field(default_factory=list, description="(user, item index) pairs.")

    model_config = ConfigDict(populate_by_name=True)

    @property
    def attributes(self) -> dict[str, Attribute]:
        return {a.name: a for a in self.schema_}

    def describe(self, max_values: int = 30) -> str:
        """The schema as the parser model reads it."""
        lines = []
        for a in self.schema_:
            if a.kind == "numeric":
                column = [number(i.attributes[a.name]) for i in self.items if a.name in i.attributes]
                lines.append(
                    f"- {a.name} (numeric{', ' + a.unit if a.unit else ''}; {min(column):g} to {max(column):g})"
                )
            else:
                shown = ", ".join(a.values[:max_values]) + (", ..." if len(a.values) > max_values else "")
                lines.append(f"- {a.name} ({'one of' if a.kind == 'categorical' else 'any of'}: {shown})")
        return "\n".join(lines)

    def interaction_matrix(self) -> np.ndarray:
        """Users x items, 1 where the user interacted."""
        users = max((u for u, _ in self.interactions), default=-1) + 1
        matrix = np.zeros((users, len(self.items)), dtype=np.float32)
        for user, item in self.interactions:
            matrix[user, item] = 1.0
        return matrix


# -- the embedded fashion catalogue ---------------------------------------------------------------------
_CATEGORIES = {  # category -> (base price, lengths it comes in)
    "dress": (70, ["mini", "knee", "midi", "long"]),
    "skirt": (45, ["mini", "knee", "midi", "long"]),
    "shirt": (40, ["regular"]),
    "t-shirt": (20, ["regular"]),
    "jeans": (60, ["regular", "cropped"]),
    "trousers": (55, ["regular", "cropped"]),
    "jacket": (110, ["regular", "cropped"]),
    "coat": (160, ["knee", "long"]),
    "sweater": (60, ["regular", "cropped"]),
    "shorts": (30, ["regular"]),
}
_COLOURS = ["black", "white", "red", "blue", "navy", "green", "beige", "pink", "grey", "yellow", "brown"]
_PATTERNS = ["plain", "floral", "striped", "checked", "polka-dot", "animal-print"]
_MATERIALS = {"cotton": 1.0, "linen": 1.2, "denim": 1.1, "wool": 1.6, "silk": 2.0, "polyester": 0.8, "leather": 2.4}
_SEASONS = ["spring", "summer", "autumn", "winter", "all-season"]
_SEASON_OF_MATERIAL = {"linen": ["spring", "summer"], "wool": ["autumn", "winter"], "leather": ["autumn", "winter"]}


@lru_cache(maxsize=4)  # generated once per process; treat the result as read-only
def fashion_catalog(n_items: int = 600, n_users: int = 300, seed: int = 0) -> Catalog:
    """The embedded clothing catalogue with shoppers' histories; the same for the same arguments."""
    r = random.Random(seed)
    items: list[Item] = []
    for index in range(n_items):
        category = r.choice(list(_CATEGORIES))
        base, lengths = _CATEGORIES[category]
        material = r.choice(["denim"] if category == "jeans" else [m for m in _MATERIALS if m != "denim"])
        colour, pattern = r.choice(_COLOURS), r.choices(_PATTERNS, weights=[5, 2, 2, 1, 1, 1])[0]
        season = r.choice(_SEASON_OF_MATERIAL.get(material, _SEASONS))
        length = r.choice(lengths)
        price = round(base * _MATERIALS[material] * r.uniform(0.6, 1.6)) - 0.01
        title = f"{colour.title()} {pattern} {material} {category}"
        description = (
            f"A {length} {pattern} {category} in {colour} {material}, made for {season} wear."
            if length != "regular"
            else f"A {pattern} {category} in {colour} {material} for {season}."
        )
        attributes = {
            "category": category,
            "colour": colour,
            "pattern": pattern,
            "material": material,
            "season": season,
            "length": length,
            "price": float(price),
        }
        items.append(Item(id=f"sku-{index:04d}", title=title, attributes=attributes, text=f"{title}. {description}"))
    schema = [
        Attribute(name="category", kind="categorical", values=list(_CATEGORIES)),
        Attribute(name="colour", kind="categorical", values=_COLOURS),
        Attribute(name="pattern", kind="categorical", values=_PATTERNS),
        Attribute(name="material", kind="categorical", values=list(_MATERIALS)),
        Attribute(name="season", kind="categorical", values=_SEASONS),
        Attribute(name="length", kind="categorical", values=["mini", "knee", "midi", "long", "regular", "cropped"]),
        Attribute(name="price", kind="numeric", unit="USD"),
    ]
    return Catalog(name="fashion", items=items, schema_=schema, interactions=_shoppers(items, n_users, r))


def _shoppers(items: list[Item], n_users: int, r: random.Random) -> list[tuple[int, int]]:
    """Each shopper likes two categories and two colours and buys ~15 items drawn by that taste."""
    pairs = []
    for user in range(n_users):
        categories, colours = set(r.sample(list(_CATEGORIES), 2)), set(r.sample(_COLOURS, 2))
        weights = [
            1 + 6 * (i.attributes["category"] in categories) + 3 * (i.attributes["colour"] in colours) for i in items
        ]
        pairs += [(user, index) for index in set(r.choices(range(len(items)), weights=weights, k=15))]
    return pairs


# -- MovieLens and generic tables -----------------------------------------------------------------------
def load_movielens(path: str | Path) -> Catalog:
    """MovieLens 100K from a folder with RecBole's `ml-100k.item`/`ml-100k.inter` or GroupLens' `u.item`/`u.data`."""
    folder = Path(path)
    if (folder / "ml-100k.item").is_file():
        rows = _read_tsv(folder / "ml-100k.item")
        movies = [
            (
                r["item_id:token"],
                r["movie_title:token_seq"],
                r.get("release_year:token", ""),
                r.get("class:token_seq", "").split(),
            )
            for r in rows
        ]
        pairs = [(r["user_id:token"], r["item_id:token"]) for r in _read_tsv(folder / "ml-100k.inter")]
    elif (folder / "u.item").is_file():
        movies, pairs = _grouplens(folder)
    else:
        raise CatalogError(f"{folder} has neither ml-100k.item (RecBole) nor u.item (GroupLens)")
    items: list[Item] = []
    index_of: dict[str, int] = {}
    for movie_id, title, year, genres in movies:
        attributes: dict = {"genre": genres}
        if str(year).strip().isdigit():  # a few rows say "unknown" (sic)
            attributes["year"] = float(year)
        index_of[movie_id] = len(items)
        items.append(
            Item(
                id=f"ml-{movie_id}",
                title=title,
                attributes=attributes,
                text=f"{title} ({year}). Genres: {', '.join(genres) or 'unknown'}.",
            )
        )
    users = {u: n for n, u in enumerate(dict.fromkeys(u for u, _ in pairs))}
    genres = sorted({g for *_, gs in movies for g in gs})
    return Catalog(
        name="movielens",
        items=items,
        schema_=[Attribute(name="genre", kind="multi", values=genres), Attribute(name="year", kind="numeric")],
        interactions=[(users[u], index_of[i]) for u, i in pairs if i in index_of],
    )


def _read_tsv(path: Path) -> list[dict[str, str]]:
    if not path.is_file():
        raise CatalogError(f"{path} is missing")
    with path.open(encoding="latin-1", newline="") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


def _grouplens(folder: Path):
    names = [
        "unknown",
        "Action",
        "Adventure",
        "Animation",
        "Children's",
        "Comedy",
        "Crime",
        "Documentary",
        "Drama",
        "Fantasy",
        "Film-Noir",
        "Horror",
        "Musical",
        "Mystery",
        "Romance",
        "Sci-Fi",
        "Thriller",
        "War",
        "Western",
    ]
    movies = []
    for line in (folder / "u.item").read_text(encoding="latin-1").splitlines():
        fields = line.split("|")
        if len(fields) < 24:
            continue
        title, date = fields[1], fields[2]
        year = title[-5:-1] if title.endswith(")") and title[-5:-1].isdigit() else date[-4:]
        clean = title[:-7] if title.endswith(")") and title[-5:-1].isdigit() else title
        movies.append(
            (fields[0], clean, year, [g for g, flag in zip(names, fields[5:24], strict=False) if flag == "1"])
        )
    data = folder / "u.data"
    pairs = [tuple(line.split("\t")[:2]) for line in data.read_text().splitlines()] if data.is_file() else []
    return movies, pairs


def load_table(path: str | Path, schema: list[Attribute], title: str = "title", text: str | None = None) -> Catalog:
    """Items from a CSV or JSONL file; `schema` declares which columns are attributes and their kinds."""
    path = Path(path)
    if not path.is_file():
        raise CatalogError(f"{path} not found")
    if path.suffix == ".jsonl":
        rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    else:
        with path.open(encoding="utf-8", newline="") as handle:
            rows = list(csv.DictReader(handle))
    items = []
    for n, row in enumerate(rows):
        if title not in row:
            raise CatalogError(f"{path}: row {n + 1} has no {title!r} column")
        attributes = {}
        for a in schema:
            value = row.get(a.name)
            if value in (None, ""):
                continue
            try:
                attributes[a.name] = (
                    float(value)
                    if a.kind == "numeric"
                    else (value if isinstance(value, list) else str(value).split("|"))
                    if a.kind == "multi"
                    else str(value)
                )
            except ValueError:
                raise CatalogError(f"{path}: row {n + 1}: {a.name}={value!r} is not a number") from None
        body = str(row.get(text, "")) if text else ""
        items.append(
            Item(
                id=str(row.get("id", n)),
                title=str(row[title]),
                attributes=attributes,
                text=f"{row[title]}. {body}".strip(),
            )
        )
    for a in schema:
        if a.kind != "numeric" and not a.values:
            seen = {
                v
                for i in items
                for v in _listed(i.attributes[a.name] if a.kind == "categorical" else i.attributes.get(a.name, []))
                if a.name in i.attributes
            }
            a.values = sorted(str(v) for v in seen)
    return Catalog(name=path.stem, items=items, schema_=schema)


def open_catalog(spec: str) -> Catalog:
    """`default` (the embedded fashion catalogue), `movielens:PATH`, or `csv:PATH` / `jsonl:PATH` (attributes:
    every column but id/title/description; numeric where every value parses as a number)."""
    if spec == "default":
        return fashion_catalog()
    kind, _, path = spec.partition(":")
    if kind == "movielens" and path:
        return load_movielens(path)
    if kind in ("csv", "jsonl") and path:
        return _inferred_table(Path(path))
    raise CatalogError(f"unknown catalogue {spec!r}: use default, movielens:PATH, csv:PATH or jsonl:PATH")


def _inferred_table(path: Path) -> Catalog:
    if not path.is_file():
        raise CatalogError(f"{path} not found")
    with path.open(encoding="utf-8", newline="") as handle:
        rows = (
            list(csv.DictReader(handle))
            if path.suffix != ".jsonl"
            else [json.loads(line) for line in handle if line.strip()]
        )
    if not rows:
        raise CatalogError(f"{path} has no rows")
    columns = [c for c in rows[0] if c not in ("id", "title", "description")]

    def numeric(column: str) -> bool:
        try:
            return all(float(r[column]) is not None for r in rows if r.get(column) not in (None, ""))
        except (TypeError, ValueError):
            return False

    schema = [Attribute(name=c, kind="numeric" if numeric(c) else "categorical") for c in columns]
    return load_table(path, schema, text="description" if "description" in rows[0] else None)


def _listed(value: str | float | list[str]) -> list[str | float]:
    return list(value) if isinstance(value, list) else [value]
