"""Certificates that a request cannot be met: units no balanced grid can hold.

Why: the issue asks that unreachable requests be refused with the reason. One unit
heavier than the tolerance is the plain case (:func:`gis.partition.constraints.
check_indivisible`). With two weights there is a second: a unit in a dense core
(many enterprises on little land) that no grid can hold while having its share of
*both* weights -- every connected set around it with enough area to be a grid also
takes in too many enterprises (or, the other way round, every set around a unit in
empty land with enough enterprises takes in too much area). Then no algorithm can
reach the allowances, and saying so is better than returning a partition that
silently misses them (the sample district as cells at k = 200: any grid holding the
densest cell and at least 90.8 % of the mean area holds at least 354 % of the mean
enterprises, 264 % allowed).

The bound, for a unit v, a weight i that a grid must have at least ``need`` of and a
weight j it may have at most ``limit`` of (weights normalised to a mean of 1 per
grid): let S be a connected set of units holding v with w_i(S) >= need, and D the
largest number of steps (in the unit graph) from v to a unit of S. S holds a path
from v out to distance D, so it holds a unit at every distance 1..D:
``w_j(S) >= w_j(v) + sum_d min{w_j(u) : dist(u) = d}``. S lies inside the ball of
radius D, so w_j(S) is also at least w_j(v) plus the least w_j that gathers the rest
of ``need`` there (a fractional knapsack by w_j / w_i). The larger of the two bounds
holds for that D; the least over every D that can gather ``need`` holds for v. It
is a lower bound: a reported unit is certain, a unit not reported is not proven
feasible.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numba
import numpy as np

from gis.partition.diagnose import WEIGHT_ZH
from gis.partition.moves import diffuse

#: units tried per ordered pair of weights (the most crowded by a diffused ratio)
CANDIDATES = 128
#: the ball is not grown past this many units (the bound then stops at the path term)
BALL_CAP = 20_000


@dataclass(frozen=True)
class Crowded:
    """A unit no grid can hold with every weight inside its allowance.

    ``unit`` is its position in the units given; any connected grid holding it with at
    least ``need`` of weight ``by`` (share of the mean grid) holds at least ``least``
    of weight ``weight``, more than the ``limit`` allowed.
    """

    unit: int
    weight: int
    by: int
    need: float
    least: float
    limit: float
    #: with one tolerance for every weight: the least tolerance (to 0.5 %) at which the
    #: bound no longer rules the unit out (necessary, not sufficient)
    tolerance_needed: float | None = None


def crowded_text(c: Crowded, names: list[str], unit: str) -> tuple[str, str]:
    """What a crowded unit proves, in English and Chinese."""
    en = (f"unit {unit}: every connected grid holding it with at least {100 * c.need:.1f} % "
          f"of the mean {names[c.by]} holds at least {100 * c.least:.0f} % of the mean "
          f"{names[c.weight]} ({100 * c.limit:.0f} % allowed)")
    by, weight = (WEIGHT_ZH.get(names[c.by], names[c.by]), WEIGHT_ZH.get(names[c.weight], names[c.weight]))
    zh = (f"单元 {unit}：含该单元且{by}不少于平均值 {100 * c.need:.1f} % 的任何连通网格，"
          f"其{weight}至少为平均值的 {100 * c.least:.0f} %（允许 {100 * c.limit:.0f} %）")
    if c.tolerance_needed is not None:
        en += f"; below a tolerance of {100 * c.tolerance_needed:.1f} % this unit alone rules it out"
        zh += f"；容差低于 {100 * c.tolerance_needed:.1f} % 时仅此单元即无法满足"
    return en, zh


@numba.njit(cache=True)
def least_around(indptr, indices, wj, wi, v, need, limit, cap):
    """Lower bound on w_j of a connected set holding v with w_i >= ``need`` (module
    docstring). Stops early as soon as the bound is known not to exceed ``limit``,
    returning a number <= ``limit`` (the caller only asks whether it exceeds it);
    ``limit = -inf`` computes the bound in full."""
    if wi[v] >= need:
        return wj[v]
    n = len(wj)
    dist = np.full(n, -1, dtype=np.int64)
    ball = np.empty(min(n, cap), dtype=np.int64)
    dist[v] = 0
    ball[0] = v
    head, tail = 0, 1
    path = wj[v]
    best = np.inf
    d = 0
    while head < tail:
        # the next layer (distance d + 1), and its lightest unit
        end = tail
        lightest = np.inf
        full = False
        while head < end:
            x = ball[head]
            head += 1
            for e in range(indptr[x], indptr[x + 1]):
                y = indices[e]
                if dist[y] < 0:
                    if tail >= len(ball):
                        full = True
                        break
                    dist[y] = d + 1
                    ball[tail] = y
                    tail += 1
                    if wj[y] < lightest:
                        lightest = wj[y]
            if full:
                break
        if full or tail == end:
            # no further layer (or no room to list it): every larger radius costs at
            # least the path so far plus one more unit of the next layer, which is
            # unknown, so the path so far is the bound for them
            if full:
                best = min(best, path)
            break
        d += 1
        path += lightest
        # the knapsack over the ball (v excluded) for what v lacks of weight i
        rest = need - wi[v]
        members = ball[1:tail]
        if wi[members].sum() >= rest:
            ratio = np.empty(len(members))
            for t in range(len(members)):
                u = members[t]
                ratio[t] = wj[u] / wi[u] if wi[u] > 0.0 else np.inf
            order = np.argsort(ratio, kind="mergesort")
            got = 0.0
            cost = 0.0
            for t in range(len(order)):
                u = members[order[t]]
                if wi[u] <= 0.0:
                    break
                take = min(wi[u], rest - got)
                cost += take * ratio[order[t]]
                got += take
                if got >= rest:
                    break
            best = min(best, max(path, wj[v] + cost))
            if best <= limit or path >= best:
                return best
    return best


def crowded_units(
    indptr: np.ndarray, indices: np.ndarray, w: np.ndarray, allow: np.ndarray, k: int,
    candidates: int = CANDIDATES,
) -> list[Crowded]:
    """Units no grid can hold within the allowances, at most one per ordered pair of
    weights (the one with the largest bound found), for ``w`` normalised to a mean of
    1 per grid and ``allow`` the allowance per weight.

    Only the ``candidates`` most crowded units per pair are tried (weight j per weight
    i, both spread over about a grid's radius of neighbours first), which keeps the
    check to a fraction of a second on 30,000 units.
    """
    n, m = w.shape
    found: list[Crowded] = []
    if m < 2 or n == 0:
        return found
    steps = int(max(1, min(200, np.sqrt(n / max(k, 1)))))
    spread = [diffuse(indptr, indices, np.ascontiguousarray(w[:, j]), steps) for j in range(m)]
    present = w.sum(axis=0) > 0.0  # a weight all zero in this group has nothing to prove
    for i in range(m):
        need = 1.0 - allow[i]
        if need <= 0.0 or not present[i]:
            continue
        for j in range(m):
            if j == i or not present[j]:
                continue
            limit = 1.0 + allow[j]
            with np.errstate(divide="ignore", invalid="ignore"):
                crowd = np.where(spread[i] > 0, spread[j] / spread[i], np.inf)
            crowd = np.where(np.isnan(crowd), -np.inf, crowd)
            order = np.argsort(-crowd, kind="stable")[:candidates]
            wj = np.ascontiguousarray(w[:, j])
            wi = np.ascontiguousarray(w[:, i])
            worst: Crowded | None = None
            for v in order:
                least = float(least_around(indptr, indices, wj, wi, int(v), need, limit,
                                           BALL_CAP))
                if np.isfinite(least) and least > limit + 1e-9 and (
                        worst is None or least > worst.least):
                    worst = Crowded(int(v), j, i, float(need), least, float(limit))
            if worst is not None:
                if np.allclose(allow, allow[0]):
                    worst = replace(worst, tolerance_needed=_tolerance_needed(
                        indptr, indices, wj, wi, worst.unit, float(allow[0])))
                found.append(worst)
    return found


def _tolerance_needed(indptr, indices, wj, wi, v: int, tol: float) -> float:
    """The least tolerance t (to 0.5 %) at which unit v is no longer ruled out, with
    ``need = 1 - t`` and ``limit = 1 + t`` (the bound falls as t grows: bisection)."""
    lo, hi = tol, 1.0
    while hi - lo > 0.005:
        t = 0.5 * (lo + hi)
        if least_around(indptr, indices, wj, wi, v, 1.0 - t, 1.0 + t, BALL_CAP) > 1.0 + t + 1e-9:
            lo = t
        else:
            hi = t
    return hi
