"""pymatgen helpers the materials agent calls: composition analysis from a formula, structure analysis from
a CIF. Inputs come from model-written code, so sizes are bounded and every failure is a readable error."""

from __future__ import annotations

from agentdistill.tools.materials.records import MaterialsError, parse_composition

MAX_CIF_CHARS = 200_000
MAX_SITES = 500
_MAX_ATOMS_FOR_OXIDATION_GUESS = 40  # the guesser is combinatorial; beyond this it takes too long


def composition_summary(formula: str) -> dict:
    """Reduced formula, molar mass, atomic and weight fractions and oxidation-state guesses of `formula`."""
    composition = parse_composition(formula)
    reduced = composition.reduced_composition
    guesses: list[dict] = []
    if reduced.num_atoms <= _MAX_ATOMS_FOR_OXIDATION_GUESS:
        guesses = [
            {str(el): round(float(v), 3) for el, v in guess.items()}
            for guess in reduced.oxi_state_guesses(max_sites=-1)[:3]
        ]
    return {
        "formula": composition.formula.replace(" ", ""),
        "reduced_formula": composition.reduced_formula,
        "num_atoms": float(composition.num_atoms),
        "molar_mass_g_per_mol": round(float(composition.weight), 4),
        "reduced_molar_mass_g_per_mol": round(float(reduced.weight), 4),
        "atomic_fractions": {str(el): round(composition.get_atomic_fraction(el), 6) for el in composition.elements},
        "weight_fractions": {str(el): round(composition.get_wt_fraction(el), 6) for el in composition.elements},
        "oxidation_state_guesses": guesses,
    }


def structure_summary(cif: str) -> dict:
    """Formula, space group, crystal system, lattice, volume and density of the first structure in `cif`."""
    import warnings

    from pymatgen.core import Structure
    from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

    if len(cif) > MAX_CIF_CHARS:
        raise MaterialsError(f"CIF text is {len(cif):,} characters; the limit is {MAX_CIF_CHARS:,}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            structure = Structure.from_str(cif, fmt="cif")
    except Exception as error:
        raise MaterialsError(f"could not read the CIF: {type(error).__name__}: {str(error)[:200]}") from None
    if len(structure) > MAX_SITES:
        raise MaterialsError(f"the structure has {len(structure)} sites; the limit is {MAX_SITES}")
    symmetry = SpacegroupAnalyzer(structure, symprec=0.01)
    lattice = structure.lattice
    return {
        "formula": structure.composition.formula.replace(" ", ""),
        "reduced_formula": structure.composition.reduced_formula,
        "space_group_symbol": symmetry.get_space_group_symbol(),
        "space_group_number": symmetry.get_space_group_number(),
        "crystal_system": symmetry.get_crystal_system(),
        "lattice": {
            name: round(float(getattr(lattice, name)), 4) for name in ("a", "b", "c", "alpha", "beta", "gamma")
        },
        "volume_a3": round(float(structure.volume), 4),
        "density_g_cm3": round(float(structure.density), 4),
        "num_sites": len(structure),
    }
