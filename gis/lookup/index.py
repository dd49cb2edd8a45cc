"""GridIndex: exact point-in-grid over the polygons of one level of one plan.

Semantics are PostGIS ``ST_Covers``: a point on a grid's boundary is covered by it.
**Boundary rule**: a point covered by several grids (on a shared edge or vertex)
belongs to the one with the LOWEST code (string order); the others are listed as
touching. Deterministic, independent of input order, and the same for every worker,
so a case on a border never bounces between neighbours.

Distances (snapping, near-boundary neighbours) are in metres, measured in the
projected CRS chosen for the grids by :func:`gis.crs.projected_crs_for`.

This module is pure: arrays in, arrays out.
"""

from __future__ import annotations

import numpy as np
import shapely
from pyproj import Transformer

from gis.crs import projected_crs_for
from gis.model import STORE_CRS


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
        self._tree = shapely.STRtree(self.geoms)
        if len(self.geoms):
            crs = projected_crs_for(self.geoms)
            self._to_m = Transformer.from_crs(STORE_CRS, crs, always_xy=True)
            self._proj = shapely.transform(self.geoms, lambda c: np.column_stack(self._to_m.transform(c[:, 0], c[:, 1])))
            self._proj_tree = shapely.STRtree(self._proj)

    def __len__(self) -> int:
        return len(self.geoms)

    # ------------------------------------------------------------------ exact

    def locate(self, x, y) -> np.ndarray:
        """Owner (row position) of each point by the boundary rule; -1 where no grid covers it."""
        x = np.asarray(x, dtype=float)
        y = np.asarray(y, dtype=float)
        out = np.full(len(x), -1, dtype=np.int64)
        if not len(self.geoms) or not len(x):
            return out
        pts = shapely.points(x, y)
        pi, gi = self._tree.query(pts, predicate="covered_by")
        if len(pi):
            order = np.lexsort((self.rank[gi], pi))
            pi, gi = pi[order], gi[order]
            first = np.ones(len(pi), dtype=bool)
            first[1:] = pi[1:] != pi[:-1]
            out[pi[first]] = gi[first]
        return out

    def locate_one(self, x: float, y: float) -> int:
        return int(self.locate(np.array([x]), np.array([y]))[0])

    def covering_one(self, x: float, y: float) -> np.ndarray:
        """Every grid covering the point, owner first (rule order)."""
        if not len(self.geoms):
            return np.array([], dtype=np.int64)
        hits = self._tree.query(shapely.Point(x, y), predicate="covered_by")
        return hits[np.argsort(self.rank[hits])].astype(np.int64)

    # ------------------------------------------------------------------ distances

    def _point_m(self, x: float, y: float) -> shapely.Point:
        px, py = self._to_m.transform(x, y)
        return shapely.Point(px, py)

    def nearest_one(self, x: float, y: float) -> tuple[int, float]:
        """The nearest grid and its distance in metres (0 when covered)."""
        if not len(self.geoms):
            return -1, float("inf")
        p = self._point_m(x, y)
        idx, dist = self._proj_tree.query_nearest(p, return_distance=True, all_matches=True)
        best = idx[np.argmin(self.rank[idx])]
        return int(best), float(dist[0])

    def near_one(self, x: float, y: float, radius_m: float) -> list[tuple[int, float]]:
        """Grids within ``radius_m`` metres of the point, nearest first (ties by code)."""
        if not len(self.geoms):
            return []
        p = self._point_m(x, y)
        hits = self._proj_tree.query(p, predicate="dwithin", distance=radius_m)
        if not len(hits):
            return []
        d = shapely.distance(self._proj[hits], p)
        order = np.lexsort((self.rank[hits], d))
        return [(int(hits[i]), float(d[i])) for i in order]
