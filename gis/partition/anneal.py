"""Annealing: single-unit moves that may go uphill, for partitions the greedy left off.

Why: the boundary moves of :mod:`gis.partition.moves` only take moves that improve,
and with clustered enterprises balanced together with area at k >= 50 they stall far
from the band (every move that sheds one weight breaks another, or the border units
carry nothing). Simulated annealing takes worse moves with probability exp(-dE/T),
T falling geometrically, so a grid can pass a ridge; each move still keeps both grids
connected (:func:`gis.partition.constraints.can_leave`). The energy is the squared
excess of every weight of both grids beyond ``band`` plus ``lam`` x the change of
their perimeters over the mean grid perimeter (compactness). The solver runs it only
on partitions outside the tolerance and keeps it only when it is better.
"""

from __future__ import annotations

import numba
import numpy as np

from gis.partition.constraints import can_leave


@numba.njit(cache=True, inline="always")
def _excess2(t, band):
    c = 0.0
    for j in range(t.shape[0]):
        e = abs(t[j] - 1.0) - band[j]
        if e > 0.0:
            c += e * e
    return c


@numba.njit(cache=True)
def anneal(indptr, indices, length, w, perimeter, labels, k, band, locked, iters, t0, t1, lam, seed):
    """Anneal ``labels`` in place (weights ``w`` normalised to a mean of 1 per grid);
    returns the number of moves taken."""
    np.random.seed(seed)
    n, m = w.shape
    tal = np.zeros((k, m))
    size = np.zeros(k, dtype=np.int64)
    per = np.zeros(k)
    for v in range(n):
        d = labels[v]
        size[d] += 1
        per[d] += perimeter[v]
        for j in range(m):
            tal[d, j] += w[v, j]
        for e in range(indptr[v], indptr[v + 1]):
            if labels[indices[e]] == d:
                per[d] -= length[e]
    pmean = max(per.mean(), 1e-12)
    stamp = np.zeros(n, dtype=np.int64)
    queue = np.empty(n, dtype=np.int64)
    tick = 1
    ta = np.empty(m)
    tb = np.empty(m)
    taken = 0
    ratio = t1 / t0
    for it in range(iters):
        v = np.random.randint(n)
        deg = indptr[v + 1] - indptr[v]
        if deg == 0 or locked[v]:
            continue
        a = labels[v]
        b = labels[indices[indptr[v] + np.random.randint(deg)]]
        if b == a or size[a] <= 1:
            continue
        for j in range(m):
            ta[j] = tal[a, j] - w[v, j]
            tb[j] = tal[b, j] + w[v, j]
        de = _excess2(ta, band) + _excess2(tb, band) - _excess2(tal[a], band) - _excess2(tal[b], band)
        la = 0.0
        lb = 0.0
        for e in range(indptr[v], indptr[v + 1]):
            x = labels[indices[e]]
            if x == a:
                la += length[e]
            elif x == b:
                lb += length[e]
        de += lam * (2.0 * la - 2.0 * lb) / pmean  # a: -perim + 2 la; b: +perim - 2 lb
        if de > 0.0:
            temp = t0 * ratio ** (it / iters)
            if np.random.random() >= np.exp(-de / temp):
                continue
        tick += 1
        if not can_leave(v, labels, indptr, indices, stamp, queue, tick):
            continue
        labels[v] = b
        size[a] -= 1
        size[b] += 1
        per[a] += 2.0 * la - perimeter[v]
        per[b] += perimeter[v] - 2.0 * lb
        for j in range(m):
            tal[a, j] = ta[j]
            tal[b, j] = tb[j]
        taken += 1
    return taken
