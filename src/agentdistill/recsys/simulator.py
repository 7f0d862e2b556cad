"""The user simulator: a hidden target (attribute constraints drawn from a real catalogue item) that a simulated
user reveals one command per turn, in template language or paraphrased by a model, judging each new feed."""

from __future__ import annotations

import math
import random

from pydantic import BaseModel

from agentdistill.agents.prompts import render
from agentdistill.llm import AgentChatModel, SamplingParams
from agentdistill.recsys.catalog import Catalog, CatalogError, Item, number
from agentdistill.recsys.feed_tools import FEED_SIZE
from agentdistill.recsys.preferences import Constraint, PreferenceUpdate

_PLURAL_SAME = {"jeans", "trousers", "shorts"}


class Target(BaseModel):
    """What the simulated user is after; the target items are those meeting every constraint."""

    anchor: str
    constraints: list[Constraint]

    def item_indices(self, catalog: Catalog) -> set[int]:
        return {n for n, item in enumerate(catalog.items) if all(c.holds(item) for c in self.constraints)}


class Judgement(BaseModel):
    recall: float
    ndcg: float
    hits: int
    passed: bool


def paraphrase_line(reply: str) -> str | None:
    """The paraphrased command in a model's reply: its first line that is not a preamble ("Sure, here is...:")
    nor empty, unquoted; None when there is none (the caller keeps the template command)."""
    for line in reply.splitlines():
        line = line.strip().strip('"').strip()
        if line and not line.endswith(":") and len(line) <= 200:
            return line
    return None


def judge(feed: list[int], targets: set[int], k: int = FEED_SIZE) -> Judgement:
    """Recall@k and NDCG@k with binary relevance; passed when at least half the reachable targets are shown."""
    relevant = [1.0 if i in targets else 0.0 for i in feed[:k]]
    ideal = min(len(targets), k)
    dcg = sum(r / math.log2(n + 2) for n, r in enumerate(relevant))
    idcg = sum(1 / math.log2(n + 2) for n in range(ideal))
    recall = sum(relevant) / ideal if ideal else 0.0
    return Judgement(recall=recall, ndcg=dcg / idcg if idcg else 0.0, hits=int(sum(relevant)), passed=recall >= 0.5)


def draw_target(catalog: Catalog, r: random.Random) -> Target:
    """Constraints describing a random anchor item: its kind, its colour or decade, a price cap or an exclusion."""
    for _ in range(100):
        anchor = r.choice(catalog.items)
        constraints = (
            _fashion_target(anchor, catalog, r)
            if "category" in anchor.attributes
            else _movie_target(anchor, catalog, r)
        )
        target = Target(anchor=anchor.id, constraints=constraints)
        if constraints and 1 <= len(target.item_indices(catalog)) <= 40:
            return target
    raise CatalogError(f"no usable simulation target in catalogue {catalog.name!r}")


def _fashion_target(anchor: Item, catalog: Catalog, r: random.Random) -> list[Constraint]:
    a = anchor.attributes
    constraints = [
        Constraint(attribute="category", op="==", value=a["category"]),
        Constraint(attribute="colour", op="==", value=a["colour"]),
    ]
    if r.random() < 0.6:
        cap = 50 * math.ceil((number(a["price"]) + 1) / 50)
        constraints.append(Constraint(attribute="price", op="<", value=float(cap)))
    else:
        others = [p for p in catalog.attributes["pattern"].values if p != a["pattern"] and p != "plain"]
        constraints.append(Constraint(attribute="pattern", op="!=", value=r.choice(others)))
    return constraints


def _movie_target(anchor: Item, catalog: Catalog, r: random.Random) -> list[Constraint]:
    genres, year = anchor.attributes.get("genre") or [], anchor.attributes.get("year")
    if not isinstance(genres, list) or not genres or year is None:
        return []
    decade = 10 * int(number(year) // 10)
    constraints = [
        Constraint(attribute="genre", op="==", value=r.choice(genres)),
        Constraint(attribute="year", op="between", value=[float(decade), float(decade + 9)]),
    ]
    excluded = [g for g in catalog.attributes["genre"].values if g not in genres and g != "unknown"]
    constraints.append(Constraint(attribute="genre", op="!=", value=r.choice(excluded)))
    return constraints


def template_command(constraint: Constraint, r: random.Random) -> str:
    """How a user says one constraint, in one of a few phrasings."""
    v = constraint.value
    if constraint.attribute == "category":
        noun = v if v in _PLURAL_SAME else f"{v}es" if str(v).endswith("ss") else f"{v}s"
        return r.choice([f"show me {noun}", f"I'm looking for {noun}", f"{noun} please"])
    if constraint.attribute == "price":
        return r.choice([f"under ${v:g}", f"nothing over ${v:g}", f"keep it below {v:g} dollars"])
    if constraint.attribute == "year" and isinstance(v, list):
        return r.choice([f"from the {int(v[0])}s", f"movies made between {int(v[0])} and {int(v[1])}"])
    if constraint.op in ("!=", "not_in"):
        return r.choice([f"no {v}", f"nothing {v}, please", f"I don't want {v}"]) + (
            " movies" if constraint.attribute == "genre" else " patterns" if constraint.attribute == "pattern" else ""
        )
    if constraint.attribute == "genre":
        return r.choice([f"show me {v} movies", f"I'm in the mood for {v}", f"{v} films please"])
    return r.choice([f"in {v}", f"only {v} ones", f"make it {v}"])


class SimulatedUser:
    """Reveals one hidden constraint per turn; once all are said, asks for more of the anchor's kind."""

    def __init__(
        self, catalog: Catalog, target: Target, r: random.Random, paraphraser: AgentChatModel | None = None
    ) -> None:
        self.catalog, self.target, self.r, self.paraphraser = catalog, target, r, paraphraser
        self.targets = target.item_indices(catalog)
        self.unsaid = list(target.constraints)
        self.anchor = next(i for i in catalog.items if i.id == target.anchor)
        self.revealed: Constraint | None = None  # what the last command said (None: "more like ...")

    def next_command(self) -> str:
        self.revealed = self.unsaid.pop(0) if self.unsaid else None
        text = template_command(self.revealed, self.r) if self.revealed else f"more like {self.anchor.title}"
        return self._paraphrase(text) if self.paraphraser else text

    def parse_was_right(self, update: PreferenceUpdate | None) -> bool:
        """Whether the parser's update did what the last command said, whatever earlier turns did: the constraint
        just revealed is there (on the catalogue, the same items pass), nothing added excludes the item the user
        is after, and nothing the user wants was removed or reset."""
        if update is None or update.reset:
            return False
        wanted = {c.attribute for c in self.target.constraints}
        if wanted & set(update.remove_constraints) or not all(c.holds(self.anchor) for c in update.add_constraints):
            return False
        if self.revealed is None:
            return True
        said = [c for c in update.add_constraints if c.attribute == self.revealed.attribute]
        return bool(said) and self._passing(said) == self._passing([self.revealed])

    def _passing(self, constraints: list[Constraint]) -> set[int]:
        return {n for n, item in enumerate(self.catalog.items) if all(c.holds(item) for c in constraints)}

    def _paraphrase(self, text: str) -> str:
        assert self.paraphraser is not None
        prompt = [{"role": "user", "content": render("recbot", "paraphrase", command=text)}]
        said = self.paraphraser.complete(prompt, SamplingParams(max_new_tokens=48))[0].text
        return paraphrase_line(said) or text

    def judge(self, feed: list[int]) -> Judgement:
        return judge(feed, self.targets)
