"""`SnapshotStore`: the Materials Project offline, from a compressed CSV snapshot (the embedded default).

The embedded snapshot is built by `agentdistill materials build-snapshot` from Matbench v0.1's Materials
Project tasks (`../shared/data/materials/`). Matbench gives `formula,target` rows, one computed entry each,
without Materials Project ids, so entries are merged like this:
- band gap and is-metal rows come from the same query in the same order: row i of both is one entry;
- bulk and shear moduli likewise pair row by row;
- formation energy, moduli and refractive index join a band-gap entry only where the unit-cell formula
  occurs exactly once in both files (then it is the same material); otherwise they stay separate entries.
Several entries per formula are real: they are polymorphs (or other cells), and searches return each.
"""

from __future__ import annotations

import gzip
import hashlib
from functools import lru_cache
from importlib.resources import files
from pathlib import Path

import numpy as np
import pandas as pd

from agentdistill.tools.materials.records import (
    NUMERIC_PROPERTIES,
    PROPERTIES,
    MaterialQuery,
    MaterialRecord,
    MaterialsError,
    MaterialsStore,
    parse_composition,
    reduced_formula,
)

ATTRIBUTION = (
    "Materials Project (materialsproject.org), Jain et al., APL Materials 1, 011002 (2013); "
    "via Matbench v0.1, Dunn et al., npj Comput. Mater. 6, 138 (2020). Licence: CC BY 4.0."
)
SNAPSHOT_COLUMNS = ["material_id", "formula", "reduced_formula", "elements", *PROPERTIES, "source"]
MATBENCH_FILES = {  # Matbench file -> snapshot column (log10 moduli are converted in _read)
    "mp_gap.csv": "band_gap_ev",
    "mp_is_metal.csv": "is_metal",
    "mp_e_form.csv": "formation_energy_per_atom_ev",
    "mp_log10_k_vrh.csv": "bulk_modulus_gpa",
    "mp_log10_g_vrh.csv": "shear_modulus_gpa",
    "dielectric.csv": "refractive_index",
}


def default_snapshot_path() -> Path:
    return Path(str(files("agentdistill.tools.materials").joinpath("data", "mp_matbench_snapshot.csv.gz")))


# -- building -------------------------------------------------------------------------------------------
def _read(folder: Path, name: str) -> pd.DataFrame:
    path = folder / name
    if not path.is_file():
        raise MaterialsError(f"{path} is missing: a Matbench materials folder has {', '.join(MATBENCH_FILES)}")
    frame = pd.read_csv(path)
    if list(frame.columns) != ["formula", "target"]:
        raise MaterialsError(f"{path}: expected the columns formula,target, found {','.join(frame.columns)}")
    column = MATBENCH_FILES[name]
    values = frame["target"].astype(float)
    if column.endswith("modulus_gpa"):
        values = np.round(10.0**values, 6)  # Matbench stores log10(GPa)
    frame = pd.DataFrame({"formula": frame["formula"], column: values})
    frame["occurrence"] = frame.groupby("formula").cumcount()
    return frame


def _paired(left: pd.DataFrame, right: pd.DataFrame) -> pd.DataFrame:
    """Two files of one query, row-aligned: check it, then put their columns side by side."""
    if len(left) != len(right) or not (left["formula"].to_numpy() == right["formula"].to_numpy()).all():
        raise MaterialsError("files that should be row-aligned (same query, same order) are not")
    return pd.concat([left, right.drop(columns=["formula", "occurrence"])], axis=1)


def _join_unique(base: pd.DataFrame, extra: pd.DataFrame) -> pd.DataFrame:
    """Attach `extra`'s columns to `base` rows whose formula is unique in both; the rest of `extra` is appended."""
    unique_base = base["formula"].map(base["formula"].value_counts()) == 1
    unique_extra = extra["formula"].map(extra["formula"].value_counts()) == 1
    joinable = extra[unique_extra & extra["formula"].isin(base.loc[unique_base, "formula"])]
    merged = base.merge(joinable.drop(columns="occurrence"), on="formula", how="left")
    merged.loc[~merged["formula"].isin(joinable["formula"]), list(extra.columns.drop(["formula", "occurrence"]))] = (
        np.nan
    )
    return pd.concat([merged, extra[~extra.index.isin(joinable.index)]], ignore_index=True)


def build_from_matbench(folder: str | Path) -> pd.DataFrame:
    """The snapshot table from Matbench's Materials Project files in `folder` (see the module docstring)."""
    folder = Path(folder)
    frames = {name: _read(folder, name) for name in MATBENCH_FILES}
    table = _paired(frames["mp_gap.csv"], frames["mp_is_metal.csv"])
    table["is_metal"] = table["is_metal"].astype(bool)
    for extra in (
        frames["mp_e_form.csv"],
        _paired(frames["mp_log10_k_vrh.csv"], frames["mp_log10_g_vrh.csv"]),
        frames["dielectric.csv"],
    ):
        table = _join_unique(table, extra)
    table = table.drop(columns="occurrence")
    formulas = table["formula"].unique()
    reduced = {f: reduced_formula(f) for f in formulas}
    table["reduced_formula"] = table["formula"].map(reduced)
    table["elements"] = table["reduced_formula"].map(lambda f: " ".join(_sorted_elements(f)))
    table["material_id"] = None
    table["source"] = "matbench-v0.1"
    table = table.sort_values(["reduced_formula", "formula"], kind="stable").reset_index(drop=True)
    return table[SNAPSHOT_COLUMNS]


def _sorted_elements(formula: str) -> list[str]:
    return sorted(str(e) for e in parse_composition(formula).elements)


def write_snapshot(table: pd.DataFrame, path: str | Path) -> str:
    """Write `table` as a gzip CSV that is byte-identical for identical data; returns its sha256."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = table[SNAPSHOT_COLUMNS].to_csv(index=False, float_format="%.6g", lineterminator="\n")
    data = gzip.compress(text.encode(), compresslevel=9, mtime=0)
    path.write_bytes(data)
    return hashlib.sha256(data).hexdigest()


def records_table(records: list[MaterialRecord]) -> pd.DataFrame:
    """Records (e.g. fetched live from the Materials Project) as a snapshot table."""
    rows = [dict(r.model_dump(), elements=" ".join(sorted(r.elements))) for r in records]
    return pd.DataFrame(rows, columns=SNAPSHOT_COLUMNS)


def open_store(spec: str = "snapshot", api_key: str | None = None, endpoint: str | None = None) -> MaterialsStore:
    """`snapshot` (the embedded one), `mp` (the live API; key from `api_key` or MP_API_KEY), or a snapshot path."""
    if spec == "snapshot":
        return SnapshotStore()
    if spec == "mp":
        from agentdistill.tools.materials.mp_store import MPStore

        return MPStore(api_key=api_key, endpoint=endpoint)
    if Path(spec).is_file():
        return SnapshotStore(spec)
    raise MaterialsError(f"unknown materials store {spec!r}: use snapshot, mp, or the path of a snapshot file")


# -- querying -------------------------------------------------------------------------------------------
class SnapshotStore(MaterialsStore):
    """Materials data from a snapshot file (default: the embedded Matbench snapshot); no network."""

    name = "snapshot"

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path else default_snapshot_path()
        self.table = _load(str(self.path))

    def search(self, query: MaterialQuery) -> list[MaterialRecord]:
        rows = self.table[self._mask(query)]
        if query.sort:
            name = query.sort.lstrip("-")
            rows = rows.sort_values(name, ascending=not query.sort.startswith("-"), na_position="last", kind="stable")
        return [_record(row) for row in rows.head(query.limit)[SNAPSHOT_COLUMNS].itertuples(index=False)]

    def count(self, query: MaterialQuery) -> int:
        """How many entries match (ignoring the limit)."""
        return int(self._mask(query).sum())

    def _mask(self, query: MaterialQuery) -> pd.Series:
        t = self.table
        mask = pd.Series(True, index=t.index)
        if query.formula is not None:
            wanted = [query.formula] if isinstance(query.formula, str) else query.formula
            mask &= t["reduced_formula"].isin(wanted)
        element_sets = t["_element_set"]
        if query.chemsys:
            mask &= t["elements"] == " ".join(query.chemsys.split("-"))
        if query.elements:
            wanted_elements = set(query.elements)
            mask &= element_sets.map(wanted_elements.issubset)
        if query.exclude_elements:
            excluded = set(query.exclude_elements)
            mask &= element_sets.map(excluded.isdisjoint)
        if query.num_elements is not None:
            mask &= t["_num_elements"] == query.num_elements
        if query.is_metal is not None:
            mask &= t["is_metal"] == query.is_metal
        for name, (low, high) in query.ranges().items():
            if low is not None:
                mask &= t[name] >= low
            if high is not None:
                mask &= t[name] <= high
        return mask


@lru_cache(maxsize=4)  # one parsed table per file per process, however many agents ask
def _load(path: str) -> pd.DataFrame:
    if not Path(path).is_file():
        raise MaterialsError(
            f"materials snapshot {path} not found (build one with `agentdistill materials build-snapshot`)"
        )
    try:
        table = pd.read_csv(
            path, dtype={"material_id": "string", "elements": "string"}, keep_default_na=False, na_values=[""]
        )
    except (OSError, ValueError, EOFError) as error:
        raise MaterialsError(f"materials snapshot {path} is unreadable: {error}") from None
    missing = set(SNAPSHOT_COLUMNS) - set(table.columns)
    if missing:
        raise MaterialsError(f"materials snapshot {path} lacks the columns {', '.join(sorted(missing))}")
    table["is_metal"] = table["is_metal"].map({True: True, False: False, "True": True, "False": False})
    table["_element_set"] = table["elements"].str.split(" ").map(frozenset)  # parsed once, not per query
    table["_num_elements"] = table["_element_set"].map(len)
    return table


def _record(row) -> MaterialRecord:
    values = row._asdict()
    clean = {k: (None if _missing(v) else v) for k, v in values.items()}
    clean["elements"] = str(values["elements"]).split(" ")
    for name in NUMERIC_PROPERTIES:
        value = clean[name]
        if value is not None:
            clean[name] = float(value)
    if clean["is_metal"] is not None:
        clean["is_metal"] = bool(clean["is_metal"])
    return MaterialRecord(**clean)


def _missing(value) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value))
