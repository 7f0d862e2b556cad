"""The materials tools as agents see them: typed functions their code calls, bound to one store."""

from __future__ import annotations

from functools import lru_cache

from agentdistill.tools.base import Tool
from agentdistill.tools.materials.analysis import composition_summary, structure_summary
from agentdistill.tools.materials.records import MaterialQuery, MaterialsStore, Range

MATERIALS_TOOL_NAMES = ("search_materials", "get_properties", "analyze_composition", "analyze_structure")


def materials_tools(store: MaterialsStore | None = None) -> list[Tool]:
    """`search_materials`, `get_properties`, `analyze_composition` and `analyze_structure` over `store`
    (default: the embedded offline snapshot)."""
    if store is None:
        store = default_store()

    def search_materials(
        formula: str | None = None,
        chemsys: str | None = None,
        elements: list[str] | None = None,
        exclude_elements: list[str] | None = None,
        num_elements: int | None = None,
        band_gap_ev: Range | None = None,
        formation_energy_per_atom_ev: Range | None = None,
        is_metal: bool | None = None,
        bulk_modulus_gpa: Range | None = None,
        shear_modulus_gpa: Range | None = None,
        refractive_index: Range | None = None,
        sort: str | None = None,
        limit: int = 20,
    ) -> list[dict]:
        """Search Materials Project entries; every given filter must hold. Ranges are (min, max) with None for
        an open end, e.g. band_gap_ev=(3, None). chemsys="O-Ti" means exactly Ti and O; elements=["Ti"] means
        containing Ti. sort is a property name, "-" first for descending, e.g. sort="-band_gap_ev".
        Returns a list of dicts with keys formula, reduced_formula, elements, band_gap_ev,
        formation_energy_per_atom_ev, is_metal, bulk_modulus_gpa, shear_modulus_gpa, refractive_index
        (a key is absent when unknown). One formula can have several entries (polymorphs)."""
        query = MaterialQuery(
            formula=formula,
            chemsys=chemsys,
            elements=elements,
            exclude_elements=exclude_elements,
            num_elements=num_elements,
            band_gap_ev=band_gap_ev,
            formation_energy_per_atom_ev=formation_energy_per_atom_ev,
            is_metal=is_metal,
            bulk_modulus_gpa=bulk_modulus_gpa,
            shear_modulus_gpa=shear_modulus_gpa,
            refractive_index=refractive_index,
            sort=sort,
            limit=limit,
        )
        return [r.as_tool_value() for r in store.search(query)]

    def get_properties(formula: str) -> list[dict]:
        """Every entry of `formula` (any way of writing it: "GaN", "Ga2N2") with its known properties, as a
        list of dicts like search_materials returns (each value a plain number or bool, a key absent when
        unknown); several entries are polymorphs."""
        return [r.as_tool_value() for r in store.get_properties(formula)]

    def analyze_composition(formula: str) -> dict:
        """pymatgen composition analysis: reduced_formula, molar_mass_g_per_mol (of the formula as written),
        reduced_molar_mass_g_per_mol, atomic_fractions, weight_fractions, oxidation_state_guesses."""
        return composition_summary(formula)

    def analyze_structure(cif: str) -> dict:
        """pymatgen structure analysis of a CIF text: formula, space_group_symbol, space_group_number,
        crystal_system, lattice (a, b, c in Angstrom; alpha, beta, gamma in degrees), volume_a3,
        density_g_cm3, num_sites."""
        return structure_summary(cif)

    return [Tool(f) for f in (search_materials, get_properties, analyze_composition, analyze_structure)]


@lru_cache(maxsize=1)
def default_store() -> MaterialsStore:
    """The embedded snapshot, loaded once per process."""
    from agentdistill.tools.materials.snapshot import SnapshotStore

    return SnapshotStore()


@lru_cache(maxsize=1)
def default_materials_tools() -> dict[str, Tool]:
    return {t.name: t for t in materials_tools()}
