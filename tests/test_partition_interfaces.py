"""Partition interfaces: the CLI, the API job (separate process, progress, cancel), the notebook."""

from __future__ import annotations

import os
import re
import shutil
import time
from pathlib import Path

import pytest
import shapely
from typer.testing import CliRunner

from gis.cli import app
from gis.partition.constraints import noncontiguous_grids
from gis.partition.graph import build_graph
from gis.store import open_store

TOWN = "310199104"
PROJECT_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def db(sample_gpkg: Path, tmp_path: Path) -> Path:
    path = tmp_path / "store.gpkg"
    shutil.copy(sample_gpkg, path)
    return path


def _town_and_new_grids(store, plan_id: int):
    grids = store.grids(plan_id)
    town = grids[grids["code"] == TOWN].geometry.iloc[0]
    new = grids[grids["parent_code"] == TOWN]
    return town, new


def test_cli_partition_writes_a_nested_contiguous_draft_plan(db: Path) -> None:
    result = CliRunner().invoke(
        app,
        ["partition", "environment", "--parent-code", TOWN, "--k", "4", "--units", "villages",
         "--weights", "enterprises,area", "--seed", "0", "--tolerance", "0.15", "--db", str(db)],
    )
    assert result.exit_code == 0, result.output
    assert "310199104001" in result.output
    plan_id = int(result.output.strip().splitlines()[-1].split()[-1])
    store = open_store(str(db))
    try:
        plan = store.plan(plan_id)
        assert plan.status == "draft" and plan.layer_key == "environment"
        town, new = _town_and_new_grids(store, plan_id)
        assert len(new) == 4
        assert all(c.startswith(TOWN) and len(c) == 12 for c in new["code"])
        assert set(new["level"]) == {3}
        # every grid is one piece; together they nest in (and fill) the town
        assert all(len(shapely.get_parts(g)) == 1 for g in new.geometry)
        assert noncontiguous_grids(*_graph_labels(new)) == 0
        union = shapely.coverage_union_all(new.geometry.values)
        assert shapely.area(shapely.difference(union, town)) < 1e-10
        assert abs(union.area - town.area) / town.area < 1e-9
        assert shapely.coverage_is_valid(new.geometry.values)
        # the other towns' grids are kept
        published = store.published_plan("environment")
        assert len(store.grids(plan_id)) < len(store.grids(published.id))
    finally:
        store.close()


def _graph_labels(grids):
    import numpy as np

    g = build_graph(np.asarray(list(grids.geometry.values), dtype=object))
    return g.indptr, g.indices, np.arange(len(grids), dtype=np.int64), len(grids)


def test_cli_refuses_unknown_units(db: Path) -> None:
    result = CliRunner().invoke(
        app, ["partition", "environment", "--parent-code", TOWN, "--k", "4", "--units", "parcels", "--db", str(db)]
    )
    assert result.exit_code == 1
    assert "units" in result.output and "blocks" in result.output


@pytest.fixture
def client(db: Path):
    from fastapi.testclient import TestClient

    from api.app import create_app
    from gis.settings import Settings

    os.environ["GRIDGIS_DATABASE_URL"] = str(db)
    try:
        with TestClient(create_app(Settings())) as c:
            yield c
    finally:
        os.environ.pop("GRIDGIS_DATABASE_URL", None)


def _wait(client, job_id: str, until, timeout: float = 60.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        body = client.get(f"/jobs/{job_id}").json()
        if until(body) or time.monotonic() > deadline:
            return body
        time.sleep(0.1)


def test_api_job_runs_in_a_process_and_returns_the_draft_plan(client, db: Path) -> None:
    r = client.post("/plans/environment/partition", json={"parent_code": TOWN, "k": 4, "units": "villages",
                                                                "tolerance": 0.15})
    assert r.status_code == 202, r.text
    job = r.json()
    assert job["status"] == "running"
    body = _wait(client, job["id"], lambda b: b["status"] != "running")
    assert body["status"] == "done", body
    assert body["progress"] == 1.0
    res = body["result"]
    assert len(res["table"]) == 4 and res["table"][0]["code"].startswith(TOWN)
    assert res["tolerance"] == {"enterprises": 0.15, "area": 0.15}
    assert res["within_tolerance"] == all(v <= 15.0 for v in res["max_dev_pct"].values()), res
    plan = client.get(f"/plans/{res['plan_id']}")
    assert plan.status_code == 200 and plan.json()["status"] == "draft"


def test_api_job_errors_and_unknown_jobs(client) -> None:
    r = client.post("/plans/environment/partition", json={"parent_code": TOWN, "k": 999})
    body = _wait(client, r.json()["id"], lambda b: b["status"] != "running")
    assert body["status"] == "failed" and body["error"]["status"] == 422, body
    assert client.get("/jobs/nope").status_code == 404
    assert client.post("/plans/nolayer/partition", json={"parent_code": TOWN, "k": 2}).status_code == 404


def test_api_cancel_terminates_the_job_and_writes_nothing(client, db: Path) -> None:
    before = sorted(p["id"] for p in client.get("/plans").json())
    r = client.post("/plans/environment/partition",
                    json={"parent_code": "310199", "k": 50, "units": "cells", "cell_size": 120})
    job_id = r.json()["id"]
    body = _wait(client, job_id, lambda b: b["stage"] == "partition" or b["status"] != "running")
    assert body["status"] == "running", body
    out = client.delete(f"/jobs/{job_id}").json()
    assert out["status"] == "cancelled"
    time.sleep(0.5)
    assert client.get(f"/jobs/{job_id}").json()["status"] == "cancelled"
    store = open_store(str(db))
    try:
        assert all(p.status != "draft" for p in store.plans("environment"))
        assert sorted(p.id for p in store.plans()) == before
    finally:
        store.close()


def test_notebook_runs_headless_and_writes_only_to_its_temp_store(tmp_path: Path, monkeypatch) -> None:
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    store_path = tmp_path / "walkthrough.gpkg"
    monkeypatch.setenv("GRIDGIS_NOTEBOOK_STORE", str(store_path))
    nb = nbformat.read(PROJECT_ROOT / "notebooks" / "partition_walkthrough.ipynb", as_version=4)
    client = nbclient.NotebookClient(
        nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute()
    assert store_path.exists()
    store = open_store(str(store_path))
    try:
        drafts = store.plans("environment", "draft")
        assert len(drafts) == 1 and "walkthrough" in drafts[0].name
    finally:
        store.close()


def test_seed_and_locked_units_reach_the_solver(db: Path) -> None:
    from gis.errors import InvalidInput
    from gis.partition.job import PartitionRequest, run_partition

    store = open_store(str(db))
    try:
        base = PartitionRequest(layer="environment", parent_code=TOWN, k=4, units="villages", tolerance=0.15)
        units = run_partition(store, base, write=False).units
        ids = sorted(units["unit"])
        seeds, locked = [ids[0], ids[-1]], {ids[3]: "A", ids[7]: "A"}
        req = PartitionRequest(layer="environment", parent_code=TOWN, k=4, units="villages",
                               tolerance=0.15, seed_units=seeds, locked=locked)  # fmt: skip
        out = run_partition(store, req, write=False)
        grid = dict(zip(out.units["unit"], out.units["grid"], strict=True))
        assert grid[seeds[0]] != grid[seeds[1]]  # a grid grown from each seed
        assert grid[ids[3]] == grid[ids[7]]  # the locked group stays together
        with pytest.raises(InvalidInput) as err:
            run_partition(store, PartitionRequest(layer="environment", parent_code=TOWN, k=4,
                                                  seed_units=["310199999999"]), write=False)  # fmt: skip
        assert err.value.problems[0].field == "seed_units" and "310199999999" in err.value.problems[0].message
    finally:
        store.close()
    result = CliRunner().invoke(app, ["partition", "environment", "--parent-code", TOWN, "--k", "4",
                                      "--lock", "bad", "--db", str(db)])  # fmt: skip
    assert result.exit_code != 0 and "UNIT=GROUP" in result.output


def test_a_missed_tolerance_is_explained_with_the_grid_codes(db: Path) -> None:
    """Cells of a town at k = 30, best effort: some grids stay outside their allowance;
    the outcome's notes name them by their codes (as the table does) and say whether the
    part of the town around them holds its share."""
    from gis.partition.job import PartitionRequest, run_partition

    store = open_store(str(db))
    try:
        out = run_partition(store, PartitionRequest(layer="environment", parent_code=TOWN, k=30,
                                                    units="cells", best_effort=True), write=False)  # fmt: skip
    finally:
        store.close()
    assert out.result.shortfalls
    miss = out.result.shortfalls[0]
    table = out.table.set_index("code")
    codes = [c for c in table.index if c in " ".join(en for en, _ in out.result.notes)]
    assert codes and all(c.startswith(TOWN) for c in codes)
    col = f"{miss.weight}_dev_pct"
    worst = table.loc[codes, col].abs().max()
    assert worst == pytest.approx(max(abs(v) for v in miss.grid_dev_pct), abs=0.01)
    notes = out.to_json()["notes"]
    assert any("miss the tolerance" in n["message"] and "未达到容差" in n["message_zh"] for n in notes)


def test_a_tolerance_ruled_out_by_a_dense_cluster_is_refused_naming_the_unit(db: Path) -> None:
    """The town's 20 villages in 4 grids at 2 %: one village sits among such dense ones
    that no grid of a quarter of the town's area can hold it with at most 102 % of the
    mean enterprises; the CLI refuses, naming the village by its code and the tolerance
    below which it is ruled out, and ``--best-effort`` partitions all the same and says
    why the result misses."""
    args = ["partition", "environment", "--parent-code", TOWN, "--k", "4", "--units", "villages", "--db", str(db)]
    refused = CliRunner().invoke(app, args)
    assert refused.exit_code != 0
    text = " ".join(refused.output.split())
    assert "The tolerance cannot be met" in text and "均衡容差无法满足" in text
    assert re.search(r"unit 310199104\d{3}: every connected grid holding it", text), text
    below = float(re.search(r"any tolerance below ([0-9.]+) % is ruled out", text).group(1))
    assert 2.0 < below < 100.0
    store = open_store(str(db))
    try:
        assert all(p.status != "draft" for p in store.plans("environment"))  # nothing written
    finally:
        store.close()
    done = CliRunner().invoke(app, args + ["--best-effort"])
    assert done.exit_code == 0, done.output
    assert "No partition can keep every weight within the tolerance" in " ".join(done.output.split())


def test_cells_sized_from_the_workload(db: Path, client) -> None:
    """``cell_workload``: cells of about that many enterprises each on average (the side
    comes from the town's area and its enterprises), said in the notes; refused with
    villages, without a point weight, or when not positive."""
    from gis.errors import InvalidInput
    from gis.partition.job import PartitionRequest, run_partition

    store = open_store(str(db))
    try:
        runs = {}
        for per_cell in (2.0, 20.0):
            req = PartitionRequest(layer="environment", parent_code=TOWN, k=4, units="cells",
                                   cell_workload=per_cell, best_effort=True)  # fmt: skip
            runs[per_cell] = out = run_partition(store, req, write=False)
            mean = out.units["enterprises"].sum() / len(out.units)
            assert 0.5 * per_cell <= mean <= 1.1 * per_cell, (per_cell, mean, len(out.units))
            en, zh = out.result.notes[0]
            assert f"about {per_cell:g} enterprises per cell" in en and "米" in zh
        assert len(runs[2.0].units) > 5 * len(runs[20.0].units)
        for bad in (dict(units="villages", cell_workload=5.0),
                    dict(units="cells", cell_workload=5.0, weights=["area"]),
                    dict(units="cells", cell_workload=0.0)):
            with pytest.raises(InvalidInput):
                run_partition(store, PartitionRequest(layer="environment", parent_code=TOWN, k=4, **bad),
                              write=False)  # fmt: skip
    finally:
        store.close()
    r = client.post("/plans/environment/partition",
                    json={"parent_code": TOWN, "k": 4, "units": "cells", "cell_workload": -1})
    assert r.status_code == 422 and "cell_workload" in r.text


def test_blocks_cut_by_roads_and_rivers_and_the_share_of_borders_along_them(db: Path) -> None:
    """``units=blocks``: the town's roads and rivers cut it into blocks, and the blocks
    into cells; the grids cover the town exactly, and the outcome says how much of the
    boundary between grids runs along the lines (the job prefers them as borders). A
    store without lines refuses blocks and says what to do."""
    import sqlite3

    from gis.errors import InvalidInput
    from gis.partition.job import PartitionRequest, run_partition

    req = PartitionRequest(layer="environment", parent_code=TOWN, k=4, units="blocks", tolerance=0.15,
                           best_effort=True)  # fmt: skip
    store = open_store(str(db))
    try:
        out = run_partition(store, req, write=False)
        cells = run_partition(store, PartitionRequest(layer="environment", parent_code=TOWN, k=4, units="cells",
                                                      tolerance=0.15, best_effort=True), write=False)  # fmt: skip
        town = store.grids(store.published_plan("environment").id).query("code == @TOWN").geometry.iloc[0]
    finally:
        store.close()
    assert all(u.startswith("b") for u in out.units["unit"]) and len(out.units) > len(cells.units)
    geoms = out.grids.geometry.values
    assert shapely.coverage_is_valid(geoms)
    union = shapely.coverage_union_all(geoms)  # (units made in metres: round trip noise only)
    assert shapely.area(shapely.symmetric_difference(union, town)) / town.area < 1e-6  # about 1 mm
    barrier = out.to_json()["barrier_share"]
    assert barrier["within_m"] == 1.0 and 0.3 < barrier["share"] <= 1.0
    assert any("runs along roads or rivers" in en and "沿道路或河流" in zh for en, zh in out.result.notes)
    assert cells.barrier["within_m"] == 150.0  # half a cell side

    with sqlite3.connect(db) as con:
        con.execute("DELETE FROM lines")
    store = open_store(str(db))
    try:
        with pytest.raises(InvalidInput) as err:
            run_partition(store, req, write=False)
        assert "No roads or rivers" in err.value.message and "--units cells" in err.value.message
        plain = run_partition(store, PartitionRequest(layer="environment", parent_code=TOWN, k=4, units="cells",
                                                      tolerance=0.15, best_effort=True), write=False)  # fmt: skip
        assert plain.barrier is None and plain.to_json()["barrier_share"] is None
    finally:
        store.close()


def test_grids_of_a_target_workload(db: Path, client) -> None:
    """``grid_workload`` instead of k: k is the town's total of the workload weight over
    it, rounded (enterprises a count, area in km^2), said in the first note; refused
    with both or neither of k and grid_workload, a workload weight that is not balanced,
    or a workload so small it needs more grids than units (naming the town)."""
    from gis.errors import InvalidInput
    from gis.partition.job import PartitionRequest, run_partition

    store = open_store(str(db))
    try:
        base = dict(layer="environment", parent_code=TOWN, units="villages", tolerance=0.15, best_effort=True)
        out = run_partition(store, PartitionRequest(grid_workload=150.0, **base), write=False)
        total = float(out.units["enterprises"].sum())
        assert total > 300
        expected = int(total / 150.0 + 0.5)
        assert out.result.k == expected == len(out.table), (total, out.result.k)
        en, zh = out.result.notes[0]
        assert f"k = {expected} grids from about 150 enterprises per grid" in en and "企业数" in zh
        km2 = float(out.units["area"].sum()) / 1e6
        area = run_partition(store, PartitionRequest(grid_workload=km2 / 3.2, workload_weight="area", **base),
                             write=False)  # fmt: skip
        assert area.result.k == 3 and "km2" in area.result.notes[0][0]
        assert "平方公里" in area.result.notes[0][1]
        for bad, field in ((dict(k=4, grid_workload=100.0), "k"), (dict(), "k"),
                           (dict(grid_workload=100.0, workload_weight="incidents"), "workload_weight"),
                           (dict(grid_workload=0.5), "grid_workload")):
            with pytest.raises(InvalidInput) as err:
                run_partition(store, PartitionRequest(**base, **bad), write=False)
            assert err.value.problems[0].field == field, (bad, err.value)
        assert "more than the" in err.value.message and TOWN in err.value.message
    finally:
        store.close()
    r = client.post("/plans/environment/partition", json={"parent_code": TOWN, "grid_workload": 150.0,
                                                          "tolerance": 0.15, "best_effort": True})
    assert r.status_code == 202, r.text
    body = _wait(client, r.json()["id"], lambda b: b["status"] != "running")
    assert body["status"] == "done" and body["result"]["k"] == expected, body
    for bad in ({"parent_code": TOWN, "k": 4, "grid_workload": 100.0}, {"parent_code": TOWN}):
        r = client.post("/plans/environment/partition", json=bad)
        assert r.status_code == 422 and "grid_workload" in r.text, r.text
    args = ["partition", "environment", "--parent-code", TOWN, "--tolerance", "0.15", "--best-effort", "--db", str(db)]
    cli = CliRunner().invoke(app, args + ["--grid-workload", "150"])
    assert cli.exit_code == 0, cli.output
    assert f"k = {expected} grids from about 150 enterprises per grid" in " ".join(cli.output.split())
    cli = CliRunner().invoke(app, args)
    assert cli.exit_code == 1 and "grid_workload" in cli.output, cli.output


def test_enterprises_weighted_by_risk_class_or_supervision_level(db: Path, client) -> None:
    """``weighted_enterprises``: each enterprise counts its risk class's (or supervision
    level's) weight, 1 when empty or unlisted; the units' totals are the town's, worked
    out here from the store's points, and the grids are balanced on it. Refused: the
    weight without weights, weights without the weight, an unknown class, a negative
    weight, an unknown column (and by rebalance, which takes no weights); the CLI and the
    API take it too."""
    from gis.errors import InvalidInput
    from gis.partition.job import PartitionRequest, run_partition

    risk = {"major": 4.0, "high": 3.0, "medium": 2.0, "low": 1.0}
    base = dict(layer="environment", parent_code=TOWN, k=4, units="villages", tolerance=0.15, best_effort=True)
    store = open_store(str(db))
    try:
        ents = store.read("enterprises")
        grids = store.grids(store.published_plan("environment").id)
        town = grids[grids["code"] == TOWN].geometry.iloc[0]
        inside = ents[shapely.covers(town, ents.geometry.values)]
        assert inside["risk_class"].nunique() >= 3  # the case this is for
        out = run_partition(store, PartitionRequest(weights=["weighted_enterprises", "area"],
                                                    enterprise_weights=risk, **base), write=False)  # fmt: skip
        expected = inside["risk_class"].map(risk).fillna(1.0).sum()
        assert abs(out.units["weighted_enterprises"].sum() - expected) <= 4.0  # a point on the outline at most
        assert expected > 1.5 * len(inside)
        assert list(out.table.columns[3:5]) == ["weighted_enterprises", "weighted_enterprises_dev_pct"]
        assert abs(out.table["weighted_enterprises"].sum() - out.units["weighted_enterprises"].sum()) < 1e-6
        unlisted = int(inside["risk_class"].isna().sum())
        en, zh = out.result.notes[0]
        assert "counted by risk_class (major 4, high 3, medium 2, low 1)" in en and f"{unlisted:,} of the" in en
        assert "加权企业数" in zh
        level = run_partition(store, PartitionRequest(weights=["weighted_enterprises"], enterprise_weight_by=
                                                      "supervision_level", enterprise_weights={"district": 5.0},
                                                      **base), write=False)  # fmt: skip
        extra = 4.0 * (inside["supervision_level"] == "district").sum()
        assert abs(level.units["weighted_enterprises"].sum() - (len(inside) + extra)) <= 4.0
        for bad, field in ((dict(weights=["weighted_enterprises"]), "enterprise_weights"),
                           (dict(enterprise_weights=risk), "weights"),
                           (dict(weights=["weighted_enterprises"], enterprise_weights={"hgih": 3.0}),
                            "enterprise_weights"),
                           (dict(weights=["weighted_enterprises"], enterprise_weights={"high": -1.0}),
                            "enterprise_weights"),
                           (dict(weights=["weighted_enterprises"], enterprise_weights=risk,
                                 enterprise_weight_by="industry"), "enterprise_weight_by")):
            with pytest.raises(InvalidInput) as err:
                run_partition(store, PartitionRequest(**{**base, **bad}), write=False)
            assert err.value.problems[0].field == field, (bad, err.value)
        from gis.partition.plan_rebalance import run_rebalance

        with pytest.raises(InvalidInput) as err:  # rebalance takes no enterprise weights: said, not ignored
            run_rebalance(store, "community", "310199102", ["weighted_enterprises"], write=False)
        assert err.value.problems[0].field == "enterprise_weights"
    finally:
        store.close()
    args = ["partition", "environment", "--parent-code", TOWN, "--k", "4", "--tolerance", "0.15", "--best-effort",
            "--weights", "weighted_enterprises,area", "--db", str(db)]
    cli = CliRunner().invoke(app, args + ["--enterprise-weights", "major=4,high=3,medium=2,low=1"])
    assert cli.exit_code == 0, cli.output
    assert "counted by risk_class" in " ".join(cli.output.split())
    cli = CliRunner().invoke(app, args + ["--enterprise-weights", "major:4"])
    assert cli.exit_code == 2 and "VALUE=WEIGHT" in cli.output, cli.output
    body = {"parent_code": TOWN, "k": 4, "tolerance": 0.15, "best_effort": True,
            "weights": ["weighted_enterprises", "area"], "enterprise_weights": risk}
    r = client.post("/plans/environment/partition", json=body)
    assert r.status_code == 202, r.text
    done = _wait(client, r.json()["id"], lambda b: b["status"] != "running")
    assert done["status"] == "done" and "weighted_enterprises" in done["result"]["max_dev_pct"], done
    r = client.post("/plans/environment/partition", json={**body, "enterprise_weights": {"hgih": 3}})
    assert r.status_code == 422 and "hgih" in r.text, r.text


def test_a_tolerance_per_weight_through_the_api_and_the_cli(db: Path, client) -> None:
    """The API and the CLI take a tolerance per weight: every grid ends within its own
    weight's tolerance (the table's deviations), and a mapping that misses a balanced
    weight is refused at once (422, naming it), as is a CLI value that is neither a
    number nor WEIGHT=TOLERANCE pairs."""
    tolerance = {"enterprises": 0.3, "area": 0.15}  # the town reaches 27.6 / 14.0 %
    r = client.post("/plans/environment/partition", json={"parent_code": TOWN, "k": 4, "units": "villages",
                                                          "tolerance": tolerance, "best_effort": True})
    assert r.status_code == 202, r.text
    body = _wait(client, r.json()["id"], lambda b: b["status"] != "running")
    assert body["status"] == "done", body
    assert body["result"]["tolerance"] == tolerance and body["result"]["within_tolerance"] is True, body
    table = body["result"]["table"]
    for name, tol in tolerance.items():
        assert max(abs(row[f"{name}_dev_pct"]) for row in table) <= 100 * tol + 1e-6, (name, table)
    r = client.post("/plans/environment/partition", json={"parent_code": TOWN, "k": 4,
                                                          "tolerance": {"enterprises": 0.3}})
    assert r.status_code == 422 and "area" in r.text and "容差" in r.text, r.text

    args = ["partition", "environment", "--parent-code", TOWN, "--k", "4", "--best-effort", "--db", str(db)]
    cli = CliRunner().invoke(app, args + ["--tolerance", "enterprises=0.3,area=0.15"])
    assert cli.exit_code == 0, cli.output
    dev = re.search(r"max deviation: enterprises ([\d.]+) %, area ([\d.]+) %", cli.output)
    assert dev and float(dev[1]) <= 30.0 and float(dev[2]) <= 15.0, cli.output
    cli = CliRunner().invoke(app, args + ["--tolerance", "tight"])
    assert cli.exit_code == 2 and "WEIGHT=TOLERANCE" in cli.output, cli.output


def test_tries_through_the_cli_and_the_api(db: Path, client) -> None:
    """``--tries`` / ``"tries"`` reach the solver: the town's cells at k = 30 miss their
    allowance from seed 0, so the CLI solves a second seed and says which one it kept
    (the draft plan records the request); the API refuses a count outside 1-20 at once
    (422, naming the field)."""
    args = ["partition", "environment", "--parent-code", TOWN, "--k", "30", "--units", "cells",
            "--best-effort", "--tries", "2", "--db", str(db)]
    cli = CliRunner().invoke(app, args)
    assert cli.exit_code == 0, cli.output
    text = " ".join(cli.output.split())
    kept = re.search(r"Tried 2 seed\(s\) from 0; kept seed ([01]) \(the least outside the allowance\)", text)
    assert kept, text
    store = open_store(str(db))
    try:
        draft = [p for p in store.plans("environment") if p.status == "draft"][-1]
        assert '"tries": 2' in (draft.note or ""), draft.note
    finally:
        store.close()
    for bad in (0, 21):
        r = client.post("/plans/environment/partition", json={"parent_code": TOWN, "k": 4, "tries": bad})
        assert r.status_code == 422 and "tries" in r.text and "尝试次数" in r.text, r.text
