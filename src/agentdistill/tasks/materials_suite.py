"""`materials`: questions over the Materials Project snapshot, with gold answers computed from it.

Lookups ask for a property of a formula that has exactly one entry with that property (polymorphs would
make "the" value ambiguous); comparisons, filters/counts, extremes and derived quantities (Pugh's ratio,
molar mass) follow. Lookups of band gap and formation energy are regression-style: `eval` reports their MAE.
"""

from __future__ import annotations

import random
from collections.abc import Callable

import pandas as pd

from agentdistill.tools.materials.records import MaterialQuery
from agentdistill.tools.materials.snapshot import SnapshotStore

# question, gold answers, metric, template, tolerances/extra metadata
Question = tuple[str, list[str], str, str, dict]
REGRESSION_TEMPLATES = {"band_gap": "eV", "formation_energy": "eV/atom"}
_SIMPLE_ELEMENTS = 3  # questions stay on compounds of at most three elements


def _unique_with(table: pd.DataFrame, column: str) -> pd.DataFrame:
    """Rows of formulas (reduced) that have exactly one entry with `column` known."""
    known = table[table[column].notna() & (table["_num_elements"].between(2, _SIMPLE_ELEMENTS))]
    counts = known["reduced_formula"].value_counts()
    return known[known["reduced_formula"].map(counts) == 1]


def _num(value: float, digits: int = 4) -> str:
    return f"{round(float(value), digits):g}"


def _band_gap(r: random.Random, store: SnapshotStore, pools: dict) -> Question:
    row = pools["gap"].iloc[r.randrange(len(pools["gap"]))]
    return (
        f"What is the PBE band gap of {row.reduced_formula} in the Materials Project, in eV?",
        [_num(row.band_gap_ev)],
        "numeric",
        "band_gap",
        {"rel_tol": 0.02, "abs_tol": 0.02},
    )


def _formation_energy(r: random.Random, store: SnapshotStore, pools: dict) -> Question:
    row = pools["eform"].iloc[r.randrange(len(pools["eform"]))]
    return (
        f"What is the formation energy per atom of {row.reduced_formula} in the Materials Project, in eV/atom?",
        [_num(row.formation_energy_per_atom_ev)],
        "numeric",
        "formation_energy",
        {"rel_tol": 0.02, "abs_tol": 0.01},
    )


def _bulk_modulus(r: random.Random, store: SnapshotStore, pools: dict) -> Question:
    row = pools["moduli"].iloc[r.randrange(len(pools["moduli"]))]
    return (
        f"What is the Voigt-Reuss-Hill bulk modulus of {row.reduced_formula} in the Materials Project, in GPa?",
        [_num(row.bulk_modulus_gpa, 1)],
        "numeric",
        "bulk_modulus",
        {"rel_tol": 0.02},
    )


def _pugh_ratio(r: random.Random, store: SnapshotStore, pools: dict) -> Question | None:
    row = pools["moduli"].iloc[r.randrange(len(pools["moduli"]))]
    if not row.shear_modulus_gpa:
        return None
    ratio = row.bulk_modulus_gpa / row.shear_modulus_gpa
    return (
        f"What is Pugh's ratio (bulk modulus divided by shear modulus, VRH averages) of {row.reduced_formula} "
        "in the Materials Project?",
        [_num(ratio, 3)],
        "numeric",
        "pugh_ratio",
        {"rel_tol": 0.02},
    )


def _compare_formation(r: random.Random, store: SnapshotStore, pools: dict) -> Question | None:
    pool = pools["eform_oxides"]
    a, b = (pool.iloc[r.randrange(len(pool))] for _ in range(2))
    if (
        a.reduced_formula == b.reduced_formula
        or abs(a.formation_energy_per_atom_ev - b.formation_energy_per_atom_ev) < 0.1
    ):
        return None
    lower = a if a.formation_energy_per_atom_ev < b.formation_energy_per_atom_ev else b
    return (
        f"Which has the lower formation energy per atom in the Materials Project, {a.reduced_formula} or "
        f"{b.reduced_formula}?",
        [lower.reduced_formula],
        "alias",
        "compare_formation",
        {},
    )


def _is_metal(r: random.Random, store: SnapshotStore, pools: dict) -> Question:
    row = (
        pools["gap"].iloc[r.randrange(len(pools["gap"]))]
        if r.random() < 0.5
        else pools["metal"].iloc[r.randrange(len(pools["metal"]))]
    )
    return (
        f"Is {row.reduced_formula} a metal according to the Materials Project? Answer yes or no.",
        ["yes" if row.is_metal else "no"],
        "alias",
        "is_metal",
        {},
    )


def _count_oxides(r: random.Random, store: SnapshotStore, pools: dict) -> Question | None:
    partner = r.choice(pools["oxide_partners"])
    threshold = r.choice([0.5, 1.0, 2.0, 3.0])
    count = store.count(MaterialQuery(chemsys=f"{partner}-O", band_gap_ev=(threshold, None)))
    if not 1 <= count <= 25:
        return None
    return (
        f"How many Materials Project entries of the binary {partner}-O system have a PBE band gap of at least "
        f"{threshold:g} eV?",
        [str(count)],
        "numeric",
        "count_filter",
        {"rel_tol": 0.0, "abs_tol": 0.0},
    )


def _widest_gap(r: random.Random, store: SnapshotStore, pools: dict) -> Question | None:
    partner = r.choice(pools["oxide_partners"])
    best = store.search(MaterialQuery(chemsys=f"{partner}-O", sort="-band_gap_ev", limit=2))
    if len(best) < 2 or best[1].band_gap_ev is None or best[0].reduced_formula == best[1].reduced_formula:
        return None
    return (
        f"Which compound of the binary {partner}-O system has the largest PBE band gap in the Materials Project? "
        "Give its reduced formula.",
        [best[0].reduced_formula],
        "alias",
        "widest_gap",
        {},
    )


def _molar_mass(r: random.Random, store: SnapshotStore, pools: dict) -> Question:
    from pymatgen.core import Composition

    row = pools["eform"].iloc[r.randrange(len(pools["eform"]))]
    mass = Composition(row.reduced_formula).weight
    return (
        f"What is the molar mass of {row.reduced_formula} in g/mol?",
        [_num(mass, 3)],
        "numeric",
        "molar_mass",
        {"rel_tol": 1e-3},
    )


TEMPLATES: list[Callable[[random.Random, SnapshotStore, dict], Question | None]] = [
    _band_gap,
    _formation_energy,
    _band_gap,
    _formation_energy,
    _bulk_modulus,
    _pugh_ratio,
    _compare_formation,
    _is_metal,
    _count_oxides,
    _widest_gap,
    _molar_mass,
]


def _pools(store: SnapshotStore) -> dict:
    table = store.table
    gap = _unique_with(table, "band_gap_ev")
    eform = _unique_with(table, "formation_energy_per_atom_ev")
    oxides = eform[eform["_element_set"].map(lambda s: "O" in s) & (eform["_num_elements"] == 2)]
    binary_oxides = table[(table["_num_elements"] == 2) & table["_element_set"].map(lambda s: "O" in s)]
    partners = binary_oxides["_element_set"].map(lambda s: next(iter(s - {"O"})))
    counts = partners.value_counts()
    return {
        "gap": gap[gap["band_gap_ev"] > 0.2],
        "metal": gap[gap["is_metal"] == True],  # noqa: E712 - pandas mask
        "eform": eform,
        "eform_oxides": oxides,
        "moduli": _unique_with(table, "bulk_modulus_gpa"),
        "oxide_partners": sorted(element for element, n in counts.items() if n >= 3),
    }


def generate(n: int, seed: int = 0, store: SnapshotStore | None = None) -> list[Question]:
    """`n` distinct questions, deterministic for a seed and a snapshot."""
    store = store or SnapshotStore()
    pools = _pools(store)
    r = random.Random(seed)
    questions: list[Question] = []
    seen: set[str] = set()
    misses = [0] * len(TEMPLATES)  # a template that keeps repeating itself has run out of distinct questions
    attempt = 0
    while len(questions) < n:
        live = [i for i, m in enumerate(misses) if m < 200]
        if not live:
            raise ValueError(f"the snapshot yields only {len(questions)} distinct materials questions, not {n}")
        index = live[attempt % len(live)]
        attempt += 1
        made = TEMPLATES[index](r, store, pools)
        if made and made[0] not in seen:
            seen.add(made[0])
            questions.append(made)
        else:
            misses[index] += 1
    return questions
