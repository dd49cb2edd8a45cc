"""Rebalance: fix an existing plan's imbalance while moving as few enterprises as possible.

Greedy, one boundary unit at a time: among the moves that reduce the total excess
``sum_{grid, weight} max(0, |W/mean - 1| - tolerance)`` (the weight's own tolerance
where they differ) and keep both grids
contiguous (locked units never move), take the one with the fewest enterprises moved
per unit of excess removed (ties: the larger gain). A move that overshoots gains only
the excess it removes, so small exact moves win. The lower bound on enterprises moved
is ``sum_grids max(0, W - (1 + tolerance) * mean)``: every grid above the band must
lose at least that much.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import geopandas as gpd
import numba
import numpy as np
import pandas as pd

from gis.errors import InvalidInput
from gis.partition.constraints import can_leave, check_weights, tolerances
from gis.partition.graph import build_graph
from gis.partition.units import project_units


@numba.njit(cache=True, inline="always")
def _excess(x, tol):
    e = abs(x - 1.0) - tol
    return e if e > 0.0 else 0.0


@numba.njit(cache=True)
def _greedy(indptr, indices, weights, cost, labels, k, tol, locked, max_moves):
    """The moves (``tol``: one tolerance per weight); ``labels`` updated in place."""
    n, m = weights.shape
    wsum = np.zeros((k, m))
    size = np.zeros(k, dtype=np.int64)
    for v in range(n):
        size[labels[v]] += 1
        for j in range(m):
            wsum[labels[v], j] += weights[v, j]
    stamp = np.zeros(n, dtype=np.int64)
    queue = np.empty(n, dtype=np.int64)
    moved_units = np.empty(max_moves, dtype=np.int64)
    moved_from = np.empty(max_moves, dtype=np.int64)
    tick = 0
    nmoves = 0
    banned = np.zeros(n, dtype=np.bool_)
    while nmoves < max_moves:
        best_v = -1
        best_e = -1
        best_ratio = np.inf
        best_gain = 0.0
        for v in range(n):
            if locked[v] or banned[v]:
                continue
            d = labels[v]
            if size[d] <= 1:
                continue
            for f in range(indptr[v], indptr[v + 1]):
                e = labels[indices[f]]
                if e == d:
                    continue
                gain = 0.0
                for j in range(m):
                    x = weights[v, j]
                    gain += (
                        _excess(wsum[d, j], tol[j]) + _excess(wsum[e, j], tol[j])
                        - _excess(wsum[d, j] - x, tol[j]) - _excess(wsum[e, j] + x, tol[j])
                    )
                if gain <= 1e-12:
                    continue
                ratio = cost[v] / gain
                if ratio < best_ratio - 1e-12 or (
                    abs(ratio - best_ratio) <= 1e-12 and gain > best_gain
                ):
                    best_ratio, best_gain, best_v, best_e = ratio, gain, v, e
        if best_v < 0:
            break
        tick += 1
        if not can_leave(best_v, labels, indptr, indices, stamp, queue, tick):
            banned[best_v] = True
            continue
        d = labels[best_v]
        for j in range(m):
            wsum[d, j] -= weights[best_v, j]
            wsum[best_e, j] += weights[best_v, j]
        size[d] -= 1
        size[best_e] += 1
        labels[best_v] = best_e
        moved_units[nmoves] = best_v
        moved_from[nmoves] = d
        nmoves += 1
        banned[:] = False
    return moved_units[:nmoves], moved_from[:nmoves]


@dataclass
class RebalanceResult:
    """New labels, the moves (unit row label, from grid, to grid) and the counts."""

    labels_: np.ndarray
    moves: pd.DataFrame
    enterprises_moved: float
    lower_bound: float
    max_dev_pct_before: dict[str, float]
    max_dev_pct_after: dict[str, float]


def _max_dev(labels, raw, k):
    out = {}
    for nm, w in raw.items():
        s = np.bincount(labels, weights=w, minlength=k)
        out[nm] = float(np.abs(s / (w.sum() / k) - 1.0).max() * 100.0)
    return out


def rebalance(
    units: gpd.GeoDataFrame,
    grid_col: str,
    weights: list[str] | str,
    *,
    cost_col: str | None = None,
    tolerance: float | Mapping[str, float] = 0.05,
    locked_col: str | None = None,
    max_moves: int = 100_000,
) -> RebalanceResult:
    """Move boundary units between the grids of ``grid_col`` until every weight is within
    ``tolerance`` of its mean (a number, or one per weight naming each of ``weights``),
    moving as few of ``cost_col`` (default: the first weight, e.g. the enterprise count)
    as the greedy finds. Grids stay contiguous.
    """
    names = [weights] if isinstance(weights, str) else list(weights)
    tol = tolerances(tolerance, names)
    if grid_col not in units.columns:
        raise InvalidInput(f"Grid column {grid_col!r} is missing", f"缺少网格字段 {grid_col!r}")
    proj = project_units(units)
    raw = check_weights(proj, names)
    cost = check_weights(proj, [cost_col or names[0]])[cost_col or names[0]]
    keys, labels = np.unique(proj[grid_col].astype(str).to_numpy(), return_inverse=True)
    labels = labels.ravel().astype(np.int64)
    k = len(keys)
    g = build_graph(proj.geometry.to_numpy())
    w = np.column_stack([raw[nm] * k / raw[nm].sum() for nm in names])
    locked = np.zeros(len(proj), dtype=np.bool_)
    if locked_col is not None:
        locked = proj[locked_col].fillna(False).astype(bool).to_numpy()
    before = _max_dev(labels, raw, k)
    first = raw[names[0]]
    mean = first.sum() / k
    sums = np.bincount(labels, weights=first, minlength=k)
    lower = float(np.maximum(0.0, sums - (1.0 + tol[0]) * mean).sum())
    new = labels.copy()
    mv, frm = _greedy(
        g.indptr, g.indices, w, cost.astype(float), new, k, tol * 0.98, locked, max_moves
    )
    # a unit moved twice counts once, from its first grid to its last
    final_from: dict[int, int] = {}
    for v, f in zip(mv.tolist(), frm.tolist(), strict=True):
        final_from.setdefault(v, f)
    rows = [(proj.index[v], keys[f], keys[new[v]], cost[v]) for v, f in final_from.items()
            if new[v] != f]
    moves = pd.DataFrame(rows, columns=["unit", "from_grid", "to_grid", "enterprises"])
    return RebalanceResult(
        new, moves, float(moves["enterprises"].sum()), lower, before, _max_dev(new, raw, k)
    )
