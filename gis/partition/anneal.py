"""Annealing: single-unit moves that may go uphill, for balance and then for compactness.

Why: the boundary moves of :mod:`gis.partition.moves` only take moves that improve,
and with clustered enterprises balanced together with area at k >= 50 they stall far
from the band (every move that sheds one weight breaks another, or the border units
carry nothing). Simulated annealing takes worse moves with probability exp(-dE/T),
T falling geometrically, so a grid can pass a ridge; each move still keeps both grids
connected (:func:`gis.partition.constraints.can_leave`). The energy is the squared
excess of every weight of both grids beyond ``band`` plus ``lam`` x the change of
their perimeters over the mean grid perimeter (compactness). The solver runs it only
on partitions outside the tolerance, three times from the same start (hot, then
cooler and longer, then cooler aiming each weight at its allowance rather than the
tolerance: which one wins depends on the input), keeps the labels least over the
allowance, and tightens them toward the tolerance behind a wall at the allowance
(``wall``).

:func:`compact` is the last phase of every solve (twice, a cool run and a hot one side
by side, the rounder kept: ``solver._compact_runs``): annealing on the sum of
Polsby-Popper alone, with balance as a hard wall (no grid may leave the tolerance, or
go past its own deviation when it starts outside). Why: every balancing phase (the bisection's
two-way moves, the greedy, the annealing above) judges a move on balance first, and
the grids they leave have ragged, fingered borders (mean Polsby-Popper 0.08-0.30 on
cells); inside the tolerance there is room to straighten them without losing balance.
"""

from __future__ import annotations

import numba
import numpy as np

from gis.partition.constraints import can_leave
from gis.partition.objective import grid_tallies, polsby_popper


@numba.njit(cache=True, inline="always")
def _excess2(t, band, hard, hard_weight):
    """The squared excess of every weight beyond ``band``, plus ``hard_weight`` x the
    squared excess beyond ``hard`` (``np.inf``: none)."""
    c = 0.0
    for j in range(t.shape[0]):
        d = abs(t[j] - 1.0)
        e = d - band[j]
        if e > 0.0:
            c += e * e
        e = d - hard[j]
        if e > 0.0:
            c += hard_weight * e * e
    return c


@numba.njit(cache=True, inline="always")
def _is_border(x, labels, indptr, indices):
    """Whether unit x has a neighbour in another grid."""
    for e in range(indptr[x], indptr[x + 1]):
        if labels[indices[e]] != labels[x]:
            return True
    return False


@numba.njit(cache=True)
def _border(indptr, indices, labels, out):
    """Units with a neighbour in another grid, into ``out``; returns how many."""
    nb = 0
    for v in range(len(labels)):
        if _is_border(v, labels, indptr, indices):
            out[nb] = v
            nb += 1
    return nb


@numba.njit(cache=True, inline="always")
def _propose(indptr, indices, labels, size, locked, cand, nc):
    """A random unit v of ``cand[:nc]``, its grid a and the grid b of a random neighbour:
    (v, a, b), v = -1 when there is no move (v locked or alone in its grid, or the
    neighbour in grid a)."""
    v = cand[np.random.randint(nc)]
    deg = indptr[v + 1] - indptr[v]
    if deg == 0 or locked[v]:
        return -1, -1, -1
    a = labels[v]
    b = labels[indices[indptr[v] + np.random.randint(deg)]]
    if b == a or size[a] <= 1:
        return -1, -1, -1
    return v, a, b


@numba.njit(cache=True, inline="always")
def _take(v, a, b, de, t0, ratio, it, iters, labels, size, indptr, indices, stamp, queue, tick):
    """Move v from grid a to b when the Metropolis test at step ``it`` (temperature
    falling geometrically) takes a cost of ``de`` and a stays connected without v;
    returns (moved, tick). The caller updates its own tallies."""
    if de > 0.0 and np.random.random() >= np.exp(-de / (t0 * ratio ** (it / iters))):
        return False, tick
    tick += 1
    if not can_leave(v, labels, indptr, indices, stamp, queue, tick):
        return False, tick
    labels[v] = b
    size[a] -= 1
    size[b] += 1
    return True, tick


@numba.njit(cache=True, inline="always")
def _shared(v, a, b, labels, indptr, indices, length):
    """Boundary length v shares with grid a and with grid b."""
    la = 0.0
    lb = 0.0
    for e in range(indptr[v], indptr[v + 1]):
        x = labels[indices[e]]
        if x == a:
            la += length[e]
        elif x == b:
            lb += length[e]
    return la, lb


@numba.njit(cache=True, nogil=True)
def anneal(indptr, indices, length, w, perimeter, labels, k, band, locked, iters, t0, t1, lam, seed,
           stop, within, wall, hard, hard_weight):
    """Anneal ``labels`` in place (weights ``w`` normalised to a mean of 1 per grid);
    returns the number of moves taken. Releases the GIL (passes run on threads side by
    side) and gives up early once ``stop[0]`` is set (checked every 65,536 tries), or
    as soon as every weight of every grid is within ``within`` of its mean (the
    tolerance: a number, or one per weight; -1 never): the balancing is done and the
    compaction comes next, while cooling on could drift out again (georgia k = 8:
    within 2 % mid-pass, 3.4 % at its end; now 1.9 %).

    Tries are drawn from all units as :func:`_propose` does, but a unit inside its grid
    (no neighbour elsewhere: 72 % of the tries at k = 200 on 30,000 cells) is turned
    away by two small arrays kept up to date move by move (degree, on a border),
    drawing the random numbers :func:`_propose` would: the same moves, 15 % less time
    (a try through :func:`_propose` reads four scattered arrays).

    ``wall`` (k x m) turns away, before the Metropolis test, a move that takes a weight of
    either grid further from its mean than the wall (``np.inf`` everywhere: no wall).
    ``hard`` (m) and ``hard_weight`` add a second, steeper term to the energy: the
    squared excess beyond ``hard`` times ``hard_weight`` (``np.inf`` and 0: none). The
    solver's tightening rounds wall each grid at its allowance and weigh any excess
    over the allowance 100 times the excess over the band, so bringing a grid within
    its allowance comes before pulling every weight toward the tolerance.
    """
    np.random.seed(seed)
    n, m = w.shape
    # (grid_tallies wants areas; the perimeters stand in, the sums are not used)
    tal, _, per, size = grid_tallies(labels, k, w, perimeter, perimeter, indptr, indices, length)
    pmean = max(per.mean(), 1e-12)
    stamp = np.zeros(n, dtype=np.int64)
    queue = np.empty(n, dtype=np.int64)
    tick = 1
    ta = np.empty(m)
    tb = np.empty(m)
    taken = 0
    ratio = t1 / t0
    deg = np.empty(n, dtype=np.int32)
    border = np.zeros(n, dtype=np.bool_)
    for x in range(n):
        deg[x] = indptr[x + 1] - indptr[x]
        border[x] = _is_border(x, labels, indptr, indices)
    lim = np.empty(m)
    lim[:] = within  # one per weight
    out = 0  # (grid, weight) pairs further than ``within`` from the mean
    for d in range(k):
        for j in range(m):
            if abs(tal[d, j] - 1.0) > lim[j]:
                out += 1
    if out == 0:
        return 0
    for it in range(iters):
        if (it & 0xFFFF) == 0 and stop[0]:
            break
        v = np.random.randint(n)
        if deg[v] == 0 or locked[v]:
            continue
        if not border[v]:
            np.random.randint(deg[v])  # the neighbour _propose would draw: in the same grid
            continue
        a = labels[v]
        b = labels[indices[indptr[v] + np.random.randint(deg[v])]]
        if b == a or size[a] <= 1:
            continue
        walled = False
        for j in range(m):
            ta[j] = tal[a, j] - w[v, j]
            tb[j] = tal[b, j] + w[v, j]
            if abs(ta[j] - 1.0) > wall[a, j] or abs(tb[j] - 1.0) > wall[b, j]:
                walled = True
        if walled:
            continue
        de = (_excess2(ta, band, hard, hard_weight) + _excess2(tb, band, hard, hard_weight)
              - _excess2(tal[a], band, hard, hard_weight) - _excess2(tal[b], band, hard, hard_weight))
        la, lb = _shared(v, a, b, labels, indptr, indices, length)
        de += lam * (2.0 * la - 2.0 * lb) / pmean  # a: -perim + 2 la; b: +perim - 2 lb
        ok, tick = _take(v, a, b, de, t0, ratio, it, iters, labels, size, indptr, indices,
                         stamp, queue, tick)
        if not ok:
            continue
        per[a] += 2.0 * la - perimeter[v]
        per[b] += perimeter[v] - 2.0 * lb
        for j in range(m):
            out += ((abs(ta[j] - 1.0) > lim[j]) - (abs(tal[a, j] - 1.0) > lim[j])
                    + (abs(tb[j] - 1.0) > lim[j]) - (abs(tal[b, j] - 1.0) > lim[j]))
            tal[a, j] = ta[j]
            tal[b, j] = tb[j]
        border[v] = _is_border(v, labels, indptr, indices)
        for e in range(indptr[v], indptr[v + 1]):
            x = indices[e]
            border[x] = _is_border(x, labels, indptr, indices)
        taken += 1
        if out == 0:
            break
    return taken


@numba.njit(cache=True, nogil=True)
def compact(indptr, indices, length, w, area, perimeter, labels, k, tol, locked, iters, t0, t1,
            seed):
    """Anneal ``labels`` in place toward a larger sum of Polsby-Popper; returns moves taken.

    A move is refused when it would take any weight of either grid further from its
    target 1 (``w`` normalised to a mean of 1 per grid) than ``tol`` (a number, or one
    per weight), or than that
    grid's own deviation at the start when it was already outside: no grid ends less
    balanced than the tolerance or than it began (a shared limit, the worst grid's,
    let the balanced grids drift to it: Jinshan k = 50, mean deviation 5.6 -> 18.7 %).
    Temperatures are in Polsby-Popper units (a move of one unit of a grid of s units
    changes it by about 0.3 / sqrt(s)). Tries are drawn from the units on a grid border
    (re-listed every n tries), not from all: inside a grid of 1,000 cells seven tries in
    eight would find no move (sample cells k = 8: PP 0.38 -> 0.41 for the same budget).
    """
    np.random.seed(seed)
    n, m = w.shape
    tal, asum, psum, size = grid_tallies(labels, k, w, area, perimeter, indptr, indices, length)
    lim = np.maximum(np.abs(tal - 1.0), tol)
    stamp = np.zeros(n, dtype=np.int64)
    queue = np.empty(n, dtype=np.int64)
    tick = 1
    taken = 0
    ratio = t1 / t0
    border = np.empty(n, dtype=np.int64)
    nb = 0
    for it in range(iters):
        if it % n == 0:  # the border moves with the grids: re-listed every n tries
            nb = _border(indptr, indices, labels, border)
            if nb == 0:
                break
        v, a, b = _propose(indptr, indices, labels, size, locked, border, nb)
        if v < 0:
            continue
        ok = True
        for j in range(m):
            x = w[v, j]
            if x != 0.0 and (abs(tal[a, j] - x - 1.0) > lim[a, j]
                             or abs(tal[b, j] + x - 1.0) > lim[b, j]):
                ok = False
                break
        if not ok:
            continue
        la, lb = _shared(v, a, b, labels, indptr, indices, length)
        pa = psum[a] + 2.0 * la - perimeter[v]
        pb = psum[b] + perimeter[v] - 2.0 * lb
        aa = asum[a] - area[v]
        ab = asum[b] + area[v]
        de = (polsby_popper(asum[a], psum[a]) + polsby_popper(asum[b], psum[b])
              - polsby_popper(aa, pa) - polsby_popper(ab, pb))
        ok, tick = _take(v, a, b, de, t0, ratio, it, iters, labels, size, indptr, indices,
                         stamp, queue, tick)
        if not ok:
            continue
        psum[a] = pa
        psum[b] = pb
        asum[a] = aa
        asum[b] = ab
        for j in range(m):
            tal[a, j] -= w[v, j]
            tal[b, j] += w[v, j]
        taken += 1
    return taken
