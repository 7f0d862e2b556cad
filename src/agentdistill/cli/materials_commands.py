"""`agentdistill materials ...`: build, refresh and query the materials data the materials agent uses."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.table import Table

from agentdistill.cli.common import console

if TYPE_CHECKING:
    from agentdistill.tools.materials.records import MaterialQuery

materials_app = typer.Typer(
    help="Materials Project data: build the offline snapshot, refresh it live, search it.", no_args_is_help=True
)


_HEADERS = {
    "band_gap_ev": "gap eV",
    "formation_energy_per_atom_ev": "Ef eV/atom",
    "is_metal": "metal",
    "bulk_modulus_gpa": "K GPa",
    "shear_modulus_gpa": "G GPa",
    "refractive_index": "n",
}


def _split(text: str | None) -> list[str] | None:
    return [part.strip() for part in text.split(",") if part.strip()] if text else None


def _range(text: str | None, option: str) -> tuple[float | None, float | None] | None:
    """'1.5:3' -> (1.5, 3.0); '2:' -> (2.0, None); ':0.5' -> (None, 0.5)."""
    if not text:
        return None
    low, sep, high = text.partition(":")
    try:
        if not sep:
            raise ValueError
        return (float(low) if low.strip() else None, float(high) if high.strip() else None)
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not MIN:MAX (either side may be empty)", param_hint=option) from None


def _query(**filters: Any) -> MaterialQuery:
    """The query the options describe; invalid filters are one usage error (exit 2), before any search."""
    from pydantic import ValidationError

    from agentdistill.config import describe_validation_error
    from agentdistill.tools.materials.records import MaterialQuery

    try:
        return MaterialQuery(**filters)
    except ValidationError as error:
        raise typer.BadParameter(describe_validation_error(error)) from None


@materials_app.command("build-snapshot")
def build_snapshot(
    source: Path = typer.Option(..., "--from", help="Matbench materials folder (mp_gap.csv, mp_e_form.csv, ...)."),
    out: Path = typer.Option(Path("materials_snapshot.csv.gz"), help="Snapshot file to write (gzip CSV)."),
) -> None:
    """Build a snapshot from Matbench v0.1's Materials Project files (how the embedded one is made:
    `--from ../shared/data/materials --out src/agentdistill/tools/materials/data/mp_matbench_snapshot.csv.gz`)."""
    from agentdistill.tools.materials.snapshot import (
        ATTRIBUTION,
        build_from_matbench,
        write_snapshot,
    )

    with console.status("merging Matbench files and parsing formulas (about 20 s)…"):
        table = build_from_matbench(source)
        digest = write_snapshot(table, out)
    counts = ", ".join(f"{c} {int(table[c].notna().sum()):,}" for c in table.columns[4:-1])
    console.print(f"{out}: {len(table):,} entries ({counts}); sha256 {digest[:16]}…\n[dim]{ATTRIBUTION}[/]")


@materials_app.command()
def refresh(
    out: Path = typer.Option(..., help="Snapshot file to write from the live Materials Project."),
    formula: str | None = typer.Option(None, help="Comma-separated formulas."),
    chemsys: str | None = typer.Option(None, help="Exact chemical system, e.g. Ti-O."),
    elements: str | None = typer.Option(None, help="Comma-separated elements every entry contains."),
    limit: int = typer.Option(1000, min=1, max=1000, help="Most entries to fetch."),
    api_key: str | None = typer.Option(None, help="Materials Project API key (default: $MP_API_KEY)."),
    endpoint: str | None = typer.Option(None, help="API base URL (default: the Materials Project)."),
) -> None:
    """Fetch entries from the live API (filters required) and write them as a snapshot file usable with
    `--store PATH`."""
    from agentdistill.tools.materials.mp_store import MPStore
    from agentdistill.tools.materials.snapshot import records_table, write_snapshot

    query = _query(formula=_split(formula), chemsys=chemsys, elements=_split(elements), limit=limit)
    with console.status("querying the Materials Project…"):
        records = MPStore(api_key=api_key, endpoint=endpoint).search(query)
    write_snapshot(records_table(records), out)
    console.print(f"{out}: {len(records)} entries from the Materials Project")


@materials_app.command()
def search(
    formula: str | None = typer.Option(None, help="Comma-separated formulas (any way of writing them)."),
    chemsys: str | None = typer.Option(None, help="Exact chemical system, e.g. Ti-O."),
    elements: str | None = typer.Option(None, help="Comma-separated elements every entry contains."),
    band_gap: str | None = typer.Option(None, help="Band gap range in eV, MIN:MAX (e.g. 3: for at least 3)."),
    formation_energy: str | None = typer.Option(None, help="Formation energy range in eV/atom, MIN:MAX."),
    metal: bool | None = typer.Option(None, "--metal/--non-metal", help="Only metals / only non-metals."),
    sort: str | None = typer.Option(None, help="Property to sort by; '-' first for descending."),
    limit: int = typer.Option(20, min=1, max=1000),
    store: str = typer.Option("snapshot", help="snapshot, mp (live API) or a snapshot file path."),
    as_json: bool = typer.Option(False, "--json", help="One JSON record per line instead of a table."),
) -> None:
    """Search materials entries, as the agent's `search_materials` does."""
    from agentdistill.tools.materials.snapshot import open_store

    query = _query(
        formula=_split(formula),
        chemsys=chemsys,
        elements=_split(elements),
        band_gap_ev=_range(band_gap, "--band-gap"),
        formation_energy_per_atom_ev=_range(formation_energy, "--formation-energy"),
        is_metal=metal,
        sort=sort,
        limit=limit,
    )
    records = open_store(store).search(query)
    if as_json:
        for record in records:
            print(json.dumps(record.as_tool_value()))
        return
    table = Table("formula", *_HEADERS.values(), "id")
    for r in records:
        values = [getattr(r, name) for name in _HEADERS]
        table.add_row(
            r.reduced_formula + (f" [dim]{r.formula}[/]" if r.formula != r.reduced_formula else ""),
            *("" if v is None else f"{v:g}" if isinstance(v, float) else str(v) for v in values),
            r.material_id or "",
        )
    console.print(table)
    console.print(f"[dim]{len(records)} entries from {store}[/]")
