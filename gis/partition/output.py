"""Output: dissolved grid polygons (a valid coverage), codes, and the per-grid table.

Each grid's polygon is ``shapely.coverage_union_all`` of its units (a loop over
grids, not units), so the grids form a coverage exactly when the units do, and their
union equals the area. Codes extend the parent code with a 3-digit sequence numbered
north to south, then west to east.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gis.partition.graph import grid_neighbours
from gis.partition.solver import PartitionResult


def dissolve(units_geoms, labels: np.ndarray, k: int) -> np.ndarray:
    """One polygon per grid: the coverage union of its units."""
    geoms = np.asarray(units_geoms, dtype=object)
    order = np.argsort(labels, kind="stable")
    bounds = np.searchsorted(labels[order], np.arange(k + 1))
    return np.array(
        [shapely.coverage_union_all(geoms[order[bounds[d] : bounds[d + 1]]]) for d in range(k)],
        dtype=object,
    )


def grid_codes(result: PartitionResult, polys: np.ndarray, prefix: str = "") -> list[str]:
    """``parent code + 3-digit sequence`` per grid (``prefix`` without nesting)."""
    cxy = shapely.get_coordinates(shapely.centroid(polys))
    codes = [""] * result.k
    parents = result.parent_of_grid or [None] * result.k
    by_parent: dict[str, list[int]] = {}
    for d, p in enumerate(parents):
        by_parent.setdefault(prefix if p is None else str(p), []).append(d)
    for p, grids in by_parent.items():
        grids_a = np.array(grids)
        band = np.round(-cxy[grids_a, 1] / 1000.0)  # 1 km bands north to south
        seq = grids_a[np.lexsort((cxy[grids_a, 0], band))]
        for i, d in enumerate(seq, start=1):
            codes[d] = f"{p}{i:03d}"
    return codes


def grids_frame(result: PartitionResult, prefix: str = "") -> gpd.GeoDataFrame:
    """The grids (projected CRS) with code, parent, weights, deviation, area, PP, neighbours."""
    units = result.units
    polys = dissolve(units.geometry.values, result.labels_, result.k)
    codes = grid_codes(result, polys, prefix)
    data: dict[str, object] = {
        "code": codes,
        "parent_code": [None if p is None else str(p) for p in (
            result.parent_of_grid or [None] * result.k
        )],
        "units": np.bincount(result.labels_, minlength=result.k),
    }
    parents = np.array([str(p) for p in (result.parent_of_grid or [None] * result.k)])
    for j, name in enumerate(result.weights):
        sums = result.score.sums[:, j]
        mean = pd.Series(sums).groupby(parents).transform("mean").to_numpy()
        data[name] = sums
        data[f"{name}_dev_pct"] = np.where(mean > 0, 100.0 * (sums / mean - 1.0), 0.0)
    data["area_km2"] = shapely.area(polys) / 1e6
    data["polsby_popper"] = result.score.pp
    nb = grid_neighbours(result.graph, result.labels_, result.k)
    data["neighbours"] = [",".join(sorted(codes[x] for x in s)) for s in nb]
    return gpd.GeoDataFrame(data, geometry=polys, crs=units.crs)


def barrier_share(grids: gpd.GeoDataFrame, lines, distance: float) -> float:
    """Share of the inner grid boundary lying within ``distance`` (m) of the lines."""
    polys = grids.geometry.values
    outline = shapely.coverage_union_all(polys).boundary
    inner = shapely.difference(shapely.union_all(shapely.boundary(polys)), outline.buffer(1e-6))
    total = shapely.length(inner)
    if total <= 0:
        return 0.0
    near = shapely.buffer(shapely.union_all(np.asarray(lines, dtype=object)), distance)
    return float(shapely.length(shapely.intersection(inner, near)) / total)
