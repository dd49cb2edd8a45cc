"""Tiles for the published plans: one encoder path per backend, one cache.

Glue between the store and the pure tile code (no SQL here): on PostGIS the
store makes the tile with ``ST_AsMVT`` (:meth:`PostGISStore.mvt_tile`); on the
embedded store the frames are read once per plan version, indexed, and each
tile is encoded in Python from the same stored geometries: the simplified grids
of the tile's zoom band (``grid_simplified``), each falling back to the stored
grid where the band has no row, and the stored grids from zoom 17.
"""

from __future__ import annotations

import threading
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


class TileService:
    """``tile(snapshot, layer, z, x, y)`` -> MVT bytes, cached per plan version."""

    def __init__(self, store: Any, cache: TileCache | None = None) -> None:
        self.store = store
        self.cache = cache or TileCache()
        self._sources: dict[tuple, _Source] = {}
        self._lock = threading.Lock()
        self._version = -1

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
        check_tile(z, x, y)
        plan_id = self._plan_id(snap, layer)
        key = (snap.plan_version, layer, z, x, y)
        hit = self.cache.get(key)
        if hit is not None:
            return hit
        if snap.plan_version != self._version:
            with self._lock:
                if snap.plan_version > self._version:
                    self._version = snap.plan_version
                    self.cache.drop_older(snap.plan_version)
                    self._sources = {
                        k: v for k, v in self._sources.items() if k[0] >= snap.plan_version
                    }
        tile = self.make_tile(snap.plan_version, layer, plan_id, z, x, y)
        self.cache.put(key, tile)
        return tile

    def make_tile(
        self, version: int, layer: str, plan_id: int | None, z: int, x: int, y: int
    ) -> bytes:
        """The tile, uncached."""
        kind = kind_of(layer)
        band = zoom_band(z) if kind == "grids" else None
        max_level = max_grid_level(z) if kind == "grids" else None
        if self.native:
            return self.store.mvt_tile(
                kind,
                layer,
                z,
                x,
                y,
                plan_id=plan_id,
                zoom_band=band,
                max_level=max_level,
                slack=band_slack_deg(band),
                extent=EXTENT,
                buffer=BUFFER,
            )
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

    def _source(self, version: int, kind: str, plan_id: int | None, band: int | None) -> _Source:
        key = (version, kind, plan_id, band)
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
