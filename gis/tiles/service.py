"""Tiles for the published plans: one encoder path per backend, one cache.

Glue between the store and the pure tile code (no SQL here): on PostGIS the
store makes the tile with ``ST_AsMVT`` (:meth:`PostGISStore.mvt_tile`; the HTTP
route awaits :meth:`PostGISStore.mvt_tile_async` on the pool the app opens with
:meth:`TileService.start`, so an uncached tile is one prepared statement on a
pooled connection and no thread hop); on the
embedded store the frames are read once per plan (and data) version, indexed, and each
tile is encoded in Python from the same stored geometries: the simplified grids
of the tile's zoom band (``grid_simplified``), each falling back to the stored
grid where the band has no row, and the stored grids from zoom 17.
"""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import shapely

from gis.errors import NotFound
from gis.lookup.engine import Snapshot
from gis.tiles.cache import TileCache
from gis.tiles.encode import encode_tile
from gis.tiles.layers import POINT_LAYERS, band_slack_deg, kind_of, max_grid_level, zoom_band
from gis.tiles.mercator import BUFFER, EXTENT, check_tile, tile_bounds_lonlat


@dataclass
class _Source:
    """Features of one layer (and band) ready to cut into tiles."""

    geoms: np.ndarray
    ids: np.ndarray
    props: np.ndarray  # dicts
    levels: np.ndarray | None
    tree: shapely.STRtree

    @classmethod
    def build(
        cls, geoms: np.ndarray, ids: np.ndarray, props: list[dict], levels: np.ndarray | None = None
    ) -> _Source:
        geoms = np.asarray(geoms, dtype=object)
        return cls(
            geoms, np.asarray(ids), np.asarray(props, dtype=object), levels, shapely.STRtree(geoms)
        )


def _none(v: Any) -> Any:
    return None if v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NA else v


def _records(frame: pd.DataFrame, cols: list[str]) -> list[dict]:
    return [{k: _none(v) for k, v in r.items()} for r in frame[cols].to_dict("records")]


#: incident tiles are at most this old: incidents are reported all day and bump no version
INCIDENT_TILE_TTL_S = 10.0


def _incident_bucket() -> int:
    return int(time.monotonic() // INCIDENT_TILE_TTL_S)


class TileService:
    """``tile(snapshot, layer, z, x, y)`` -> MVT bytes, cached per plan (and data) version."""

    def __init__(self, store: Any, cache: TileCache | None = None) -> None:
        self.store = store
        self.cache = cache or TileCache()
        self._sources: dict[tuple, _Source] = {}
        self._lock = threading.Lock()
        self._version: tuple[int, int] = (-1, -1)

    @property
    def native(self) -> bool:
        """True when the store makes tiles itself (PostGIS ST_AsMVT)."""
        return hasattr(self.store, "mvt_tile")

    def layer_names(self, snap: Snapshot) -> list[str]:
        return [*snap.layers, *POINT_LAYERS]

    def _plan_id(self, snap: Snapshot, layer: str) -> int | None:
        if layer in POINT_LAYERS:
            return None
        ls = snap.layers.get(layer)
        if ls is None:
            raise NotFound(
                f"No tile layer {layer!r}; layers: {self.layer_names(snap)}",
                f"没有瓦片图层 {layer!r}；可用图层：{self.layer_names(snap)}",
            )
        return ls.plan.id

    def tile(self, snap: Snapshot, layer: str, z: int, x: int, y: int) -> bytes:
        key = self._key(snap, layer, z, x, y)
        hit = self.cache.get(key)
        if hit is not None:
            return hit
        tile = self.make_tile(key[0], layer, self._plan_id(snap, layer), z, x, y)
        self.cache.put(key, tile)
        return tile

    async def tile_async(self, snap: Snapshot, layer: str, z: int, x: int, y: int) -> bytes:
        """:meth:`tile` for the event loop: PostGIS tiles are awaited on the store's asyncio
        pool when the app opened it (:meth:`start`), others are made in a worker thread."""
        key = self._key(snap, layer, z, x, y)
        hit = self.cache.get(key)
        if hit is not None:
            return hit
        plan_id = self._plan_id(snap, layer)
        if self.native and self.store.async_tiles_open():
            tile = await self.store.mvt_tile_async(**self._native_args(layer, plan_id, z, x, y))
        else:
            tile = await asyncio.to_thread(self.make_tile, key[0], layer, plan_id, z, x, y)
        self.cache.put(key, tile)
        return tile

    async def start(self) -> None:
        """Open what the service needs for the life of an app (PostGIS: the asyncio pool)."""
        if self.native and hasattr(self.store, "open_async_tiles"):
            await self.store.open_async_tiles()

    async def stop(self) -> None:
        if self.native and hasattr(self.store, "close_async_tiles"):
            await self.store.close_async_tiles()

    def _key(self, snap: Snapshot, layer: str, z: int, x: int, y: int) -> tuple:
        """The cache key: the snapshot's (plan version, data version) and the tile. A publish
        bumps the first, an import of enterprises the second; a newer version than seen so
        far drops the older tiles (and the embedded store's frames)."""
        check_tile(z, x, y)
        if kind_of(layer) == "incidents":  # they arrive all day without a version bump
            layer = f"{layer}@{_incident_bucket()}"
        version = (snap.plan_version, getattr(snap, "data_version", 0))
        if version != self._version:
            with self._lock:
                if version > self._version:
                    self._version = version
                    self.cache.drop_older(version)
                    self._sources = {k: v for k, v in self._sources.items() if k[0] >= version}
        return (version, layer, z, x, y)

    def _native_args(self, layer: str, plan_id: int | None, z: int, x: int, y: int) -> dict:
        """What the store's ST_AsMVT statement takes for this tile."""
        kind = kind_of(layer)
        band = zoom_band(z) if kind == "grids" else None
        return {
            "kind": kind, "name": layer, "z": z, "x": x, "y": y, "plan_id": plan_id,
            "zoom_band": band, "max_level": max_grid_level(z) if kind == "grids" else None,
            "slack": band_slack_deg(band), "extent": EXTENT, "buffer": BUFFER,
        }  # fmt: skip

    def make_tile(
        self, version: tuple[int, int], layer: str, plan_id: int | None, z: int, x: int, y: int
    ) -> bytes:
        """The tile, uncached."""
        if self.native:
            return self.store.mvt_tile(**self._native_args(layer, plan_id, z, x, y))
        kind = kind_of(layer)
        band = zoom_band(z) if kind == "grids" else None
        max_level = max_grid_level(z) if kind == "grids" else None
        src = self._source(version, kind, plan_id, band)
        bbox = shapely.box(
            *tile_bounds_lonlat(z, x, y, margin=(BUFFER + 1) / EXTENT)
        )  # as PostGIS: select, snap, clip
        idx = src.tree.query(bbox, predicate="intersects")
        if src.levels is not None and max_level is not None:
            idx = idx[src.levels[idx] <= max_level]
        idx = np.sort(idx)
        return encode_tile(layer, src.geoms[idx], src.ids[idx], src.props[idx], z, x, y)

    # ------------------------------------------------------------------ the embedded store's sources

    def _source(
        self, version: tuple[int, int], kind: str, plan_id: int | None, band: int | None
    ) -> _Source:
        key: tuple = (version, kind, plan_id, band)
        if kind == "incidents":
            key += (_incident_bucket(),)
            for old in [k for k in self._sources if k[1] == "incidents" and k != key]:
                self._sources.pop(old, None)
        src = self._sources.get(key)
        if src is None:
            src = self._load(kind, plan_id, band)
            self._sources[key] = src
        return src

    def _load(self, kind: str, plan_id: int | None, band: int | None) -> _Source:
        store = self.store
        if kind == "grids":
            assert plan_id is not None
            grids = store.grids(plan_id)
            geoms = grids["geom"].to_numpy().copy()
            if band is not None:
                simple = store.read("grid_simplified", {"plan_id": plan_id, "zoom_band": band})
                if len(simple):
                    by_code = dict(zip(simple["code"], simple["geom"], strict=True))
                    geoms = np.array(
                        [by_code.get(c, g) for c, g in zip(grids["code"], geoms, strict=True)],
                        dtype=object,
                    )
            props = _records(grids, ["code", "name", "level", "parent_code"])
            for p in props:
                p["level"] = int(p["level"])
            return _Source.build(
                geoms, grids["id"].to_numpy(), props, grids["level"].astype(int).to_numpy()
            )
        frame = store.read(kind)
        if kind == "enterprises":
            props = _records(
                frame, ["credit_code", "name", "industry", "risk_class", "supervision_level"]
            )
        else:
            days = pd.to_datetime(frame["reported_at"], utc=True).dt.strftime("%Y-%m-%d")
            props = _records(
                frame.assign(reported_on=days), ["category", "source", "status", "reported_on"]
            )
        return _Source.build(frame["geom"].to_numpy(), frame["id"].to_numpy(), props)
