"""Atomic units for a partition: given polygons, road-and-river blocks, or generated cells.

Everything here works in metres (a projected CRS chosen by
:func:`gis.crs.projected_crs_for`); :func:`project_units` moves a store-CRS frame
there. Cells and blocks are made as a whole array of polygons (no Python loop over
geometries) and cut by the area outline, so the units always cover the area exactly.
Weights are aggregated from points with one spatial index query and ``bincount``.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry.base import BaseGeometry

from gis.crs import normalize_crs, projected_crs_for
from gis.errors import InvalidInput


def project_units(units: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The units in metres: unchanged when already projected, else the area's GK zone."""
    if units.crs is None:
        raise InvalidInput("Units have no CRS", "单元没有坐标系")
    if not units.crs.is_geographic:
        return units
    crs = projected_crs_for(units.to_crs(4490).geometry.values)
    return units.to_crs(crs)


def _explode_parts(geoms: np.ndarray) -> np.ndarray:
    """Polygon parts of every geometry (a cell cut in two by a bay becomes two units)."""
    parts = shapely.get_parts(geoms)
    parts = parts[shapely.get_type_id(parts) == 3]  # polygons only: drop lines, points
    return parts[~shapely.is_empty(parts) & (shapely.area(parts) > 0)]


def _clip_to_area(cells: np.ndarray, area: BaseGeometry) -> np.ndarray:
    """Cells cut by the area: inner cells are kept as they are, edge cells intersected."""
    shapely.prepare(area)
    inside = shapely.contains_properly(area, cells)
    touches = ~inside & shapely.intersects(area, cells)
    cut = shapely.intersection(cells[touches], area, grid_size=None)
    return np.concatenate([cells[inside], _explode_parts(cut)])


def square_cells(area: BaseGeometry, size: float) -> np.ndarray:
    """Square cells of side ``size`` (m) covering ``area`` (projected), cut by its outline.

    Grid lines are shared exactly by neighbouring cells (one coordinate array), so
    the cells form a valid coverage. Order: row by row from the south-west.
    """
    if size <= 0:
        raise InvalidInput("Cell size must be positive", "网格单元边长必须为正数")
    x0, y0, x1, y1 = area.bounds
    xs = x0 + size * np.arange(int(np.ceil((x1 - x0) / size)) + 1)
    ys = y0 + size * np.arange(int(np.ceil((y1 - y0) / size)) + 1)
    gx, gy = np.meshgrid(np.arange(len(xs) - 1), np.arange(len(ys) - 1))
    gx, gy = gx.ravel(), gy.ravel()
    cells = shapely.box(xs[gx], ys[gy], xs[gx + 1], ys[gy + 1])
    return _clip_to_area(cells, area)


def hex_cells(area: BaseGeometry, size: float) -> np.ndarray:
    """Pointy-top hexagons of area ``size**2`` (m^2) covering ``area``, cut by its outline.

    The six corners of every hexagon come from one lattice of corner coordinates, so
    neighbours share their vertices exactly (a valid coverage).
    """
    if size <= 0:
        raise InvalidInput("Cell size must be positive", "网格单元边长必须为正数")
    r = size * np.sqrt(2.0 / (3.0 * np.sqrt(3.0)))  # circumradius for area size^2
    w = np.sqrt(3.0) * r
    x0, y0, x1, y1 = area.bounds
    ncol = int(np.ceil((x1 - x0) / w)) + 2
    nrow = int(np.ceil((y1 - y0) / (1.5 * r))) + 2
    col, row = np.meshgrid(np.arange(-1, ncol), np.arange(-1, nrow))
    col, row = col.ravel(), row.ravel()
    # corners are rounded to a fixed lattice so shared corners are bit-identical
    cx = x0 + w * (col + 0.5 * (row % 2))
    cy = y0 + 1.5 * r * row
    ang = np.deg2rad(30.0 + 60.0 * np.arange(6))
    hx = np.round(cx[:, None] + r * np.cos(ang)[None, :], 3)
    hy = np.round(cy[:, None] + r * np.sin(ang)[None, :], 3)
    ring = np.stack([hx, hy], axis=-1)
    ring = np.concatenate([ring, ring[:, :1]], axis=1)
    cells = shapely.polygons(ring)
    return _clip_to_area(cells, area)


def polygonize_blocks(area: BaseGeometry, lines, min_area: float = 0.0) -> np.ndarray:
    """Blocks bounded by roads and rivers inside ``area`` (all projected).

    The lines and the area's boundary are noded together and polygonized; faces inside
    the area are the blocks. Faces smaller than ``min_area`` (m^2) stay separate units
    (merging them is the caller's choice), so the blocks always cover the area exactly.
    """
    lines = np.asarray(lines, dtype=object)
    inner = shapely.intersection(lines, area)
    noded = shapely.union_all(np.concatenate([inner, [area.boundary]]))
    faces = shapely.get_parts(shapely.polygonize(shapely.get_parts(noded)))
    pts = shapely.point_on_surface(faces)
    shapely.prepare(area)
    faces = faces[shapely.contains(area, pts)]
    if min_area > 0:
        faces = faces[shapely.area(faces) >= min_area]
    return faces


def cells_frame(
    area: BaseGeometry, size: float, crs, *, shape: str = "square"
) -> gpd.GeoDataFrame:
    """Generated cells as a frame in ``crs`` (projected) with their ``area`` in m^2."""
    maker = {"square": square_cells, "hex": hex_cells}.get(shape)
    if maker is None:
        raise InvalidInput(
            f"Unknown cell shape {shape!r}; use 'square' or 'hex'",
            f"未知的单元形状 {shape!r}；请使用 'square' 或 'hex'",
        )
    geoms = maker(area, size)
    return gpd.GeoDataFrame({"area": shapely.area(geoms)}, geometry=geoms, crs=crs)


def cell_size_for(area: BaseGeometry, total_weight: float, weight_per_cell: float) -> float:
    """A cell side (m) giving about ``weight_per_cell`` of the workload per cell on average."""
    if total_weight <= 0 or weight_per_cell <= 0:
        raise InvalidInput("Workload must be positive", "工作量必须为正数")
    n = max(1.0, total_weight / weight_per_cell)
    return float(np.sqrt(area.area / n))


def aggregate_points(
    units: gpd.GeoDataFrame,
    points: gpd.GeoDataFrame,
    column: str | None = None,
    *,
    weights: np.ndarray | pd.Series | None = None,
) -> np.ndarray:
    """Sum of point weights (1 each by default) per unit; a unit gets every point inside it.

    A point on the boundary of two units goes to the lower unit index (one owner only);
    points outside every unit are not counted. ``column`` names a numeric column of
    ``points`` to sum instead of counting.
    """
    pts = points.to_crs(units.crs) if points.crs != units.crs else points
    if column is not None:
        if column not in pts.columns:
            raise InvalidInput(
                f"Point column {column!r} is missing", f"点数据缺少字段 {column!r}"
            )
        w = pts[column].to_numpy(dtype=float)
    elif weights is not None:
        w = np.asarray(weights, dtype=float)
    else:
        w = np.ones(len(pts))
    tree = shapely.STRtree(units.geometry.values)
    pi, ui = tree.query(pts.geometry.values, predicate="intersects")
    order = np.lexsort((ui, pi))
    pi, ui = pi[order], ui[order]
    first = np.ones(len(pi), dtype=bool)
    first[1:] = pi[1:] != pi[:-1]
    return np.bincount(ui[first], weights=w[pi[first]], minlength=len(units))


def crs_name(units: gpd.GeoDataFrame) -> str:
    """Canonical name of the units' CRS (for reports)."""
    return normalize_crs(units.crs)
