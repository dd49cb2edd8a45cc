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
        assert "gridgis 样例数据" in doc["attribution"]  # the store's credits
        assert doc["tiles"][0].endswith("/tiles/community/{z}/{x}/{y}.mvt")
        z, x, y = tiles_covering(tuple(doc["bounds"]), 12)[0]
        resp = client.get(f"/tiles/community/{z}/{x}/{y}.mvt")
        assert (
            resp.status_code == 200
            and resp.headers["content-type"] == "application/vnd.mapbox-vector-tile"
        )
        assert client.get("/tiles/nope/1/0/0.mvt").status_code == 404
        assert client.get("/tiles/community/3/9/0.mvt").status_code == 422
        assert client.get("/tiles/community/x/0/0.mvt").status_code == 422  # the documented route
        assert "/tiles/{layer}/{z}/{x}/{y}.mvt" in client.get("/openapi.json").json()["paths"]
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


# ---------------------------------------------------------------------- PostGIS over HTTP


def _wait_for_version(client, path: str, version: str, timeout: float = 20.0):
    """GET ``path`` until the service answers from plan version ``version`` (the live engine
    swaps its snapshot when the publish's NOTIFY arrives)."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        resp = client.get(path)
        assert resp.status_code == 200
        if resp.headers["X-Plan-Version"] == version or time.monotonic() > deadline:
            return resp
        time.sleep(0.1)


@pytest.mark.postgis
def test_postgis_tiles_over_http_are_the_stores_tiles_and_follow_a_publish(pg_store, town):
    """The route awaits the store's asyncio pool (libpq prepared statement) and serves the
    very bytes of the synchronous path; a publish makes it serve the new plan's tiles."""
    from fastapi.testclient import TestClient

    from api.app import create_app
    from gis.settings import Settings

    _load(pg_store, town)
    snap = load_snapshot(pg_store)
    service = TileService(pg_store)
    minx, miny, maxx, maxy = town["bounds"]
    c = ((minx + maxx) / 2, (miny + maxy) / 2, (minx + maxx) / 2, (miny + maxy) / 2)
    addresses = [tiles_covering(c, z)[0] for z in ZOOMS]
    with TestClient(create_app(Settings(), store=pg_store)) as client:
        assert pg_store._async_tile_pools(), "the app opened no asyncio tile pool"
        for layer in ("community", "enterprises", "incidents"):
            for z, x, y in addresses:
                resp = client.get(f"/tiles/{layer}/{z}/{x}/{y}.mvt")
                assert resp.status_code == 200, resp.text
                assert resp.content == service.tile(snap, layer, z, x, y), f"{layer} {z}/{x}/{y}"
        z, x, y = addresses[2]
        path = f"/tiles/community/{z}/{x}/{y}.mvt"
        before = _features(client.get(path).content, "community")
        assert before
        renamed = town["grids"].assign(name=town["grids"]["name"] + "（新）")
        written = pg_store.write(
            {"grids": renamed, "people": town["people"]}, plan=NewPlan("community", "第二版")
        )
        pg_store.publish(written.plan_id)
        resp = _wait_for_version(client, path, str(pg_store.plan_version()))
        assert resp.headers["X-Plan-Version"] == str(pg_store.plan_version())
        after = _features(resp.content, "community")
        assert set(before).isdisjoint(after)
        assert after and all(p["name"].endswith("（新）") for p in after.values())
    assert not pg_store._async_tile_pools()  # closed with the app


@pytest.mark.postgis
def test_postgis_tiles_survive_dropped_connections(pg_store, town):
    """A server restart or an idle timeout drops the pooled connections: the next tile is
    made on a new connection (no error, no pre-ping per tile)."""
    import asyncio

    import psycopg

    from gis.store.postgis import _TILE_CONN

    _load(pg_store, town)
    service = TileService(pg_store)
    minx, miny, maxx, maxy = town["bounds"]
    c = ((minx + maxx) / 2, (miny + maxy) / 2, (minx + maxx) / 2, (miny + maxy) / 2)
    z, x, y = tiles_covering(c, 14)[0]
    args = service._native_args(
        "community", load_snapshot(pg_store).layers["community"].plan.id, z, x, y
    )

    def drop() -> int:
        with psycopg.connect(pg_store._libpq_url(), autocommit=True) as conn:
            return conn.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE application_name = %s AND pid <> pg_backend_pid()",
                (_TILE_CONN["application_name"],),
            ).fetchone()[0]

    async def run() -> None:
        await pg_store.open_async_tiles()
        try:
            first = await pg_store.mvt_tile_async(**args)
            assert first and first == pg_store.mvt_tile(**args)
            assert drop() >= 2
            assert await pg_store.mvt_tile_async(**args) == first
            assert pg_store.mvt_tile(**args) == first
            assert drop() >= 1
            again = await asyncio.gather(*(pg_store.mvt_tile_async(**args) for _ in range(6)))
            assert all(t == first for t in again)
        finally:
            await pg_store.close_async_tiles()

    asyncio.run(run())


def test_an_enterprise_import_refreshes_the_enterprise_tiles(gpkg_store, town):
    """Enterprise imports bump the data version (no publish): the tiles follow it."""
    _load(gpkg_store, town)
    service = TileService(gpkg_store)
    snap = load_snapshot(gpkg_store)
    ent = town["enterprises"]
    z, x, y = tiles_covering(tuple(ent.total_bounds), 11)[0]
    before = _features(service.tile(snap, "enterprises", z, x, y), "enterprises")
    moved = ent.iloc[:1].assign(name="新入驻企业", credit_code="91310000MA1NEW000L")
    gpkg_store.write({"enterprises": moved})
    snap2 = load_snapshot(gpkg_store)
    assert snap2.plan_version == snap.plan_version
    after = _features(service.tile(snap2, "enterprises", z, x, y), "enterprises")
    assert "新入驻企业" in {p["name"] for p in after.values()}
    assert len(after) >= len(before)


def test_a_reported_incident_reaches_the_incident_tiles_within_their_ttl(gpkg_store, town, monkeypatch):
    """Incidents bump no version (they arrive all day): their tiles live one TTL bucket."""
    import gis.tiles.service as service_mod

    clock = [1000.0]
    monkeypatch.setattr(service_mod.time, "monotonic", lambda: clock[0])
    _load(gpkg_store, town)
    service = TileService(gpkg_store)
    snap = load_snapshot(gpkg_store)
    inc = town["incidents"]
    z, x, y = tiles_covering(tuple(inc.total_bounds), 11)[0]
    before = _features(service.tile(snap, "incidents", z, x, y), "incidents")
    new = inc.iloc[:1].assign(category="夜间施工噪声")
    gpkg_store.write({"incidents": new})
    assert load_snapshot(gpkg_store).plan_version == snap.plan_version
    same = _features(service.tile(snap, "incidents", z, x, y), "incidents")
    assert same == before  # cached within the bucket
    clock[0] += service_mod.INCIDENT_TILE_TTL_S
    after = _features(service.tile(snap, "incidents", z, x, y), "incidents")
    assert "夜间施工噪声" in {p["category"] for p in after.values()} and len(after) == len(before) + 1
