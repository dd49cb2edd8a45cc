"""The publish gate (both backends), simplified geometries per zoom band, statistics, CLI and API."""

from __future__ import annotations

import csv
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from fastapi.testclient import TestClient
from shapely.geometry import box
from test_coverage_check import METRIC, X0, X1, Y0, Y1, people_for, plan
from typer.testing import CliRunner

from gis.coverage.gate import CoverageRefused, install
from gis.coverage.simplify import ZOOM_BANDS
from gis.coverage.stats import grid_stats, write_stats
from gis.crs import geoms_from_store
from gis.store import NewPlan, Store


def people_frame(grids: gpd.GeoDataFrame) -> pd.DataFrame:
    p = people_for(grids)
    return p.assign(name="张伟", phone="13812345678")


def with_gap() -> gpd.GeoDataFrame:
    hole = box(X1 - 3, 3_405_000, X1, 3_406_000)
    return plan(**{"310116101001": box(X0, Y0, X1, Y1).difference(hole)})


def with_sliver() -> gpd.GeoDataFrame:
    hole = box(X1 - 0.3, 3_405_000, X1, 3_406_000)
    return plan(**{"310116101001": box(X0, Y0, X1, Y1).difference(hole)})


def draft(store: Store, grids: gpd.GeoDataFrame) -> int:
    written = store.write(
        {"grids": grids, "people": people_frame(grids)}, plan=NewPlan("environment", "测试方案")
    )
    assert written.plan_id is not None
    return written.plan_id


def test_gate_refuses_a_plan_with_a_gap(store: Store) -> None:
    install(store)
    plan_id = draft(store, with_gap())
    with pytest.raises(CoverageRefused) as err:
        store.publish(plan_id, acknowledge=["sliver"])
    assert "1 error(s)" in err.value.message
    assert any("gap" in p.message and "310116101001" in p.message for p in err.value.problems)
    assert store.plan(plan_id).status == "draft"
    assert store.plan_version() == 0
    assert store.read("plan_events").empty and store.read("grid_simplified").empty


def test_gate_accepts_after_acknowledging_warnings_and_records_it(store: Store) -> None:
    install(store)
    plan_id = draft(store, with_sliver())
    with pytest.raises(CoverageRefused, match="--acknowledge sliver"):
        store.publish(plan_id)
    published = store.publish(plan_id, acknowledge=["sliver"])
    assert published.status == "published"
    events = store.read("plan_events", {"plan_id": plan_id})
    assert len(events) == 1
    ev = events.iloc[0]
    assert ev["kind"] == "acknowledged_warnings"
    assert ev["detail"] == {"kinds": ["sliver"], "findings": {"sliver": 1}}
    assert pd.notna(ev["at"])


def test_simplified_geometries_stored_and_still_a_coverage(store: Store) -> None:
    install(store)
    plan_id = draft(store, plan())
    store.publish(plan_id)
    simple = store.read("grid_simplified", {"plan_id": plan_id})
    grids = store.grids(plan_id)
    assert len(simple) == len(grids) * len(ZOOM_BANDS)
    assert sorted(simple["zoom_band"].unique()) == [b.band for b in ZOOM_BANDS]
    level = dict(zip(grids["code"], grids["level"], strict=True))
    for (band, lv), part in simple.assign(level=simple["code"].map(level)).groupby(
        ["zoom_band", "level"]
    ):
        geoms = part.geometry.to_numpy()
        assert shapely.is_valid(geoms).all()
        assert shapely.coverage_is_valid(geoms), (band, lv)


def test_jinshan_simplified_bands_keep_shared_edges(shared_data: Path) -> None:
    from gis.coverage.simplify import simplify_plan
    from gis.sample import generate_district

    d = generate_district(
        outline=shared_data / "admin-cn/shanghai/fences/310116.json",
        outline_crs="gcj02",
        n_enterprises=10,
        n_incidents=1,
    )
    grids = d.plans["environment"][0]
    simple = simplify_plan(grids)
    villages = grids[grids.level == 3]
    for band in ZOOM_BANDS:
        part = simple[(simple.zoom_band == band.band) & simple.code.isin(villages.code)]
        geoms = part["geom"].to_numpy()
        assert shapely.coverage_is_valid(geoms), band
        # simplified: fewer vertices, neighbours still share edges (no gap, no overlap)
        assert (
            shapely.get_num_coordinates(geoms).sum()
            < shapely.get_num_coordinates(villages.geometry.to_numpy()).sum()
        )
        union = shapely.coverage_union_all(geoms_from_store(geoms, METRIC))
        original = shapely.union_all(geoms_from_store(villages.geometry.to_numpy(), METRIC))
        assert abs(union.area - original.area) / original.area < 0.01


def test_statistics_add_up_to_the_store_counts(sample_gpkg: Path, tmp_path: Path) -> None:
    from gis.store.geopackage import GeoPackageStore

    with GeoPackageStore(sample_gpkg) as store:
        counts = store.counts()
        community = store.published_plan("community")
        assert community is not None
        stats = grid_stats(
            store.grids(community.id),
            store.read("enterprises"),
            store.read("incidents"),
            store.people(community.id),
        )
        n_people = len(store.people(community.id))
    for lv, sums in stats.level_sums().items():
        assert sums == {"enterprises": counts["enterprises"], "incidents": counts["incidents"]}, lv
    t = stats.table
    assert int(t["people"].sum()) == n_people
    top = t[t.level == 1].iloc[0]
    assert top["enterprises"] == counts["enterprises"]
    assert top[["ent_district", "ent_town", "ent_village"]].sum() == counts["enterprises"]
    assert top[[c for c in t.columns if c.startswith("ent_risk_")]].sum() == counts["enterprises"]
    assert (
        top[[c for c in t.columns if c.startswith("incidents_cat_")]].sum() == counts["incidents"]
    )
    assert t["ent_responsible"].sum() == counts["enterprises"] - sum(
        stats.outside[lv]["enterprises"] for lv in (1, 2, 3)
    )
    assert stats.by_period.groupby("level")["count"].sum().eq(counts["incidents"]).all()
    path = write_stats(stats, tmp_path / "stats.csv")
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    with path.open(encoding="utf-8-sig") as f:
        header = next(csv.reader(f))
    assert header[:3] == ["网格编码", "网格名称", "层级"]


def test_lowest_code_wins_on_a_shared_edge() -> None:
    from gis.coverage.stats import assign_points

    a, b = box(0, 0, 1, 1), box(1, 0, 2, 1)
    idx = assign_points(
        np.array([shapely.Point(1, 0.5), shapely.Point(1.5, 0.5), shapely.Point(5, 5)]),
        np.array([b, a], dtype=object),
        np.array(["002", "001"], dtype=object),
    )
    assert idx.tolist() == [1, 0, -1]


# ---------------------------------------------------------------------- CLI and API


def test_cli_check_publish_and_repair(tmp_path: Path) -> None:
    from gis.cli import app
    from gis.store.geopackage import GeoPackageStore

    path = tmp_path / "s.gpkg"
    with GeoPackageStore(path) as s:
        s.init()
        plan_id = draft(s, with_sliver())
        gap_id = draft(s, with_gap())
    runner = CliRunner()
    db = ["--db", str(path)]
    res = runner.invoke(
        app, ["coverage", "check", str(gap_id), *db, "--findings", str(tmp_path / "f.gpkg")]
    )
    assert res.exit_code == 1 and "gap" in res.output and (tmp_path / "f.gpkg").exists()
    res = runner.invoke(app, ["plan", "publish", str(gap_id), *db])
    assert res.exit_code == 1 and "cannot be published" in res.output and "gap" in res.output
    res = runner.invoke(
        app, ["coverage", "repair", str(gap_id), "--gap-width", "5", "--snap", "0.01", *db]
    )
    assert res.exit_code == 0, res.output
    assert "changed 310116101001" in res.output and "coverage check PASS" in res.output
    res = runner.invoke(app, ["plan", "publish", str(plan_id), *db])
    assert res.exit_code == 1 and "--acknowledge sliver" in res.output
    res = runner.invoke(app, ["plan", "publish", str(plan_id), "--acknowledge", "sliver", *db])
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["stats", str(plan_id), "--out", str(tmp_path / "t.csv"), *db])
    assert res.exit_code == 0, res.output and (tmp_path / "t.csv").exists()


def test_api_coverage_stats_and_gated_publish(gpkg_store: Store) -> None:
    from api.app import create_app

    install(gpkg_store)
    gap_id = draft(gpkg_store, with_gap())
    sliver_id = draft(gpkg_store, with_sliver())
    with TestClient(create_app(store=gpkg_store)) as client:
        r = client.get(f"/plans/{gap_id}/coverage")
        assert r.status_code == 200
        body = r.json()
        assert body["ok"] is False and body["counts"]["error"] == {"gap": 1}
        feat = body["findings"]["features"][0]
        assert feat["properties"]["kind"] == "gap" and feat["geometry"]["type"] == "Polygon"
        r = client.post(f"/plans/{gap_id}/publish")
        assert r.status_code == 409 and "cannot be published" in r.json()["detail"]
        assert any("gap" in p["message"] for p in r.json()["problems"])
        assert client.post(f"/plans/{sliver_id}/publish").status_code == 409
        r = client.post(f"/plans/{sliver_id}/publish", params={"acknowledge": "sliver"})
        assert r.status_code == 200, r.text
        r = client.get(f"/plans/{sliver_id}/stats")
        assert r.status_code == 200 and len(r.json()["grids"]) == 7
        assert client.get("/plans/999/coverage").status_code == 404
