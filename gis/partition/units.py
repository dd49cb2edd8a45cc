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


def line_blocks(area: BaseGeometry, lines, size: float, *, shape: str = "square") -> np.ndarray:
    """Road-and-river blocks cut by a cell lattice: no unit crosses a road or a river,
    and none is much larger than a cell (all projected, ``size`` in m).

    Why both: blocks alone follow the lines (grids made of them cut only along roads
    and rivers) but are as uneven as the road network -- in the sample district one
    block holds 58 % of a town, more than two grids' worth of area -- so a grid could
    not be balanced; cells alone balance finely but cross the lines. The lines, the
    area's outline and the cells' edges are noded together and polygonized once, so
    every shared edge is the same noded segment on both sides (a valid coverage).
    Faces are ordered row by row from the south-west by centroid (deterministic).
    """
    maker = {"square": square_cells, "hex": hex_cells}.get(shape)
    if maker is None:
        raise InvalidInput(
            f"Unknown cell shape {shape!r}; use 'square' or 'hex'",
            f"未知的单元形状 {shape!r}；请使用 'square' 或 'hex'",
        )
    lines = np.asarray(lines, dtype=object)
    # whole lines, not clipped to the area: a clipped end lands on the outline only to
    # floating-point precision and may dangle (polygonize then ignores it), while a
    # whole line crosses the outline and is noded there; faces outside are dropped
    inner = lines[shapely.intersects(lines, area)] if len(lines) else np.empty(0, dtype=object)
    edges = shapely.boundary(maker(area, size))
    noded = shapely.union_all(np.concatenate([inner, edges, [area.boundary]]))
    faces = shapely.get_parts(shapely.polygonize(shapely.get_parts(noded)))
    pts = shapely.point_on_surface(faces)
    shapely.prepare(area)
    faces = faces[shapely.contains(area, pts) & (shapely.area(faces) > 0)]
    faces = _merge_slivers(faces, shapely.union_all(inner) if len(inner) else None,
                           SLIVER_SHARE * size * size)
    c = shapely.centroid(faces)
    order = np.lexsort((np.round(shapely.get_x(c), 3), np.round(shapely.get_y(c), 3)))
    return faces[order]


#: faces below this share of a cell's area (where a road runs close to a cell edge)
#: are merged into a neighbour
SLIVER_SHARE = 0.01


def _merge_slivers(faces: np.ndarray, lines, min_area: float) -> np.ndarray:
    """Each face smaller than ``min_area`` joined to the neighbour it shares the most
    boundary with *off the lines* (so a sliver between a road and a cell edge joins its
    own block, never the block across the road; chains of slivers join together). A
    face bounded only by lines (a tiny block) is left as it is: no unit crosses a line.
    """
    area = shapely.area(faces)
    small = np.flatnonzero(area < min_area)
    if len(small) == 0:
        return faces
    tree = shapely.STRtree(faces)
    near = None if lines is None else shapely.buffer(lines, 1e-6)
    parent = np.arange(len(faces))

    def root(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for s in small:
        cand = tree.query(faces[s], predicate="touches")
        cand = cand[cand != s]
        if len(cand) == 0:
            continue
        shared = shapely.intersection(shapely.boundary(faces[s]), shapely.boundary(faces[cand]))
        free = shapely.length(shared)
        if near is not None:
            free = free - shapely.length(shapely.intersection(shared, near))
        if free.max() <= 1e-6:
            continue
        best = int(cand[int(np.argmax(free))])
        a, b = root(int(s)), root(best)
        if a != b:  # the bigger face's group is the one kept in place
            keep, gone = (a, b) if area[a] >= area[b] else (b, a)
            parent[gone] = keep
    roots = np.array([root(i) for i in range(len(faces))])
    out = faces.copy()
    for r in np.unique(roots[roots != np.arange(len(faces))]):
        out[r] = shapely.coverage_union_all(faces[roots == r])
    return out[roots == np.arange(len(faces))]


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
