"""Rebalancing a plan in the store: sub-grids move between the children of a town,
people move with them, codes renumbered, the draft is a valid nested coverage that
publishes through the gate; on both backends."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest
import shapely

from gis.coverage.check import check_coverage
from gis.errors import InvalidInput, NotFound
from gis.partition.plan_rebalance import run_rebalance
from tests.test_tiles import _load, town  # noqa: F401 - the town fixture, shared


def test_rebalance_moves_sub_grids_with_their_people(store, town) -> None:  # noqa: F811
    plan_id = _load(store, town)
    top = sorted(town["grids"].loc[town["grids"]["level"] == 2, "code"])[0]
    before_people = store.people(plan_id)
    out = run_rebalance(store, "community", top, ["enterprises", "area"], tolerance=0.05)
    assert out.base_plan_id == plan_id and out.plan_id != plan_id
    for w in ("enterprises", "area"):
        assert out.max_dev_pct_after[w] < out.max_dev_pct_before[w]
    assert len(out.moves) > 0
    assert out.enterprises_moved == pytest.approx(out.moves["enterprises"].sum())

    grids, people = store.grids(out.plan_id), store.people(out.plan_id)
    report = check_coverage(grids, people)
    assert report.ok, [str(f) for f in report.errors][:5]
    by_code = grids.set_index("code")
    for m in out.moves.itertuples():
        assert m.new_code.startswith(m.to_grid) and len(m.new_code) == len(m.code)
        row = by_code.loc[m.new_code]
        assert row["parent_code"] == m.to_grid and m.code not in by_code.index
        assert row["name"].startswith(by_code.loc[m.to_grid, "name"])
        moved_people = before_people.loc[before_people["grid_code"] == m.code, "name"]
        assert sorted(people.loc[people["grid_code"] == m.new_code, "name"]) == sorted(moved_people)
    assert len(people) == len(before_people)
    # each village is exactly the union of its unit grids
    for child in grids.loc[grids["parent_code"] == top, "code"]:
        union = shapely.union_all(grids.loc[grids["parent_code"] == child, "geom"].to_numpy())
        assert shapely.equals_exact(shapely.normalize(union), shapely.normalize(by_code.loc[child, "geom"]), 1e-9) \
            or shapely.symmetric_difference(union, by_code.loc[child, "geom"]).area < 1e-12
    store.publish(out.plan_id)  # the coverage gate (installed by _load) lets it through
    assert store.published_plan("community").id == out.plan_id


def test_rebalance_refuses_what_it_cannot_do(gpkg_store, town) -> None:  # noqa: F811
    _load(gpkg_store, town)
    grids = town["grids"]
    unit = sorted(grids.loc[grids["level"] == 4, "code"])[0]
    village = sorted(grids.loc[grids["level"] == 3, "code"])[0]
    with pytest.raises(NotFound):
        run_rebalance(gpkg_store, "community", "310199999", ["enterprises"])
    with pytest.raises(InvalidInput, match="child grid"):
        run_rebalance(gpkg_store, "community", unit, ["enterprises"])
    with pytest.raises(InvalidInput, match="no sub-grids"):
        run_rebalance(gpkg_store, "community", village, ["enterprises"])
    with pytest.raises(NotFound):
        run_rebalance(gpkg_store, "environment", village, ["enterprises"])  # nothing published there
    assert len(gpkg_store.plans()) == 1  # nothing written


def test_cli_rebalance_writes_a_draft_and_the_moves(sample_gpkg: Path, tmp_path: Path) -> None:
    import shutil

    from typer.testing import CliRunner

    from gis.cli import app
    from gis.store import open_store

    db = tmp_path / "s.gpkg"
    shutil.copy(sample_gpkg, db)
    out = tmp_path / "moves.csv"
    res = CliRunner().invoke(app, ["rebalance", "community", "--parent-code", "310199102",
                                   "--moves-out", str(out), "--db", str(db)])  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "sub-grids moved" in res.output and "draft plan 3" in res.output
    moves = pd.read_csv(out, dtype=str, encoding="utf-8-sig")
    assert list(moves.columns) == ["code", "new_code", "from_grid", "to_grid", "enterprises"]
    assert len(moves) > 0 and moves["new_code"].str.startswith("310199102").all()
    # a tolerance per weight, and a value that is neither a number nor WEIGHT=TOLERANCE pairs
    res = CliRunner().invoke(app, ["rebalance", "community", "--parent-code", "310199102",
                                   "--tolerance", "enterprises=0.05,area=0.3", "--db", str(db)])  # fmt: skip
    assert res.exit_code == 0, res.output
    assert set(re.findall(r"(\w+): max deviation", res.output)) == {"enterprises", "area"}, res.output
    plan_id = int(re.search(r"draft plan (\d+)", res.output)[1])
    with open_store(str(db)) as store:
        note = json.loads(store.plan(plan_id).note)["rebalance"]
    assert note["tolerance"] == {"enterprises": 0.05, "area": 0.3}, note
    res = CliRunner().invoke(app, ["rebalance", "community", "--parent-code", "310199102",
                                   "--tolerance", "loose", "--db", str(db)])  # fmt: skip
    assert res.exit_code == 2 and "WEIGHT=TOLERANCE" in res.output, res.output


def test_api_rebalance_job_returns_the_draft_and_its_moves(sample_gpkg: Path, tmp_path: Path) -> None:
    import shutil
    import time

    from fastapi.testclient import TestClient

    from api.app import create_app
    from gis.store import open_store

    db = tmp_path / "s.gpkg"
    shutil.copy(sample_gpkg, db)
    store = open_store(str(db))
    try:
        with TestClient(create_app(store=store)) as client:
            r = client.post("/plans/community/rebalance", json={"parent_code": "310199102"})
            assert r.status_code == 202, r.text
            deadline = time.monotonic() + 90
            while (body := client.get(r.json()["href"]).json())["status"] == "running":
                assert time.monotonic() < deadline, body
                time.sleep(0.2)
            assert body["status"] == "done", body
            res = body["result"]
            assert res["plan_id"] and res["moves"] and res["base_plan_id"] == 1
            assert res["max_dev_pct_after"]["area"] < res["max_dev_pct_before"]["area"]
            assert client.get(f"/plans/{res['plan_id']}").json()["status"] == "draft"
            bad = client.post("/plans/community/rebalance", json={"parent_code": "310199102", "weights": []})
            assert bad.status_code == 422 and bad.json()["problems"][0]["field"] == "weights"
            bad = client.post("/plans/community/rebalance", json={"parent_code": "310199102",
                                                                  "tolerance": {"enterprises": 0.05}})
            assert bad.status_code == 422 and bad.json()["problems"][0]["field"] == "area", bad.text
            r = client.post("/plans/community/rebalance", json={"parent_code": "310199999"})
            while (body := client.get(r.json()["href"]).json())["status"] == "running":
                time.sleep(0.2)
            assert body["status"] == "failed" and body["error"]["status"] == 404
    finally:
        store.close()
