"""Moves: single boundary units from one grid to a neighbouring grid.

:func:`local_search` sweeps the units in a seeded random order and applies the best
move of each boundary unit when it improves the lexicographic objective of
:mod:`gis.partition.objective` (balance band penalty first, then the sum of
Polsby-Popper), keeps the tallies current after every move (weights, area, and the
perimeter through shared-edge lengths), and never moves a locked unit or a unit
whose grid would fall apart without it (:func:`gis.partition.constraints.can_leave`).
It stops when a sweep moves nothing or after ``max_sweeps``. ``damage`` caps the
compactness a balance-improving move may cost (the solver raises it step by step, so
balance is first sought by moves that keep the grids round).
"""

from __future__ import annotations

import numba
import numpy as np

from gis.partition.constraints import can_leave
from gis.partition.objective import band_penalty, grid_tallies, polsby_popper


@numba.njit(cache=True)
def local_search(
    indptr, indices, length, weights, area, perimeter, labels, k, band, locked, order,
    max_sweeps, compact, damage=np.inf,
):
    """Improve ``labels`` in place; returns (sweeps run, moves made, final band penalty)."""
    n, m = weights.shape
    wsum, asum, psum, size = grid_tallies(
        labels, k, weights, area, perimeter, indptr, indices, length
    )
    stamp = np.zeros(n, dtype=np.int64)
    queue = np.empty(n, dtype=np.int64)
    maxdeg = 0
    for v in range(n):
        maxdeg = max(maxdeg, indptr[v + 1] - indptr[v])
    nb_lab = np.empty(maxdeg + 1, dtype=np.int64)
    nb_len = np.empty(maxdeg + 1)
    tick = 0
    moves = 0
    sweeps = 0
    for _ in range(max_sweeps):
        sweeps += 1
        moved = 0
        for idx in range(n):
            v = order[idx]
            if locked[v]:
                continue
            d = labels[v]
            if size[d] <= 1:
                continue
            cnt = 0
            s_d = 0.0
            for e in range(indptr[v], indptr[v + 1]):
                lu = labels[indices[e]]
                if lu == d:
                    s_d += length[e]
                    continue
                found = -1
                for c in range(cnt):
                    if nb_lab[c] == lu:
                        found = c
                        break
                if found < 0:
                    nb_lab[cnt] = lu
                    nb_len[cnt] = length[e]
                    cnt += 1
                else:
                    nb_len[found] += length[e]
            if cnt == 0:
                continue
            pd_new = psum[d] - perimeter[v] + 2.0 * s_d
            ad_new = asum[d] - area[v]
            pp_d_old = polsby_popper(asum[d], psum[d])
            pp_d_new = polsby_popper(ad_new, pd_new)
            best = -1
            best_dv = 0.0
            best_dc = 0.0
            best_pe = 0.0
            for c in range(cnt):
                g = nb_lab[c]
                dv = 0.0
                for j in range(m):
                    x = weights[v, j]
                    dv += (
                        band_penalty(wsum[d, j] - x, band)
                        + band_penalty(wsum[g, j] + x, band)
                        - band_penalty(wsum[d, j], band)
                        - band_penalty(wsum[g, j], band)
                    )
                pe_new = psum[g] + perimeter[v] - 2.0 * nb_len[c]
                dc = 0.0
                if compact:
                    dc = -(
                        pp_d_new
                        + polsby_popper(asum[g] + area[v], pe_new)
                        - pp_d_old
                        - polsby_popper(asum[g], psum[g])
                    )
                if dv < -1e-13 and dc > damage:
                    continue  # balance gain bought with too much compactness: not yet
                if dv < best_dv - 1e-13 or (abs(dv - best_dv) <= 1e-13 and dc < best_dc - 1e-10):
                    best = c
                    best_dv = dv
                    best_dc = dc
                    best_pe = pe_new
            if best < 0:
                continue
            tick += 1
            if not can_leave(v, labels, indptr, indices, stamp, queue, tick):
                continue
            g = nb_lab[best]
            for j in range(m):
                wsum[d, j] -= weights[v, j]
                wsum[g, j] += weights[v, j]
            asum[d] = ad_new
            asum[g] += area[v]
            psum[d] = pd_new
            psum[g] = best_pe
            size[d] -= 1
            size[g] += 1
            labels[v] = g
            moved += 1
        moves += moved
        if moved == 0:
            break
    total = 0.0
    for d in range(k):
        for j in range(m):
            total += band_penalty(wsum[d, j], band)
    return sweeps, moves, total
