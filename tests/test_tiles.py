"""Vector tiles: tile math, the per-version cache, and the same features from both backends."""

from __future__ import annotations

from pathlib import Path

import mapbox_vector_tile
import numpy as np
import pandas as pd
import pytest
import shapely

from gis.coverage.gate import install
from gis.live import load_snapshot
from gis.store.base import NewPlan
from gis.tiles.cache import TileCache
from gis.tiles.layers import max_grid_level
from gis.tiles.mercator import tile_bounds_lonlat, tiles_covering
from gis.tiles.service import TileService

ZOOMS = (10, 11, 12, 13, 14, 15, 16, 17)


def test_tile_bounds_of_the_world_and_a_shanghai_tile():
    assert tile_bounds_lonlat(0, 0, 0) == pytest.approx((-180, -85.0511287798, 180, 85.0511287798))
    z, x, y = tiles_covering((121.47, 31.23, 121.47, 31.23), 14)[0]
    minx, miny, maxx, maxy = tile_bounds_lonlat(z, x, y)
    assert minx <= 121.47 <= maxx and miny <= 31.23 <= maxy


def test_cache_is_keyed_by_plan_version_and_evicts_least_recently_used():
    cache = TileCache(max_items=2)
    cache.put((1, "community", 10, 1, 1), b"a")
    cache.put((1, "community", 10, 1, 2), b"b")
    assert cache.get((1, "community", 10, 1, 1)) == b"a"
    cache.put((1, "community", 10, 1, 3), b"c")  # evicts (..., 2), the least recently used
    assert cache.get((1, "community", 10, 1, 2)) is None
    assert cache.get((2, "community", 10, 1, 1)) is None  # a new plan version misses
    cache.drop_older(2)
    assert len(cache) == 0


# ---------------------------------------------------------------------- both backends


@pytest.fixture(scope="module")
def town(sample_district):
    """One town of the sample's community layer (its subtree of grids, people, points)."""
    grids, people = sample_district.plans["community"]
    top = sorted(grids.loc[grids["level"] == 2, "code"])[0]
    sub = grids[grids["code"].astype(str).str.startswith(top)]
    root = grids[grids["level"] == 1].assign(
        geom=sub.loc[sub["code"] == top, "geom"].to_numpy()
    )  # the town's outline
    sub = pd.concat([root, sub]).set_geometry("geom")
    people = people[people["grid_code"].isin(set(sub["code"]))]
    area = shapely.union_all(sub.loc[sub["level"] == 2].geometry.to_numpy()).buffer(0.01)
    ent = sample_district.enterprises
    inc = sample_district.incidents
    return {
        "grids": sub,
        "people": people,
        "enterprises": ent[shapely.intersects(area, ent.geometry.to_numpy())],
        "incidents": inc[shapely.intersects(area, inc.geometry.to_numpy())],
        "bounds": area.bounds,
    }


def _load(store, town):
    install(store)  # publish writes the simplified grids per zoom band
    store.write({"enterprises": town["enterprises"], "incidents": town["incidents"]})
    written = store.write(
        {"grids": town["grids"], "people": town["people"]}, plan=NewPlan("community", "样例")
    )
    store.publish(written.plan_id)
    return written.plan_id


def _features(tile: bytes, layer: str) -> dict[int, dict]:
    if not tile:
        return {}
    decoded = mapbox_vector_tile.decode(tile)
    return {f["id"]: f["properties"] for f in decoded.get(layer, {"features": []})["features"]}


@pytest.mark.postgis
def test_both_backends_make_tiles_with_the_same_features_and_attributes(gpkg_store, pg_store, town):
    services, snaps = [], []
    for store in (gpkg_store, pg_store):
        _load(store, town)
        assert store.counts()["grid_simplified"] > 0
        snaps.append(load_snapshot(store))
        services.append(TileService(store))
    assert not services[0].native and services[1].native
    compared = 0
    for z in ZOOMS:
        addresses = tiles_covering(town["bounds"], z)
        for _, x, y in addresses[:: max(1, len(addresses) // 5)]:
            for layer in ("community", "enterprises", "incidents"):
                a, b = (
                    _features(s.tile(snap, layer, z, x, y), layer)
                    for s, snap in zip(services, snaps, strict=True)
                )
                assert a == b, f"{layer} {z}/{x}/{y}"
                compared += len(a)
                if layer == "community" and a:
                    assert max(p["level"] for p in a.values()) <= max_grid_level(z)
    assert compared > 1000


def test_tile_is_read_by_gdal_as_a_real_client(gpkg_store, town, tmp_path: Path):
    import pyogrio

    _load(gpkg_store, town)
    snap = load_snapshot(gpkg_store)
    minx, miny, maxx, maxy = town["bounds"]
    z, x, y = tiles_covering(
        ((minx + maxx) / 2, (miny + maxy) / 2, (minx + maxx) / 2, (miny + maxy) / 2), 14
    )[0]
    path = tmp_path / str(z) / str(x) / f"{y}.pbf"  # GDAL georeferences a /z/x/y.pbf path
    path.parent.mkdir(parents=True)
    path.write_bytes(TileService(gpkg_store).tile(snap, "community", z, x, y))
    frame = pyogrio.read_dataframe(path, layer="community")
    assert len(frame) > 0
    assert {"code", "name", "level"} <= set(frame.columns)
    bx0, by0, bx1, by1 = tile_bounds_lonlat(z, x, y, margin=0.05)
    cx, cy = shapely.get_coordinates(shapely.centroid(frame.to_crs(4326).geometry.to_numpy())).T
    assert np.all((cx > bx0) & (cx < bx1) & (cy > by0) & (cy < by1))


def test_publish_invalidates_cached_tiles(gpkg_store, town):
    _load(gpkg_store, town)
    service = TileService(gpkg_store)
    snap = load_snapshot(gpkg_store)
    minx, miny, maxx, maxy = town["bounds"]
    _, x, y = tiles_covering(
        ((minx + maxx) / 2, (miny + maxy) / 2, (minx + maxx) / 2, (miny + maxy) / 2), 12
    )[0]
    before = _features(service.tile(snap, "community", 12, x, y), "community")
    assert service.tile(snap, "community", 12, x, y) is service.tile(
        snap, "community", 12, x, y
    )  # cached
    renamed = town["grids"].assign(name=town["grids"]["name"] + "（新）")
    written = gpkg_store.write(
        {"grids": renamed, "people": town["people"]}, plan=NewPlan("community", "第二版")
    )
    gpkg_store.publish(written.plan_id)
    after = _features(service.tile(load_snapshot(gpkg_store), "community", 12, x, y), "community")
    assert set(before).isdisjoint(after)  # the new plan's rows
    assert all(p["name"].endswith("（新）") for p in after.values())


def test_tiles_and_tilejson_over_http(sample_gpkg):
    from fastapi.testclient import TestClient

    from api.app import create_app
    from gis.settings import Settings
    from gis.store import open_store

    store = open_store(str(sample_gpkg))
    with TestClient(create_app(Settings(), store=store)) as client:
        doc = client.get("/tiles/community.json").json()
        assert doc["tilejson"] == "3.0.0" and doc["vector_layers"][0]["id"] == "community"
        assert doc["tiles"][0].endswith("/tiles/community/{z}/{x}/{y}.mvt")
        z, x, y = tiles_covering(tuple(doc["bounds"]), 12)[0]
        resp = client.get(f"/tiles/community/{z}/{x}/{y}.mvt")
        assert (
            resp.status_code == 200
            and resp.headers["content-type"] == "application/vnd.mapbox-vector-tile"
        )
        assert client.get("/tiles/nope/1/0/0.mvt").status_code == 404
        assert client.get("/tiles/community/3/9/0.mvt").status_code == 422
        assert client.get("/tiles/enterprises.json").status_code == 200
    store.close()


def test_neighbouring_unit_grids_share_edges_in_a_tile(gpkg_store, town):
    """The tile draws the coverage-simplified grids: no overlap and no gap between neighbours."""
    _load(gpkg_store, town)
    snap = load_snapshot(gpkg_store)
    minx, miny, maxx, maxy = town["bounds"]
    c = ((minx + maxx) / 2, (miny + maxy) / 2, (minx + maxx) / 2, (miny + maxy) / 2)
    _, x, y = tiles_covering(c, 13)[0]
    decoded = mapbox_vector_tile.decode(TileService(gpkg_store).tile(snap, "community", 13, x, y))
    polys = np.array(
        [
            shapely.geometry.shape(f["geometry"])
            for f in decoded["community"]["features"]
            if f["properties"]["level"] == 4
        ]
    )
    assert len(polys) > 20
    inner = shapely.box(0, 0, 4096, 4096)
    union = shapely.intersection(shapely.union_all(polys), inner)
    total = shapely.intersection(polys, inner)
    assert shapely.area(total).sum() == pytest.approx(union.area, rel=0.002)  # no overlaps
    holes = [shapely.Polygon(r) for p in getattr(union, "geoms", [union]) for r in p.interiors]
    assert sum(h.area for h in holes) < 0.002 * union.area  # no gaps between neighbours
