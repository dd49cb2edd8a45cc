"""A map of the coverage findings: where the gap is, offline, from the CLI and the API."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
from fastapi.testclient import TestClient
from shapely.geometry import box
from typer.testing import CliRunner

from api import create_app
from gis.cli import app
from gis.maps.assets import outside_urls
from gis.store import NewPlan, Store
from tests.test_lookup_api import _plan_frames


def shows(html: str, text: str) -> bool:
    """``text`` is on the page, as HTML or inside the page's JSON (escaped \\uXXXX)."""
    return text in html or json.dumps(text)[1:-1] in html


def _plan_with_a_gap(store: Store) -> int:
    grids, people = _plan_frames()
    # town 102 starts 0.005 degrees (~480 m) east of where town 101 ends: a gap
    geoms = list(grids.geometry)
    geoms[2] = box(121.105, 30.7, 121.2, 30.8)
    grids = gpd.GeoDataFrame(grids.drop(columns="geom"), geometry=geoms, crs="EPSG:4490").rename_geometry("geom")
    return store.write({"grids": grids, "people": people}, plan=NewPlan("environment", "有空隙")).plan_id


def test_cli_writes_a_standalone_map_of_the_findings(gpkg_store: Store, tmp_path: Path) -> None:
    pid = _plan_with_a_gap(gpkg_store)
    out = tmp_path / "findings.html"
    result = CliRunner().invoke(app, ["coverage", "check", str(pid), "--map", str(out), "--db", str(gpkg_store.path)])
    assert result.exit_code == 1, result.output  # errors found
    assert "wrote the map of the findings" in result.output
    html = out.read_text(encoding="utf-8")
    assert shows(html, "覆盖检查问题（1 处）") and shows(html, "空隙（无网格覆盖）") and "310116101" in html
    assert outside_urls(html) == []  # every asset inlined: opens on an offline PC


def test_api_serves_the_findings_map(store: Store) -> None:
    pid = _plan_with_a_gap(store)
    with TestClient(create_app(store=store)) as c:
        r = c.get(f"/plans/{pid}/coverage/map")
        assert r.status_code == 200 and shows(r.text, "覆盖检查问题（1 处）")
        assert c.get("/plans/999/coverage/map").status_code == 404
