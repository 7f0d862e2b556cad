"""Materials: the snapshot store and its build, the live-API store against a fake MP server, the pymatgen
tools, the materials agent, the `materials` suite, the closed-book baseline and MAE."""

import gzip
import hashlib
import json
import math
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agentdistill.agents import CodeAgent
from agentdistill.agents.closed_book import ClosedBookAgent
from agentdistill.cli import app
from agentdistill.pipeline import EvalConfig, evaluate
from agentdistill.tasks import load_suite, score_task
from agentdistill.tools.materials import MaterialQuery, MaterialsError, SnapshotStore
from agentdistill.tools.materials.agent_tools import default_materials_tools, materials_tools
from agentdistill.tools.materials.snapshot import (
    build_from_matbench,
    default_snapshot_path,
    records_table,
    write_snapshot,
)
from fake_mp import VALID_KEY, FakeMPServer, closed_port_url

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "materials"
runner = CliRunner()


@pytest.fixture(scope="module")
def store():
    return SnapshotStore()


@pytest.fixture(scope="module")
def tools():
    return default_materials_tools()


# -- snapshot -------------------------------------------------------------------------------------------
def test_snapshot_filters_sort_and_limit(store):
    titania = store.search(MaterialQuery(chemsys="Ti-O", band_gap_ev=(3, None), limit=100))
    assert titania and all(r.elements == ["O", "Ti"] and r.band_gap_ev >= 3 for r in titania)
    assert store.count(MaterialQuery(chemsys="O-Ti", band_gap_ev=(3, None))) == len(titania)
    with_ti = store.search(MaterialQuery(elements=["Ti", "O"], num_elements=3, limit=50))
    assert with_ti and all({"Ti", "O"} <= set(r.elements) and len(r.elements) == 3 for r in with_ti)
    widest = store.search(MaterialQuery(chemsys="Si", sort="-band_gap_ev", limit=3))
    gaps = [r.band_gap_ev for r in widest]
    assert gaps == sorted(gaps, reverse=True) and len(widest) == 3
    every_si = store.search(MaterialQuery(chemsys="Si", band_gap_ev=(None, None), limit=1000))
    assert max(r.band_gap_ev or -1 for r in every_si) == gaps[0]


def test_any_way_of_writing_a_formula_finds_the_same_entries(store):
    by_reduced = store.search(MaterialQuery(formula="GaN", limit=200))
    assert len(by_reduced) > 1  # polymorphs stay separate entries
    assert store.search(MaterialQuery(formula="Ga2N2", limit=200)) == by_reduced
    assert store.search(MaterialQuery(formula="NGa", limit=200)) == by_reduced
    assert {r.formula for r in by_reduced} >= {"Ga1N1", "Ga2N2"}


@pytest.mark.parametrize(
    "query, message",
    [
        ({"formula": "Xx2"}, "not an element"),
        ({"formula": "hello world"}, "not a chemical formula"),
        ({"band_gap_ev": (3, 1)}, "above max"),
        ({"sort": "colour"}, "sort must be one of"),
        ({"chemsys": "Ti-Qq"}, "chemical system"),
        ({"limit": 0}, "greater than or equal"),
        ({"elements": ["Ti", "Kryptonite"]}, "not a chemical element"),
    ],
)
def test_bad_queries_say_what_is_wrong(query, message):
    with pytest.raises((MaterialsError, ValueError), match=message):
        MaterialQuery(**query)


def test_broken_snapshot_files_give_clear_errors(tmp_path):
    garbage = tmp_path / "garbage.csv.gz"
    garbage.write_bytes(b"not gzip at all")
    with pytest.raises(MaterialsError, match="unreadable"):
        SnapshotStore(garbage)
    wrong = tmp_path / "wrong.csv.gz"
    wrong.write_bytes(gzip.compress(b"formula,colour\nGaN,blue\n"))
    with pytest.raises(MaterialsError, match="lacks the columns"):
        SnapshotStore(wrong)
    with pytest.raises(MaterialsError, match="not found"):
        SnapshotStore(tmp_path / "missing.csv.gz")


def _matbench_folder(folder: Path, rows: dict[str, list[tuple[str, float]]]) -> Path:
    folder.mkdir()
    for name, entries in rows.items():
        (folder / name).write_text("formula,target\n" + "".join(f"{f},{v}\n" for f, v in entries))
    return folder


def test_build_merges_unique_formulas_and_keeps_polymorphs_apart(tmp_path):
    folder = _matbench_folder(
        tmp_path / "mb",
        {
            "mp_gap.csv": [("Ga2N2", 1.7), ("Ga2N2", 1.5), ("Mg1O1", 4.4)],
            "mp_is_metal.csv": [("Ga2N2", 0), ("Ga2N2", 0), ("Mg1O1", 0)],
            "mp_e_form.csv": [("Mg1O1", -3.0), ("Ga2N2", -0.6)],
            "mp_log10_k_vrh.csv": [("Mg1O1", 2.0)],
            "mp_log10_g_vrh.csv": [("Mg1O1", 1.0)],
            "dielectric.csv": [("Mg1O1", 1.7)],
        },
    )
    table = build_from_matbench(folder)
    mgo = table[table["formula"] == "Mg1O1"]
    assert len(mgo) == 1  # unique in every file: one entry with every property
    row = mgo.iloc[0]
    assert (row.band_gap_ev, row.formation_energy_per_atom_ev, row.refractive_index) == (4.4, -3.0, 1.7)
    assert math.isclose(row.bulk_modulus_gpa, 100.0) and math.isclose(row.shear_modulus_gpa, 10.0)  # 10**log10
    gan = table[table["reduced_formula"] == "GaN"]
    assert len(gan) == 3  # two band-gap polymorphs + a formation energy that cannot be told apart
    assert gan["formation_energy_per_atom_ev"].notna().sum() == 1 and gan["band_gap_ev"].notna().sum() == 2
    path = tmp_path / "snap.csv.gz"
    assert write_snapshot(table, path) == write_snapshot(table, tmp_path / "again.csv.gz")  # reproducible bytes
    assert len(SnapshotStore(path).get_properties("GaN")) == 3


def test_build_rejects_misaligned_or_missing_files(tmp_path):
    rows = {
        name: [("Mg1O1", 1.0)]
        for name in ("mp_gap.csv", "mp_e_form.csv", "mp_log10_k_vrh.csv", "mp_log10_g_vrh.csv", "dielectric.csv")
    }
    rows["mp_is_metal.csv"] = [("Ca1O1", 0.0)]
    with pytest.raises(MaterialsError, match="row-aligned"):
        build_from_matbench(_matbench_folder(tmp_path / "a", rows))
    del rows["mp_is_metal.csv"]
    with pytest.raises(MaterialsError, match="missing"):
        build_from_matbench(_matbench_folder(tmp_path / "b", rows))


@pytest.mark.slow
@pytest.mark.skipif(not SHARED.is_dir(), reason=f"{SHARED} (shared Matbench data) is not present")
def test_embedded_snapshot_is_exactly_what_the_build_makes_from_the_shared_data(tmp_path):
    digest = write_snapshot(build_from_matbench(SHARED), tmp_path / "rebuilt.csv.gz")
    assert digest == hashlib.sha256(default_snapshot_path().read_bytes()).hexdigest()


# -- tools ----------------------------------------------------------------------------------------------
def test_search_tool_takes_json_shaped_arguments(tools, store):
    found = tools["search_materials"](chemsys="O-Ti", band_gap_ev=[3, None], sort="-band_gap_ev")
    expected = store.search(MaterialQuery(chemsys="Ti-O", band_gap_ev=(3, None), sort="-band_gap_ev"))
    assert found == [r.as_tool_value() for r in expected] and found
    assert all("refractive_index" not in r or r["refractive_index"] for r in found)  # unknown keys are left out
    from agentdistill.tools.base import ToolInputError

    with pytest.raises(ToolInputError, match="limit"):
        tools["search_materials"](formula="GaN", limit="many")


def test_composition_and_structure_analysis(tools):
    hematite = tools["analyze_composition"]("Fe2O3")
    assert math.isclose(hematite["molar_mass_g_per_mol"], 2 * 55.845 + 3 * 15.999, rel_tol=1e-4)
    assert hematite["oxidation_state_guesses"][0] == {"Fe": 3.0, "O": -2.0}
    assert math.isclose(hematite["weight_fractions"]["Fe"], 0.6994, rel_tol=1e-3)
    from pymatgen.core import Lattice, Structure
    from pymatgen.io.cif import CifWriter

    rock_salt = Structure.from_spacegroup("Fm-3m", Lattice.cubic(5.64), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    summary = tools["analyze_structure"](str(CifWriter(rock_salt)))
    assert (summary["space_group_number"], summary["crystal_system"], summary["num_sites"]) == (225, "cubic", 8)
    assert math.isclose(summary["density_g_cm3"], 2.163, rel_tol=1e-2)
    with pytest.raises(MaterialsError, match="could not read the CIF"):
        tools["analyze_structure"]("data_x\n_cell_length_a nonsense\n")
    with pytest.raises(MaterialsError, match="limit"):
        tools["analyze_structure"]("x" * 300_000)


def test_materials_agent_looks_values_up_in_the_sandbox(scripted, store):
    code = (
        'Thought: fetch every ZnSe entry.\n```python\nentries = get_properties("ZnSe")\n'
        'gaps = [e["band_gap_ev"] for e in entries if "band_gap_ev" in e]\nfinal_answer(sum(gaps) / len(gaps))\n```'
    )
    model = scripted(code)
    trajectory = CodeAgent.materials(model).run("What is the mean band gap of the ZnSe entries?")
    gaps = [r.band_gap_ev for r in store.get_properties("ZnSe") if r.band_gap_ev is not None]
    assert trajectory.final_answer == pytest.approx(sum(gaps) / len(gaps))
    assert trajectory.steps[0].tool_calls == ["get_properties"]
    system = model.seen[0][0]["content"]
    assert "def search_materials(" in system and "never state a property from memory" in system


# -- the live API, against a local fake -----------------------------------------------------------------
@pytest.fixture(scope="module")
def mp_server():
    pytest.importorskip("mp_api", reason="mp-api is the optional extra agentdistill[mp]")
    server = FakeMPServer()
    yield server
    server.close()


def test_mp_store_pushes_filters_sort_and_limit_to_the_server(mp_server):
    from agentdistill.tools.materials import MPStore

    store = MPStore(api_key=VALID_KEY, endpoint=mp_server.url)
    records = store.search(MaterialQuery(chemsys="Ti-O", band_gap_ev=(1.0, None), sort="-band_gap_ev", limit=5))
    assert [r.material_id for r in records] == ["mp-390", "mp-2657"]
    assert records[0].reduced_formula == "TiO2" and records[0].source == "mp-api"
    sent = mp_server.summary_requests()[-1]
    assert sent["_sort_fields"] == "-band_gap" and sent["_limit"] == "5" and sent["band_gap_min"] == "1.0"
    assert set(sent["_fields"].split(",")) >= {"material_id", "formula_pretty", "band_gap", "bulk_modulus"}
    gan = store.get_properties("Ga2N2")
    assert [r.material_id for r in gan] == ["mp-804", "mp-2853"]  # most stable first
    assert gan[0].bulk_modulus_gpa == 178.0 and gan[0].shear_modulus_gpa == 106.0  # VRH of the moduli dicts
    with pytest.raises(MaterialsError, match="at least one filter"):
        store.search(MaterialQuery())
    # the same tools work over the live store, and a refreshed snapshot answers like the API did
    assert materials_tools(store)[0](formula="GaN", limit=1)[0]["material_id"] == "mp-804"


def test_explicit_api_key_wins_over_the_environment(mp_server, monkeypatch):
    from agentdistill.tools.materials import MPStore

    monkeypatch.setenv("MP_API_KEY", "e" * 32)
    MPStore(endpoint=mp_server.url)  # the environment's key is used when none is given...
    with pytest.raises(MaterialsError, match="rejected the API key"):
        MPStore(endpoint=mp_server.url).search(MaterialQuery(formula="GaN"))
    assert MPStore(api_key=VALID_KEY, endpoint=mp_server.url).search(
        MaterialQuery(formula="GaN")
    )  # ...else the argument
    assert mp_server.requests[-1][2] == VALID_KEY


def test_offline_refused_hanging_and_keyless_apis_fail_in_seconds(monkeypatch):
    pytest.importorskip("mp_api")
    from agentdistill.tools.materials import MPStore

    monkeypatch.delenv("MP_API_KEY", raising=False)
    with pytest.raises(MaterialsError, match="no Materials Project API key"):
        MPStore()
    with pytest.raises(MaterialsError, match="32 characters"):
        MPStore(api_key="short")
    started = time.monotonic()
    with pytest.raises(MaterialsError, match="unreachable"):
        MPStore(api_key=VALID_KEY, endpoint=closed_port_url(), timeout=2)
    # a server that never answers, and one that trickles a byte a second (no single read ever times out)
    servers = [FakeMPServer(hang=True), FakeMPServer(trickle=True)]
    for server, timeout, message in zip(
        servers, (1, 2), ("unreachable", "start-up check took longer than 3 s"), strict=True
    ):
        try:
            with pytest.raises(MaterialsError, match=message):
                MPStore(api_key=VALID_KEY, endpoint=server.url, timeout=timeout)
        finally:
            server.close()
    assert time.monotonic() - started < 12
    # a server left serving a closed socket spins a core for the rest of the session (CI timed out on it)
    assert not any(server.thread.is_alive() for server in servers)


def test_refresh_writes_a_snapshot_the_snapshot_store_reads(mp_server, tmp_path):
    out = tmp_path / "live.csv.gz"
    result = runner.invoke(
        app,
        [
            "materials",
            "refresh",
            "--out",
            str(out),
            "--formula",
            "GaN,TiO2",
            "--api-key",
            VALID_KEY,
            "--endpoint",
            mp_server.url,
        ],
    )
    assert result.exit_code == 0, result.output
    live = SnapshotStore(out)
    assert sorted(r.material_id for r in live.get_properties("GaN")) == ["mp-2853", "mp-804"]
    assert live.search(MaterialQuery(chemsys="O-Ti", sort="-band_gap_ev"))[0].band_gap_ev == 2.05
    assert list(records_table(live.search(MaterialQuery(formula="TiO2"))).columns)[:3] == [
        "material_id",
        "formula",
        "reduced_formula",
    ]


# -- suite, closed book, MAE, CLI -------------------------------------------------------------------------
def test_materials_suite_gold_answers_come_from_the_snapshot(store):
    tasks = load_suite("materials", "all")
    assert len(tasks) == 400 and {t.split for t in tasks} == {"train", "test"}
    assert [t.id for t in load_suite("materials", "test", 5, seed=3)] == [
        t.id for t in load_suite("materials", "test", 5, seed=3)
    ]
    kinds = {t.difficulty for t in tasks}
    assert {"band_gap", "formation_energy", "count_filter", "compare_formation", "pugh_ratio"} <= kinds
    for task in [t for t in tasks if t.difficulty == "band_gap"][:10]:
        formula = task.question.split(" of ")[1].split(" in the")[0]
        known = [r.band_gap_ev for r in store.get_properties(formula) if r.band_gap_ev is not None]
        assert len(known) == 1 and score_task(task, known[0])[1]  # one entry: "the" band gap is unambiguous
    for task in [t for t in tasks if t.difficulty == "count_filter"][:5]:
        system, threshold = (
            task.question.split("binary ")[1].split(" system")[0],
            float(task.question.split("least ")[1].split(" eV")[0]),
        )
        found = store.search(MaterialQuery(chemsys=system, limit=1000))
        assert str(sum(r.band_gap_ev is not None and r.band_gap_ev >= threshold for r in found)) == task.answers[0]


def test_closed_book_answers_once_without_tools(scripted):
    model = scripted("The band gap is about 3.4 eV.\nIt is wide.")
    trajectory = ClosedBookAgent(model).run("What is the band gap of GaN?")
    assert trajectory.final_answer == "The band gap is about 3.4 eV" and len(model.seen) == 1
    assert "without tools" in model.seen[0][0]["content"] and trajectory.metadata["tools"] == []


def test_eval_reports_mae_for_closed_book_and_agent(scripted, tmp_path):
    tasks = load_suite("materials", "test", 12, seed=0)  # what `eval -n 12` runs, in its order
    regression = [t for t in tasks if t.metadata["regression_unit"]]
    assert regression  # the first dozen test tasks include band-gap / formation-energy lookups

    def reply(task, code: bool) -> str:
        value = float(task.answers[0]) + 0.5 if task.metadata["regression_unit"] else task.answers[0]
        return f"Thought: done.\n```python\nfinal_answer({value!r})\n```" if code else str(value)

    closed = evaluate(
        EvalConfig(suite="materials", n=12, model="smollm2-135m", out=str(tmp_path / "cb"), closed_book=True),
        model=scripted(*(reply(t, code=False) for t in tasks)),
    )
    agent = evaluate(
        EvalConfig(suite="materials", n=12, model="smollm2-135m", out=str(tmp_path / "agent")),
        model=scripted(*(reply(t, code=True) for t in tasks)),
    )
    for summary in (closed, agent):
        assert summary.correct == len(tasks) - len(regression)  # 0.5 off is outside every lookup's tolerance
        assert sum(e.answered for e in summary.mae.values()) == len(regression)
        assert all(e.mae == pytest.approx(0.5) and e.unit in ("eV", "eV/atom") for e in summary.mae.values())
        assert "(" in summary.row()[4]
    assert closed.mean_steps == 1.0


def test_materials_cli_search_and_errors(monkeypatch):
    result = runner.invoke(
        app, ["materials", "search", "--formula", "ZnSe", "--sort", "formation_energy_per_atom_ev", "--limit", "2"]
    )
    assert result.exit_code == 0 and "Se1Zn1" in result.output and "-0.71142" in result.output
    bad = runner.invoke(app, ["materials", "search", "--formula", "Xx2"])
    assert bad.exit_code == 1 and "not an element" in bad.output
    bad_range = runner.invoke(app, ["materials", "search", "--band-gap", "3"])
    assert bad_range.exit_code == 2 and "MIN:MAX" in bad_range.output
    no_store = runner.invoke(app, ["materials", "search", "--formula", "GaN", "--store", "nowhere.csv.gz"])
    assert no_store.exit_code == 1 and "unknown materials store" in no_store.output
    monkeypatch.delenv("MP_API_KEY", raising=False)
    keyless = runner.invoke(
        app, ["run", "--agent", "materials", "--store", "mp", "-m", "smollm2-135m", "Band gap of GaN?"]
    )
    assert keyless.exit_code == 1 and ("MP_API_KEY" in keyless.output or "not available" in keyless.output)


@pytest.mark.slow
@pytest.mark.model
def test_cli_runs_the_materials_agent_with_a_real_model():
    from conftest import require_model

    require_model("smollm2-135m")
    result = runner.invoke(
        app,
        [
            "run",
            "--agent",
            "materials",
            "-m",
            "smollm2-135m",
            "--max-steps",
            "1",
            "--max-new-tokens",
            "24",
            "--json",
            "What is the band gap of GaN?",
        ],
    )
    assert result.exit_code == 0, result.output
    trajectory = json.loads(result.output[result.output.index("{") :])
    assert trajectory["metadata"]["tools"] == [
        "search_materials",
        "get_properties",
        "analyze_composition",
        "analyze_structure",
    ]
    assert "get_properties" in trajectory["messages"][0]["content"] and trajectory["termination"]
