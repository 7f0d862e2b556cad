"""`agentdistill materials ...`: build, refresh and query the materials data the materials agent uses.

Each command is generated from its config (`config_options.config_command`); the search filters are
`MaterialQuery`'s own fields, so the CLI, the agent's `search_materials` and the stores take the same query."""

from __future__ import annotations

import json
from typing import Any

import typer
from pydantic import ConfigDict, Field, field_validator
from rich.table import Table

from agentdistill.cli.common import console
from agentdistill.cli.config_options import config_command
from agentdistill.config import CommandConfig, cli, split_commas
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
_RANGES = ("band_gap_ev", "formation_energy_per_atom_ev", "bulk_modulus_gpa", "shear_modulus_gpa", "refractive_index")


def parse_range(value: Any) -> Any:
    """'1.5:3' -> (1.5, 3.0); '2:' -> (2.0, None); ':0.5' -> (None, 0.5); anything else is left to pydantic."""
    if not isinstance(value, str):
        return value
    low, sep, high = value.partition(":")
    try:
        if not sep:
            raise ValueError
        return (float(low) if low.strip() else None, float(high) if high.strip() else None)
    except ValueError:
        raise ValueError(f"{value!r} is not MIN:MAX (either side may be empty)") from None


class MaterialsSearchConfig(MaterialQuery, CommandConfig):
    """Settings of `materials search`: a `MaterialQuery` and the store it runs on."""

    # MaterialQuery normalises its fields by assigning them after validation: no re-validation on assignment
    model_config = ConfigDict(extra="forbid", validate_assignment=False)

    formula: list[str] | None = Field(None, description="Formulas (comma-separated or repeated), any way of writing.")
    elements: list[str] | None = Field(None, description="Elements every entry contains (comma-separated).")
    exclude_elements: list[str] | None = Field(None, description="Elements no entry contains (comma-separated).")
    band_gap_ev: tuple[float | None, float | None] | None = Field(
        None, description="Band gap range in eV, MIN:MAX (e.g. 3: for at least 3).", json_schema_extra=cli("--band-gap")
    )
    formation_energy_per_atom_ev: tuple[float | None, float | None] | None = Field(
        None, description="Formation energy range in eV/atom, MIN:MAX.", json_schema_extra=cli("--formation-energy")
    )
    is_metal: bool | None = Field(
        None, description="Only metals / only non-metals.", json_schema_extra=cli("--metal/--non-metal")
    )
    store: str = Field("snapshot", description="snapshot, mp (the live API) or a snapshot file path.")
    as_json: bool = Field(
        False, description="One JSON record per line instead of a table.", json_schema_extra=cli("--json")
    )

    @field_validator("formula", "elements", "exclude_elements", mode="before")
    @classmethod
    def _lists(cls, value: Any) -> Any:
        return split_commas(value)

    @field_validator(*_RANGES, mode="before")
    @classmethod
    def _ranges(cls, value: Any) -> Any:
        return parse_range(value)

    def query(self) -> MaterialQuery:
        return MaterialQuery(**self.model_dump(include=set(MaterialQuery.model_fields)))


class SnapshotRefreshConfig(MaterialsSearchConfig):
    """Settings of `materials refresh`: a query against the live Materials Project, written as a snapshot."""

    out: str = Field(description="Snapshot file to write.", json_schema_extra=cli("-o"))
    limit: int = Field(1000, ge=1, le=1000, description="Most entries to fetch.")
    api_key: str | None = Field(None, description="Materials Project API key (default: $MP_API_KEY).")
    endpoint: str | None = Field(None, description="API base URL (default: the Materials Project).")
    store: str = Field("mp", json_schema_extra=cli(hidden=True))
    as_json: bool = Field(False, json_schema_extra=cli(hidden=True))


class SnapshotBuildConfig(CommandConfig):
    """Settings of `materials build-snapshot`."""

    source: str = Field(
        description="Matbench materials folder (mp_gap.csv, mp_e_form.csv, ...).", json_schema_extra=cli("--from")
    )
    out: str = Field("materials_snapshot.csv.gz", description="Snapshot file to write (gzip CSV).")


def build_snapshot(config: SnapshotBuildConfig) -> None:
    """Build a snapshot from Matbench v0.1's Materials Project files (how the embedded one is made:
    `--from ../shared/data/materials --out src/agentdistill/tools/materials/data/mp_matbench_snapshot.csv.gz`)."""
    from agentdistill.tools.materials.snapshot import ATTRIBUTION, build_from_matbench, write_snapshot

    with console.status("merging Matbench files and parsing formulas (about 20 s)…"):
        table = build_from_matbench(config.source)
        digest = write_snapshot(table, config.out)
    counts = ", ".join(f"{c} {int(table[c].notna().sum()):,}" for c in table.columns[4:-1])
    console.print(f"{config.out}: {len(table):,} entries ({counts}); sha256 {digest[:16]}…\n[dim]{ATTRIBUTION}[/]")


def refresh(config: SnapshotRefreshConfig) -> None:
    """Fetch entries from the live API (filters required) and write them as a snapshot file usable with
    `--store PATH`."""
    from agentdistill.tools.materials.mp_store import MPStore
    from agentdistill.tools.materials.snapshot import records_table, write_snapshot

    with console.status("querying the Materials Project…"):
        records = MPStore(api_key=config.api_key, endpoint=config.endpoint).search(config.query())
    write_snapshot(records_table(records), config.out)
    console.print(f"{config.out}: {len(records)} entries from the Materials Project")


def search(config: MaterialsSearchConfig) -> None:
    """Search materials entries, as the agent's `search_materials` does."""
    from agentdistill.tools.materials.snapshot import open_store

    records = open_store(config.store).search(config.query())
    if config.as_json:
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
    console.print(f"[dim]{len(records)} entries from {config.store}[/]")


config_command(materials_app, SnapshotBuildConfig, build_snapshot, name="build-snapshot")
config_command(materials_app, SnapshotRefreshConfig, refresh)
config_command(materials_app, MaterialsSearchConfig, search)
