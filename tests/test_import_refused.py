"""Each kind of bad file is refused with a specific message, on both backends, and the
store's contents are exactly what they were before (all or nothing)."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import pyogrio
import pytest
from shapely.geometry import box

from gis.errors import InvalidInput
from gis.importer import import_file
from gis.store import NewPlan, Store
from tests.test_store_contract import assert_unchanged, enterprises, grids, snapshot


def _county() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"code": ["310116000000"], "name": ["金山区"], "level": [1], "kind": ["county"]},
        geometry=[box(121.0, 30.6, 121.5, 31.0)],
        crs="EPSG:4490",
    ).rename_geometry("geom")


def _feature_collection(path: Path, features: list[dict]) -> Path:
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False), encoding="utf-8")
    return path


def _grid_feature(code: str, parent: str | None, level: int, coords) -> dict:
    return {
        "type": "Feature",
        "properties": {"code": code, "name": f"网格{code}", "level": level, "parent_code": parent},
        "geometry": {"type": "Polygon", "coordinates": [coords]},
    }


SQUARE = [[121.1, 30.7], [121.2, 30.7], [121.2, 30.8], [121.1, 30.8], [121.1, 30.7]]


def bowtie(tmp: Path) -> tuple[Path, dict]:
    bad = [[121.1, 30.7], [121.2, 30.8], [121.2, 30.7], [121.1, 30.8], [121.1, 30.7]]
    feats = [_grid_feature("310116", None, 1, SQUARE), _grid_feature("310116101", "310116", 2, bad)]
    return _feature_collection(tmp / "g.geojson", feats), {"table": "grids"}


def unclosed_ring(tmp: Path) -> tuple[Path, dict]:
    feats = [_grid_feature("310116", None, 1, SQUARE), _grid_feature("310116101", "310116", 2, SQUARE[:-1])]
    return _feature_collection(tmp / "g.geojson", feats), {"table": "grids"}


def wrong_type(tmp: Path) -> tuple[Path, dict]:
    feats = [_grid_feature("310116", None, 1, SQUARE)]
    feats.append({"type": "Feature", "properties": feats[0]["properties"] | {"code": "310116101", "parent_code": "310116", "level": 2}, "geometry": {"type": "Point", "coordinates": [121.15, 30.75]}})
    return _feature_collection(tmp / "g.geojson", feats), {"table": "grids"}


def duplicate_codes(tmp: Path) -> tuple[Path, dict]:
    df = enterprises(3, start=40)
    df.loc[2, "credit_code"] = df.loc[0, "credit_code"]
    path = tmp / "e.geojson"
    df.to_file(path)
    return path, {"table": "enterprises"}


def missing_field(tmp: Path) -> tuple[Path, dict]:
    path = tmp / "e.geojson"
    enterprises(3, start=40).drop(columns=["name"]).to_file(path)
    return path, {"table": "enterprises"}


def gbk_without_cpg(tmp: Path) -> tuple[Path, dict]:
    path = tmp / "e.shp"
    pyogrio.write_dataframe(enterprises(3, start=40).set_crs("EPSG:4326", allow_override=True), path, encoding="GBK")
    path.with_suffix(".cpg").unlink(missing_ok=True)
    return path, {"table": "enterprises"}


def swapped_csv(tmp: Path) -> tuple[Path, dict]:
    df = enterprises(3, start=40)
    path = tmp / "e.csv"
    out = df.drop(columns="geom").assign(lon=df.geometry.y, lat=df.geometry.x)  # swapped
    out.to_csv(path, index=False, encoding="utf-8-sig")
    return path, {"table": "enterprises", "crs": "wgs84"}


def metres_as_degrees(tmp: Path) -> tuple[Path, dict]:
    df = enterprises(3, start=40).to_crs("EPSG:4549").set_crs("EPSG:4326", allow_override=True)
    path = tmp / "e.geojson"
    df.to_file(path)
    return path, {"table": "enterprises"}


def far_away(tmp: Path) -> tuple[Path, dict]:
    df = enterprises(3, start=40)
    df["geom"] = gpd.points_from_xy([116.4, 116.41, 116.42], [39.9, 39.91, 39.92])  # Beijing, not Jinshan
    path = tmp / "e.geojson"
    df.set_crs("EPSG:4326", allow_override=True).to_file(path)
    return path, {"table": "enterprises", "crs": "wgs84"}


def shapefile_without_prj(tmp: Path) -> tuple[Path, dict]:
    path = tmp / "e.shp"
    pyogrio.write_dataframe(enterprises(3, start=40).set_crs("EPSG:4326", allow_override=True), path)
    path.with_suffix(".prj").unlink()
    return path, {"table": "enterprises"}


CASES = {
    "self-intersection": (bowtie, (1, "geom"), "invalid geometry"),
    "unclosed ring": (unclosed_ring, (1, "geom"), "ring"),
    "wrong geometry type": (wrong_type, (1, "geom"), "Point"),
    "duplicate codes": (duplicate_codes, (2, "credit_code"), "duplicate"),
    "missing required field": (missing_field, (None, "name"), "required field"),
    "GBK attributes without .cpg": (gbk_without_cpg, None, "--encoding gbk"),
    "swapped lat/lon": (swapped_csv, None, "swapped"),
    "metres labelled as degrees": (metres_as_degrees, None, "metres"),
    "far from the district": (far_away, None, "km"),
    "Shapefile without .prj": (shapefile_without_prj, None, ".prj"),
}


@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_bad_file_is_refused_and_store_unchanged(store: Store, tmp_path: Path, case: str) -> None:
    store.write({"admin_units": _county(), "enterprises": enterprises(5)})
    store.publish(store.write({"grids": grids()}, plan=NewPlan("environment", "现行")).plan_id)
    before = snapshot(store)
    make, where, text = CASES[case]
    path, kwargs = make(tmp_path)
    with pytest.raises(InvalidInput) as info:
        import_file(store, path, plan=NewPlan("community", "导入"), **kwargs)
    err = info.value
    full = str(err)
    assert text.lower() in full.lower(), full
    assert err.message_zh  # every refusal also speaks Chinese
    if where is not None:
        row, field = where
        assert any(p.row == row and p.field == field for p in err.problems), full
    assert_unchanged(before, snapshot(store))
    assert store.plan_version() == 1 and len(store.plans()) == 1
