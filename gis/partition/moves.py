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


@numba.njit(cache=True, nogil=True)
def local_search(
    indptr, indices, length, weights, area, perimeter, labels, k, band, locked, order,
    max_sweeps, compact, damage, inv_target,
):
    """Improve ``labels`` in place; returns (sweeps run, moves made, final band penalty).

    ``inv_target[d]`` scales grid d's tallies so its target is 1 (all ones for k equal
    grids; ``1 / k1`` and ``1 / k2`` when a bisection splits a set ``k1 : k2``).
    ``band`` holds one band per weight (see :func:`bands`).
    """
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
                td = inv_target[d]
                tg = inv_target[g]
                for j in range(m):
                    x = weights[v, j]
                    dv += (
                        band_penalty((wsum[d, j] - x) * td, band[j])
                        + band_penalty((wsum[g, j] + x) * tg, band[j])
                        - band_penalty(wsum[d, j] * td, band[j])
                        - band_penalty(wsum[g, j] * tg, band[j])
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
            total += band_penalty(wsum[d, j] * inv_target[d], band[j])
    return sweeps, moves, total


DAMAGE_STEPS = (0.0, 0.001, 0.005, 0.02, 0.1, np.inf)


def bands(band, m: int) -> np.ndarray:
    """One band per weight from a number (the same for all) or a sequence of m."""
    return np.ascontiguousarray(np.broadcast_to(np.asarray(band, dtype=float), (m,)))


def refine(g, w, labels, k, band, locked, order, max_sweeps, inv_target=None) -> float:
    """Local search with a rising cap on the compactness a balancing move may cost.

    ``band`` is a number or one band per weight. Returns the max relative deviation
    of any weight of any grid from its target.
    """
    it = np.ones(k) if inv_target is None else np.asarray(inv_target, dtype=float)
    band = bands(band, w.shape[1])
    for damage in DAMAGE_STEPS:
        _, _, pen = local_search(
            g.indptr, g.indices, g.length, w, g.area, g.perimeter, labels, k, band,
            locked, order, max_sweeps, True, damage, it,
        )
        if pen <= 0.0:
            break
    return _max_dev(w, labels, k, it)


def weight_devs(w, labels, k, it=None) -> np.ndarray:
    """Per weight, the largest relative deviation of any grid from its target
    (``it[d]`` scales grid d's tallies to a target of 1; all ones by default)."""
    tallies = np.zeros((k, w.shape[1]))
    np.add.at(tallies, labels, w)
    if it is not None:
        tallies *= np.asarray(it)[:, None]
    return np.abs(tallies - 1.0).max(axis=0)


def _max_dev(w, labels, k, it):
    return float(weight_devs(w, labels, k, it).max())


@numba.njit(cache=True, nogil=True)
def diffuse(indptr, indices, x, steps):
    """``x`` spread over the graph: ``steps`` rounds of averaging with the neighbours.

    The total is kept (rescaled), so targets do not change; a unit with no weight of
    its own gets some from weighty units nearby, which gives the moves a slope to
    follow across empty land.
    """
    n = len(x)
    cur = x.copy()
    nxt = np.empty(n)
    tot = x.sum()
    for _ in range(steps):
        for v in range(n):
            s = cur[v]
            for e in range(indptr[v], indptr[v + 1]):
                s += cur[indices[e]]
            nxt[v] = s / (indptr[v + 1] - indptr[v] + 1)
        cur, nxt = nxt, cur
    s = cur.sum()
    if s > 0.0:
        cur *= tot / s
    return cur


def balance(g, w, labels, k, band, locked, order, max_sweeps, inv_target=None,
            rounds: int = 4) -> float:
    """:func:`refine`, with a weight ladder to cross ridges and plateaus.

    Single-unit moves stall in two ways: when the only way to shed one weight is to
    also shed another that is already balanced (every move makes one of them worse),
    and when the units along a border carry none of the weight that is off (every
    move is neutral). Then the worst weight alone, diffused over the graph
    (:func:`diffuse`) so empty units lead toward weighty ones, is balanced with the
    others floating, and all weights together again; the diffusion is halved each
    round until it is the weight itself. A rung can cost the floating weights more
    than it wins, so the labels with the least excess over the band are kept.
    """
    it = np.ones(k) if inv_target is None else np.asarray(inv_target, dtype=float)
    m = w.shape[1]
    band = bands(band, m)
    dev = refine(g, w, labels, k, band, locked, order, max_sweeps, it)
    steps = int(min(2000, max(4, g.n // k)))  # a random walk spreads ~sqrt(steps) units
    best, best_over = labels.copy(), np.inf
    for _ in range(rounds):
        tallies = np.zeros((k, m))
        np.add.at(tallies, labels, w)
        over = np.abs(tallies * it[:, None] - 1.0).max(axis=0) - band
        if over.max() < best_over:
            best, best_over = labels.copy(), float(over.max())
        if over.max() <= 1e-4 * band.min():
            break
        worst = int(over.argmax())
        x = diffuse(g.indptr, g.indices, np.ascontiguousarray(w[:, worst]), steps)
        refine(g, x[:, None].copy(), labels, k, band[worst], locked, order, max_sweeps, it)
        dev = refine(g, w, labels, k, band, locked, order, max_sweeps, it)
        steps //= 2
    tallies = np.zeros((k, m))
    np.add.at(tallies, labels, w)
    if (np.abs(tallies * it[:, None] - 1.0).max(axis=0) - band).max() > best_over:
        labels[:] = best  # a rung of the ladder lost more on the other weights than it won
        dev = _max_dev(w, labels, k, it)
    return dev
