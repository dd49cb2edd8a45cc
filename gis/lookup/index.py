"""GridIndex: exact point-in-grid over the polygons of one level of one plan.

Semantics are PostGIS ``ST_Covers``: a point on a grid's boundary is covered by it.
**Boundary rule**: a point covered by several grids (on a shared edge or vertex)
belongs to the one with the LOWEST code (string order); the others are listed as
touching. Deterministic, independent of input order, and the same for every worker,
so a case on a border never bounces between neighbours.

Distances (snapping, near-boundary neighbours) are in metres, measured in the
projected CRS chosen for the grids by :func:`gis.crs.projected_crs_for`.

This module is pure: arrays in, arrays out.

How it is fast (see :mod:`gis.lookup._kernels` for the exact test): a uniform
raster of square cells over the grids' extent, about two cells per edge. A cell
no boundary comes near answers from one array read; a cell crossed by boundaries
keeps those edges and the grids covering one reference point of it, and answers
with an exact crossing test along a path inside the cell. Batches run in compiled
code, split over the cores for large batches (the kernels release the GIL).
"""

from __future__ import annotations

import math
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from functools import cached_property

import numpy as np
import shapely
from pyproj import Transformer

from gis.crs import metres_per_degree, projected_crs_for
from gis.lookup import _kernels as K
from gis.model import STORE_CRS

#: raster cells per boundary edge (more cells: fewer mixed cells, more memory)
CELLS_PER_EDGE = 2.0
#: raster size bounds (cells); 2**23 int32 cells is 32 MB
MIN_CELLS = 256
MAX_CELLS = 1 << 23
#: batches at least this long are split over threads
PARALLEL_MIN = 100_000
#: the raster origin sits this many cells before the extent (an odd fraction, so that
#: column lines rarely meet vertices; when they do, the origin moves on)
ORIGIN_SHIFT = 1.0137

_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _threads() -> int:
    return max(1, min(os.cpu_count() or 1, 8))


def _executor() -> ThreadPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=_threads(), thread_name_prefix="gridindex")
        return _pool


def grid_edges(geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """All ring edges of the polygonal parts: (n, 4) [ax, ay, bx, by] and the grid of each.

    Exterior rings, holes and every part of a multipolygon; zero-length edges dropped.
    """
    parts, part_of = shapely.get_parts(geoms, return_index=True)
    poly = shapely.get_type_id(parts) == 3
    parts, part_of = parts[poly], part_of[poly]
    rings, ring_of = shapely.get_rings(parts, return_index=True)
    coords, coord_of = shapely.get_coordinates(rings, return_index=True)
    if len(coords) < 2:
        return np.empty((0, 4)), np.empty(0, dtype=np.int64)
    same = coord_of[1:] == coord_of[:-1]
    a = coords[:-1][same]
    b = coords[1:][same]
    grid = part_of[ring_of[coord_of[:-1][same]]]
    keep = (a != b).any(axis=1)
    edges = np.ascontiguousarray(np.hstack([a[keep], b[keep]]), dtype=np.float64)
    return edges, grid[keep].astype(np.int64)


class _Raster:
    """The compiled index: raster parameters and arrays passed to the kernels."""

    def __init__(self, edges: np.ndarray, grid_of: np.ndarray, rank: np.ndarray, ngrids: int) -> None:
        xs = np.concatenate([edges[:, 0], edges[:, 2]])
        ys = np.concatenate([edges[:, 1], edges[:, 3]])
        minx, maxx = float(xs.min()), float(xs.max())
        miny, maxy = float(ys.min()), float(ys.max())
        span = max(maxx - minx, maxy - miny)
        w = max(maxx - minx, span * 1e-3)
        h = max(maxy - miny, span * 1e-3)
        target = min(max(CELLS_PER_EDGE * len(edges), MIN_CELLS), MAX_CELLS)
        size = math.sqrt(w * h / target)
        ncols = int(w / size) + 3
        nrows = int(h / size) + 3
        delta = size * 1e-6
        ux = np.unique(xs)
        ys_sorted = np.unique(ys)

        # column lines at no vertex's x (shift the origin by an odd fraction until so)
        ox = minx - size * ORIGIN_SHIFT
        for attempt in range(16):
            colx = ox + np.arange(ncols + 1, dtype=np.float64) * size
            j = np.rint((ux - ox) / size).astype(np.int64)
            hit = False
            for dj in (-1, 0, 1):
                jj = np.clip(j + dj, 0, ncols)
                hit = hit or bool(np.any(colx[jj] == ux))
            if not hit:
                break
            ox -= size * 0.0731 * (attempt + 1)
        else:  # pragma: no cover - needs vertices on every shifted line
            raise RuntimeError("GridIndex: no column lines clear of the vertices")
        oy = miny - size * ORIGIN_SHIFT

        # edges of each cell (CSR)
        ncells = ncols * nrows
        counts = np.zeros(ncells, dtype=np.int64)
        empty = np.empty(0, dtype=np.int64)
        K.raster_pairs(edges, ox, oy, size, ncols, nrows, delta, counts, empty, empty)
        pair_start = np.zeros(ncells + 1, dtype=np.int64)
        np.cumsum(counts, out=pair_start[1:])
        pair_edge = np.empty(int(pair_start[-1]), dtype=np.int64)
        if len(pair_edge):
            K.raster_pairs(edges, ox, oy, size, ncols, nrows, delta, counts, pair_start[:-1].copy(), pair_edge)

        # reference lines of the rows, clear of vertices and of edges through reference points
        choice = np.zeros(nrows, dtype=np.int64)
        grid32 = grid_of.astype(np.int64)
        for _attempt in range(8):
            yrs, ok = K.row_reference_lines(ys_sorted, oy, size, nrows, choice)
            if not ok.all():
                choice[~ok] += 1
                continue
            bad = np.zeros(nrows, dtype=np.bool_)
            n = K.row_crossings(edges, grid32, oy, size, nrows, delta, colx, yrs, True, empty, empty, empty, bad)
            cross_row = np.empty(n, dtype=np.int64)
            cross_col = np.empty(n, dtype=np.int64)
            cross_grid = np.empty(n, dtype=np.int64)
            K.row_crossings(edges, grid32, oy, size, nrows, delta, colx, yrs, False, cross_row, cross_col, cross_grid, bad)
            if not bad.any():
                break
            choice[bad] += 1
        else:  # pragma: no cover - needs an edge through a reference point on every try
            raise RuntimeError("GridIndex: no reference lines clear of the edges")
        order = np.argsort(cross_row, kind="stable")
        cross_col = cross_col[order]
        cross_grid = cross_grid[order]
        row_start = np.zeros(nrows + 1, dtype=np.int64)
        np.cumsum(np.bincount(cross_row, minlength=nrows), out=row_start[1:])

        cellval = np.empty(ncells, dtype=np.int32)
        ref_start = np.empty(ncells, dtype=np.int64)
        cap = max(1024, int(np.count_nonzero(counts)) * 2)
        while True:
            ref_buf = np.empty(cap, dtype=np.int64)
            nmixed, nref = K.sweep_rows(ncols, nrows, ngrids, rank, row_start, cross_col, cross_grid,
                                        counts, cellval, ref_start, ref_buf)
            if nref >= 0:
                break
            cap *= 4
        mstart, ec, el, gid, gref, maxk, degenerate = K.assemble_mixed(
            ncols, edges, grid32, rank, colx, yrs, cellval, ref_start, nref, ref_buf,
            pair_start, pair_edge, nmixed)
        if degenerate:  # pragma: no cover - the sweep catches edges through reference points
            raise RuntimeError("GridIndex: an edge passes through a reference point")

        self.ncols = ncols
        self.nrows = nrows
        self.size = size
        self.nmixed = int(nmixed)
        self.prm = np.array([ox, oy, size, 1.0 / size, colx[-1], oy + nrows * size], dtype=np.float64)
        # the arguments of every query kernel after (x, y[, out])
        self.args = (self.prm, ncols, nrows, int(maxk), cellval, colx, yrs, mstart, ec, el, gid, gref)

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for a in self.args if isinstance(a, np.ndarray))


class GridIndex:
    """Index over ``geoms`` (store CRS) with their ``codes``; rows are answered by position."""

    def __init__(self, geoms, codes) -> None:
        self.geoms = np.asarray(geoms, dtype=object)
        self.codes = np.asarray(codes, dtype=object).astype(str)
        if len(self.geoms) != len(self.codes):
            raise ValueError("geoms and codes differ in length")
        # rank[i] = position of grid i in code order: the boundary rule picks the min rank
        order = np.argsort(self.codes, kind="stable")
        self.rank = np.empty(len(order), dtype=np.int64)
        self.rank[order] = np.arange(len(order))
        edges, grid_of = grid_edges(self.geoms) if len(self.geoms) else (np.empty((0, 4)), None)
        self._raster = _Raster(edges, grid_of, self.rank, len(self.geoms)) if len(edges) else None
        self._args = self._raster.args if self._raster is not None else None

    def __len__(self) -> int:
        return len(self.geoms)

    # ------------------------------------------------------------------ exact

    def locate(self, x, y) -> np.ndarray:
        """Owner (row position) of each point by the boundary rule; -1 where no grid covers it."""
        x = np.ascontiguousarray(x, dtype=np.float64).reshape(-1)
        y = np.ascontiguousarray(y, dtype=np.float64).reshape(-1)
        if len(x) != len(y):
            raise ValueError("x and y differ in length")
        out = np.full(len(x), -1, dtype=np.int64)
        if self._args is None or not len(x):
            return out
        n = len(x)
        nthreads = _threads()
        if n < PARALLEL_MIN or nthreads == 1:
            K.locate_batch(x, y, out, *self._args)
            return out
        bounds = np.linspace(0, n, nthreads + 1).astype(np.int64)
        futures = [
            _executor().submit(K.locate_batch, x[a:b], y[a:b], out[a:b], *self._args)
            for a, b in zip(bounds[:-1], bounds[1:], strict=True)
        ]
        for f in futures:
            f.result()
        return out

    def locate_one(self, x: float, y: float) -> int:
        if self._args is None:
            return -1
        return K.locate_one(float(x), float(y), *self._args)

    def covering_one(self, x: float, y: float) -> np.ndarray:
        """Every grid covering the point, owner first (rule order)."""
        if self._args is None:
            return np.array([], dtype=np.int64)
        return K.covering_one(float(x), float(y), *self._args)

    # ------------------------------------------------------------------ distances

    @cached_property
    def _to_m(self) -> Transformer:
        return Transformer.from_crs(STORE_CRS, projected_crs_for(self.geoms), always_xy=True)

    @cached_property
    def _proj(self) -> np.ndarray:
        to_m = self._to_m
        return shapely.transform(self.geoms, lambda c: np.column_stack(to_m.transform(c[:, 0], c[:, 1])))

    @cached_property
    def _proj_tree(self) -> shapely.STRtree:
        return shapely.STRtree(self._proj)

    def _point_m(self, x: float, y: float) -> shapely.Point:
        px, py = self._to_m.transform(x, y)
        return shapely.Point(px, py)

    def nearest_one(self, x: float, y: float) -> tuple[int, float]:
        """The nearest grid and its distance in metres (0 when covered)."""
        if not len(self.geoms):
            return -1, float("inf")
        p = self._point_m(x, y)
        idx, dist = self._proj_tree.query_nearest(p, return_distance=True, all_matches=True)
        if not len(idx):
            return -1, float("inf")
        best = idx[np.argmin(self.rank[idx])]
        return int(best), float(dist[0])

    def near_one(self, x: float, y: float, radius_m: float) -> list[tuple[int, float]]:
        """Grids within ``radius_m`` metres of the point, nearest first (ties by code).

        Covering grids come at distance 0; the others at their boundary's distance,
        found in the raster's mixed cells around the point and measured on the local
        tangent plane of the WGS84/CGCS2000 ellipsoid (no projection call).
        """
        r = self._raster
        if r is None or not (math.isfinite(x) and math.isfinite(y)):
            return []
        kx, ky = metres_per_degree(y)
        ox, oy, size = r.prm[0], r.prm[1], r.prm[2]
        c0 = max(int((x - radius_m / kx - ox) // size) - 1, 0)
        c1 = min(int((x + radius_m / kx - ox) // size) + 1, r.ncols - 1)
        r0 = max(int((y - radius_m / ky - oy) // size) - 1, 0)
        r1 = min(int((y + radius_m / ky - oy) // size) + 1, r.nrows - 1)
        found: dict[int, float] = {int(g): 0.0 for g in self.covering_one(x, y)}
        if c0 <= c1 and r0 <= r1:
            _, _, _, _, cellval, _, _, mstart, ec, el, gid, _ = r.args
            gs, ds = K.near_edges(x, y, kx, ky, float(radius_m), c0, c1, r0, r1, r.ncols, cellval, mstart, ec, el, gid)
            for g, d in zip(gs.tolist(), ds.tolist(), strict=True):
                if g not in found:
                    found[g] = d
        return sorted(found.items(), key=lambda t: (t[1], int(self.rank[t[0]])))
