"""Topology-preserving simplification of a plan per zoom band (GEOS ``coverage_simplify``).

Computed once when a plan is published and stored beside it (table
``grid_simplified``), so maps and tiles draw light geometries in which
neighbours still share their edges: no slivers or overlaps appear between grids
at any zoom. Each level is simplified as one coverage, in metres (the plan's
projected CRS); the levels are simplified independently, so a village's
simplified edge may deviate from its town's by up to the band's tolerance.

Zoom bands (Web Mercator zoom; ground resolution at 31°N is about 134 km / 2^z per pixel):

| band | zooms | tolerance | ~ pixel size at the band's finest zoom |
|---|---|---|---|
| 0 | 0-10  | 100 m | 131 m |
| 1 | 11-12 | 25 m  | 33 m |
| 2 | 13-14 | 6 m   | 8 m |
| 3 | 15-16 | 1.5 m | 2 m |
| - | 17+   | none: the stored grids | |

The tolerance stays under one pixel at the finest zoom of its band, so the
simplification is invisible on screen and in print at that scale.
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gis.crs import geoms_from_store, geoms_to_store, projected_crs_for
from gis.validate import as_multi


@dataclass(frozen=True)
class ZoomBand:
    band: int
    min_zoom: int
    max_zoom: int
    tolerance_m: float


ZOOM_BANDS: tuple[ZoomBand, ...] = (
    ZoomBand(0, 0, 10, 100.0),
    ZoomBand(1, 11, 12, 25.0),
    ZoomBand(2, 13, 14, 6.0),
    ZoomBand(3, 15, 16, 1.5),
)


def band_for_zoom(zoom: int) -> int | None:
    """The zoom band to draw ``zoom`` from; None means the stored (full) geometry."""
    for b in ZOOM_BANDS:
        if b.min_zoom <= zoom <= b.max_zoom:
            return b.band
    return None


def simplify_plan(
    grids: gpd.GeoDataFrame, bands: tuple[ZoomBand, ...] = ZOOM_BANDS
) -> pd.DataFrame:
    """Rows (code, zoom_band, geom) for every grid of every level in every band.

    ``geom`` is a MultiPolygon in the store CRS; within one level and band the
    rows form a coverage exactly when the input level did.
    """
    geoms = np.asarray(grids.geometry.to_numpy(), dtype=object)
    codes = grids["code"].astype(str).to_numpy(dtype=object)
    levels = grids["level"].astype(int).to_numpy()
    ok = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    if not ok.any():
        return pd.DataFrame({"code": [], "zoom_band": [], "geom": []})
    crs = projected_crs_for(geoms[ok]).to_string()
    metric = np.full(len(geoms), None, dtype=object)
    metric[ok] = geoms_from_store(geoms[ok], crs)
    parts = []
    for lv in np.unique(levels[ok]):
        rows = np.flatnonzero(ok & (levels == lv))
        for b in bands:
            simple = shapely.coverage_simplify(metric[rows], b.tolerance_m)
            bad = ~shapely.is_valid(simple)
            if bad.any():  # GEOS keeps rings valid; should it not, keep the original there
                simple[bad] = metric[rows][bad]
            parts.append(
                pd.DataFrame(
                    {
                        "code": codes[rows],
                        "zoom_band": b.band,
                        "geom": as_multi(geoms_to_store(simple, crs)),
                    }
                )
            )
    return pd.concat(parts, ignore_index=True)
