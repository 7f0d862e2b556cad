"""The shapes every `MaterialsStore` speaks: a `MaterialQuery` in, `MaterialRecord`s out.

Property names carry their units, so a value never travels without one (`band_gap_ev`, `bulk_modulus_gpa`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from functools import lru_cache

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from agentdistill.errors import AgentDistillError

# property name -> (unit, description); the same names in records, queries, snapshots and tools
PROPERTIES: dict[str, tuple[str, str]] = {
    "band_gap_ev": ("eV", "PBE band gap"),
    "formation_energy_per_atom_ev": ("eV/atom", "formation energy per atom"),
    "is_metal": ("", "metallic (zero band gap)"),
    "bulk_modulus_gpa": ("GPa", "Voigt-Reuss-Hill bulk modulus"),
    "shear_modulus_gpa": ("GPa", "Voigt-Reuss-Hill shear modulus"),
    "refractive_index": ("", "refractive index n"),
}
NUMERIC_PROPERTIES = [p for p in PROPERTIES if p != "is_metal"]
Range = tuple[float | None, float | None]


class MaterialsError(AgentDistillError, RuntimeError):
    """A materials store could not answer (bad query, unreachable API, rejected key); the message says why."""


@lru_cache(maxsize=65536)
def reduced_formula(formula: str) -> str:
    """`Ga2N2` -> `GaN`; raises MaterialsError for text that is not a chemical formula."""
    return parse_composition(formula).reduced_formula


def parse_composition(formula: str):
    """A pymatgen `Composition` of real elements; raises MaterialsError for anything else."""
    from pymatgen.core import Composition, Element

    try:
        composition = Composition(formula)
    except Exception as error:
        raise MaterialsError(f"{formula!r} is not a chemical formula ({error})") from None
    unknown = [str(e) for e in composition.elements if not isinstance(e, Element)]
    if not composition.elements or unknown:
        raise MaterialsError(
            f"{formula!r} is not a chemical formula" + (f" ({', '.join(unknown)} is not an element)" if unknown else "")
        )
    return composition


def normalize_chemsys(chemsys: str) -> str:
    """`O-Ti` / `Ti-O` / `TiO` -> `O-Ti` (elements sorted, dash-joined), as the Materials Project writes it."""
    from pymatgen.core import Element

    parts = chemsys.replace(" ", "").split("-") if "-" in chemsys else [str(e) for e in _elements_of(chemsys)]
    try:
        return "-".join(sorted({str(Element(p)) for p in parts}))
    except ValueError as error:
        raise MaterialsError(f"chemical system {chemsys!r}: {error}") from None


def _element_symbols(names: list[str]) -> list[str]:
    """'ti' / 'Ti' -> 'Ti'; anything that is not an element raises MaterialsError."""
    from pymatgen.core import Element

    symbols = []
    for name in names:
        try:
            symbols.append(str(Element(name.strip().capitalize())))
        except ValueError:
            raise MaterialsError(f"{name!r} is not a chemical element") from None
    return symbols


def _elements_of(formula: str) -> list[str]:
    return [str(e) for e in parse_composition(formula).elements]


class MaterialRecord(BaseModel):
    """One computed material entry. Several entries can share a formula: they are polymorphs."""

    model_config = ConfigDict(extra="forbid")

    material_id: str | None = Field(None, description="Materials Project id (mp-...) where the source knows it.")
    formula: str = Field(description="Formula as the source gives it (the unit cell's, for the snapshot).")
    reduced_formula: str
    elements: list[str]
    band_gap_ev: float | None = None
    formation_energy_per_atom_ev: float | None = None
    is_metal: bool | None = None
    bulk_modulus_gpa: float | None = None
    shear_modulus_gpa: float | None = None
    refractive_index: float | None = None
    source: str

    def as_tool_value(self) -> dict:
        """What the agent's code receives: the known values only, so prints stay short."""
        return {k: v for k, v in self.model_dump().items() if v is not None}


class MaterialQuery(BaseModel):
    """Filters of a materials search; every given filter must hold (AND). Ranges are `(min, max)`, inclusive,
    either end may be None."""

    model_config = ConfigDict(extra="forbid")

    formula: str | list[str] | None = None
    chemsys: str | None = Field(None, description="Exactly these elements, e.g. 'Ti-O' (binary Ti oxides).")
    elements: list[str] | None = Field(None, description="Contains at least these elements.")
    exclude_elements: list[str] | None = None
    num_elements: int | None = Field(None, ge=1, le=10)
    band_gap_ev: Range | None = None
    formation_energy_per_atom_ev: Range | None = None
    is_metal: bool | None = None
    bulk_modulus_gpa: Range | None = None
    shear_modulus_gpa: Range | None = None
    refractive_index: Range | None = None
    sort: str | None = Field(None, description="A property name; prefix '-' for descending.")
    limit: int = Field(20, ge=1, le=1000)

    @field_validator("sort")
    @classmethod
    def _known_sort(cls, sort: str | None) -> str | None:
        if sort is not None and sort.lstrip("-") not in NUMERIC_PROPERTIES:
            raise ValueError(f"sort must be one of {', '.join(NUMERIC_PROPERTIES)} (prefix '-' to sort descending)")
        return sort

    @model_validator(mode="after")
    def _normalized(self) -> MaterialQuery:
        if isinstance(self.formula, str):
            self.formula = reduced_formula(self.formula)
        elif self.formula is not None:
            self.formula = [reduced_formula(f) for f in self.formula]
        if self.chemsys:
            self.chemsys = normalize_chemsys(self.chemsys)
        if self.elements:
            self.elements = _element_symbols(self.elements)
        if self.exclude_elements:
            self.exclude_elements = _element_symbols(self.exclude_elements)
        for name in NUMERIC_PROPERTIES:
            bounds = getattr(self, name)
            if bounds is not None and None not in bounds and bounds[0] > bounds[1]:
                raise ValueError(f"{name}: min {bounds[0]} is above max {bounds[1]}")
        return self

    def ranges(self) -> dict[str, Range]:
        return {name: getattr(self, name) for name in NUMERIC_PROPERTIES if getattr(self, name) is not None}

    def is_empty(self) -> bool:
        filters = self.model_dump(exclude={"sort", "limit"}, exclude_none=True)
        return not filters


class MaterialsStore(ABC):
    """Where materials data comes from: the offline snapshot or the live Materials Project."""

    name: str

    @abstractmethod
    def search(self, query: MaterialQuery) -> list[MaterialRecord]:
        """Entries matching every filter of `query`, sorted as asked, at most `query.limit`."""

    def get_properties(self, formula: str) -> list[MaterialRecord]:
        """Every entry (polymorph) of `formula`, most stable first where formation energies are known."""
        return self.search(MaterialQuery(formula=formula, sort="formation_energy_per_atom_ev", limit=200))
