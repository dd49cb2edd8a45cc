"""The initial solution: recursive bisection, or regions grown from k centres.

Recursive bisection (:func:`bisection_labels`, the default): a connected set that
must hold kk grids is split ``kk // 2 : kk - kk // 2`` on every weight at once. The
candidate cuts are straight lines over 48 directions and, along each direction, two
*sweeps* (:func:`sweep_order`: a front that moves along the direction through shared
edges, so every prefix is connected and a cut never jumps across a bay); each at the
position with the smallest max deviation. The best are made contiguous (parts cut
off a side join the side they touch), polished by two-way boundary moves with a
weight ladder (:func:`gis.partition.moves.balance`), and the most compact one that
reaches the band wins. Where none reaches it (several weights unevenly spread: a
dense core in empty land), arcs around a few pivots (:func:`_sector_cuts`) are tried
the same way and win when they come closer. Each side is then re-normalised to its
own totals.

Growth (:func:`initial_labels`, used with locked units or fixed seeds):
1. Centres: weighted k-means++ on the unit centroids (seeded generator), refined by
   a few weighted Lloyd steps, so centres sit where the workload is.
2. :func:`flood`: every region grows from its seed unit through shared edges, a
   unit going to the region whose priority ``|x - c_r|^2 - offset_r`` is lowest
   among the regions that reach it, so every region is connected by construction.
3. Offsets are raised for light regions and lowered for heavy ones, and centres move
   to their region's centroid, for a fixed number of rounds; the best round is kept.
Locked units and fixed seeds are pre-assigned and never claimed by another region.
"""

from __future__ import annotations

import heapq
from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np

from gis.errors import InvalidInput
from gis.partition.constraints import label_parts
from gis.partition.moves import balance
from gis.partition.objective import grid_tallies

#: sets of at least this many units are worked on two threads (below, the threads
#: cost more than they save)
PARALLEL_MIN_UNITS = 2000


@numba.njit(cache=True)
def flood(indptr, indices, xy, cost_scale, wn, centres, lam, pre):
    """Grow regions from pre-assigned units (``pre[v] >= 0``); returns labels.

    A unit u reached by region r has priority
    ``cost_scale[u] * |x_u - c_r|^2 - sum_j lam[r, j] * wn[u, j]``: a Lagrangian
    assignment cost whose multipliers ``lam`` pull weight of each kind toward the
    regions short of it. Lowest priority claims the unit first.
    """
    n = len(indptr) - 1
    m = wn.shape[1]
    labels = pre.copy()
    heap = [(0.0, np.int64(0), np.int64(0))]
    heap.pop()
    for v in range(n):
        r = pre[v]
        if r < 0:
            continue
        for e in range(indptr[v], indptr[v + 1]):
            u = indices[e]
            if labels[u] < 0:
                heapq.heappush(heap, (_prio(u, r, xy, cost_scale, wn, centres, lam, m), u, r))
    while len(heap) > 0:
        _, u, r = heapq.heappop(heap)
        if labels[u] >= 0:
            continue
        labels[u] = r
        for e in range(indptr[u], indptr[u + 1]):
            x = indices[e]
            if labels[x] < 0:
                heapq.heappush(heap, (_prio(x, r, xy, cost_scale, wn, centres, lam, m), x, r))
    return labels


@numba.njit(cache=True, inline="always")
def _prio(u, r, xy, cost_scale, wn, centres, lam, m):
    dx = xy[u, 0] - centres[r, 0]
    dy = xy[u, 1] - centres[r, 1]
    p = cost_scale[u] * (dx * dx + dy * dy)
    for j in range(m):
        p -= lam[r, j] * wn[u, j]
    return p


def _kmeanspp(xy: np.ndarray, w: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """k-means++ centres (weighted by w plus a little area share so empty land counts)."""
    n = len(xy)
    p = w / w.sum()
    first = int(rng.choice(n, p=p))
    centres = [xy[first]]
    d2 = ((xy - xy[first]) ** 2).sum(axis=1)
    for _ in range(1, k):
        q = p * d2
        s = q.sum()
        nxt = int(rng.choice(n, p=q / s)) if s > 0 else int(rng.integers(n))
        centres.append(xy[nxt])
        d2 = np.minimum(d2, ((xy - xy[nxt]) ** 2).sum(axis=1))
    c = np.array(centres, dtype=float)
    for _ in range(8):  # weighted Lloyd on points (vectorised, chunked)
        lab = _nearest(xy, c)
        tot = np.bincount(lab, weights=w, minlength=k)
        cx = np.bincount(lab, weights=w * xy[:, 0], minlength=k)
        cy = np.bincount(lab, weights=w * xy[:, 1], minlength=k)
        ok = tot > 0
        c[ok, 0] = cx[ok] / tot[ok]
        c[ok, 1] = cy[ok] / tot[ok]
    return c


def _nearest(xy: np.ndarray, centres: np.ndarray, chunk: int = 4096) -> np.ndarray:
    out = np.empty(len(xy), dtype=np.int64)
    for s in range(0, len(xy), chunk):
        d = ((xy[s : s + chunk, None, :] - centres[None, :, :]) ** 2).sum(axis=2)
        out[s : s + chunk] = d.argmin(axis=1)
    return out


def _seed_units(xy: np.ndarray, centres: np.ndarray, taken: np.ndarray) -> np.ndarray:
    """For each centre, the nearest unit not yet taken (in centre order)."""
    seeds = np.empty(len(centres), dtype=np.int64)
    taken = taken.copy()
    for r, c in enumerate(centres):
        d = ((xy - c) ** 2).sum(axis=1)
        d[taken] = np.inf
        s = int(d.argmin())
        seeds[r] = s
        taken[s] = True
    return seeds


def initial_labels(
    indptr: np.ndarray,
    indices: np.ndarray,
    xy: np.ndarray,
    area: np.ndarray,
    weights: np.ndarray,
    imp: np.ndarray,
    k: int,
    rng: np.random.Generator,
    *,
    pre: np.ndarray | None = None,
    rounds: int = 60,
) -> np.ndarray:
    """Connected, compact labels with every weight (n x m, target 1 per region) near 1.

    ``pre`` pre-assigns units to regions (locked units, fixed seeds); such regions keep
    them and their centre stays at their units' mean. The multipliers are updated by
    a damped subgradient step; the round with the smallest max deviation is kept.
    """
    n = len(xy)
    pre = np.full(n, -1, dtype=np.int64) if pre is None else pre.astype(np.int64).copy()
    has_pre = np.zeros(k, dtype=bool)
    has_pre[pre[pre >= 0]] = True
    load = weights @ imp  # the blend: each region's target is 1
    w = load / load.sum() + 0.05 * area / area.sum()
    centres = _kmeanspp(xy, w, k, rng)
    for r in np.flatnonzero(has_pre):  # a locked region's centre is its units' centre
        centres[r] = xy[pre == r].mean(axis=0)
    radius2 = area.sum() / k / np.pi
    cost_scale = np.ones(n)
    wn = np.ascontiguousarray(load[:, None])
    lam = np.zeros((k, 1))
    best, best_dev = None, np.inf
    step = 0.8 * radius2
    move = ~has_pre
    for it in range(rounds):
        start = pre.copy()
        if move.any():
            start[_seed_units(xy, centres[move], pre >= 0)] = np.flatnonzero(move)
        labels = flood(indptr, indices, xy, cost_scale, wn, centres, lam, start)
        tally = np.bincount(labels, weights=load, minlength=k)
        dev = np.abs(tally - 1.0).max()
        if dev < best_dev:
            best, best_dev = labels, dev
        if dev < 0.005:
            break
        # the multiplier acts as a power-diagram offset: light regions reach further
        lam[:, 0] += step * (1.0 - tally) / np.maximum(wn.mean(), 1e-300)
        lam -= lam.mean()
        a = np.bincount(labels, weights=area, minlength=k)
        cx = np.bincount(labels, weights=area * xy[:, 0], minlength=k) / a
        cy = np.bincount(labels, weights=area * xy[:, 1], minlength=k) / a
        centres[move, 0] = 0.5 * centres[move, 0] + 0.5 * cx[move]
        centres[move, 1] = 0.5 * centres[move, 1] + 0.5 * cy[move]
        if it % 10 == 9:
            step *= 0.7
    return best


# ------------------------------------------------------------ recursive bisection


@numba.njit(cache=True)
def _absorb(indptr, indices, length, labels):
    """Give every unlabelled unit (-1) the label of its neighbours, wave by wave.

    A unit takes the label it shares the most boundary with among labelled
    neighbours, so each fragment joins a region it touches (and stays connected).
    """
    n = len(labels)
    changed = True
    while changed:
        changed = False
        new = labels.copy()
        for v in range(n):
            if labels[v] >= 0:
                continue
            best = -1
            best_len = -1.0
            for e in range(indptr[v], indptr[v + 1]):
                lu = labels[indices[e]]
                if lu < 0:
                    continue
                tot = 0.0
                for f in range(indptr[v], indptr[v + 1]):
                    if labels[indices[f]] == lu:
                        tot += length[f] + 1e-9
                if tot > best_len or (tot == best_len and lu < best):
                    best, best_len = lu, tot
            if best >= 0:
                new[v] = best
                changed = True
        labels[:] = new
    return labels


@numba.njit(cache=True, nogil=True)
def sweep_order(indptr, indices, proj):
    """Units in the order a front sweeping along ``proj`` reaches them through edges.

    Starts at the unit of least ``proj`` and always takes the reached unit of least
    ``proj`` next, so every prefix of the order is connected (a straight sweep line
    that bends around bays instead of jumping across them). The start is found by a
    scan; the units are sorted only when the set is not connected (the sort took a
    quarter of a sweep's time).
    """
    n = len(proj)
    seen = np.zeros(n, dtype=np.bool_)
    out = np.empty(n, dtype=np.int64)
    heap = [(0.0, np.int64(0))]
    heap.pop()
    top = 0
    rest = np.empty(0, dtype=np.int64)
    r = 0
    while top < n:
        if top == 0:
            s = np.int64(np.argmin(proj))
        else:  # the front ran out: the set is not connected
            if len(rest) == 0:
                rest = np.argsort(proj, kind="mergesort")
            while seen[rest[r]]:
                r += 1
            s = rest[r]
        seen[s] = True
        heapq.heappush(heap, (proj[s], s))
        while len(heap) > 0:
            _, v = heapq.heappop(heap)
            out[top] = v
            top += 1
            for e in range(indptr[v], indptr[v + 1]):
                u = indices[e]
                if not seen[u]:
                    seen[u] = True
                    heapq.heappush(heap, (proj[u], u))
    return out


@numba.njit(cache=True, nogil=True)
def _cut_orders(indptr, indices, cx, cy, cosa, sina, wn, tot, frac, lo, hi, orders, devs, cuts):
    """For each angle, three orders of the units (the straight line: a stable sort of
    the projections; the sweep; the sweep backward from the far end), each with the
    prefix length that splits every weight closest to ``frac : 1 - frac`` and that
    cut's max deviation, into ``orders[3i + j]``, ``cuts`` and ``devs``.

    Why one kernel: the bisection scores 144 orders per split, 600 splits at k = 200;
    as Python calls they took a third of the solve. It releases the GIL, so
    :func:`_split` runs two halves of the angles side by side (the same numbers as
    one by one: ``tot`` and the cosines come from numpy, the rest is sequential). A
    weight the set does not hold (total 0) is left out.
    """
    n, m = wn.shape
    cum = np.empty(m)
    for i in range(len(cosa)):
        proj = cx * cosa[i] + cy * sina[i]
        orders[3 * i] = np.argsort(proj, kind="mergesort")
        orders[3 * i + 1] = sweep_order(indptr, indices, proj)
        orders[3 * i + 2] = sweep_order(indptr, indices, -proj)[::-1]
        for j in range(3):
            o = orders[3 * i + j]
            cum[:] = 0.0
            best = np.inf
            cut = lo + 1
            for p in range(hi):
                v = o[p]
                dev = 0.0
                for c in range(m):
                    cum[c] += wn[v, c]
                    if tot[c] <= 0.0:
                        continue
                    x = cum[c] / tot[c]
                    d = max(abs(x / frac - 1.0), abs((1.0 - x) / (1.0 - frac) - 1.0))
                    if d > dev:
                        dev = d
                if p >= lo and dev < best:
                    best = dev
                    cut = p + 1
            devs[3 * i + j] = best
            cuts[3 * i + j] = cut


@numba.njit(cache=True, nogil=True)
def _sector_cuts(order, wn, tot, frac, lo, hi, bins):
    """The units in ``order`` (sorted by angle around a pivot) read as a circle: for
    each of ``bins`` equal stretches of start positions, the arc ``[s, s + L)`` whose
    share of every weight is closest to ``frac`` (L in ``lo + 1 .. hi``), as (max
    deviation, s, L) rows.

    Why: a set whose weights are unevenly spread (a dense core in empty land) has no
    straight cut that halves both the core's enterprises and the land, but an arc has
    two free ends for two weights: by the argument of the ham-sandwich theorem some
    arc around any pivot takes half of both. Each weight's deviation is
    ``|x_c - frac|`` (times a constant), so the worst over the weights is least where
    the largest excess meets the largest shortfall: found by bisection on L. A weight
    the set does not hold (total 0) is left out.
    """
    n, m = wn.shape
    cum = np.zeros((2 * n + 1, m))
    for i in range(2 * n):
        v = order[i % n]
        for c in range(m):
            cum[i + 1, c] = cum[i, c] + (wn[v, c] / tot[c] if tot[c] > 0.0 else 0.0)
    scale = max(1.0 / frac, 1.0 / (1.0 - frac))
    out = np.full((bins, 3), np.inf)
    for s in range(n):
        b = s * bins // n
        a, z = lo + 1, hi
        while a < z:  # the least L where the excess reaches the shortfall
            mid = (a + z) // 2
            ex = 0.0
            sh = 0.0
            for c in range(m):
                if tot[c] <= 0.0:
                    continue
                x = cum[s + mid, c] - cum[s, c] - frac
                if x > ex:
                    ex = x
                if -x > sh:
                    sh = -x
            if ex >= sh:
                z = mid
            else:
                a = mid + 1
        for L in (a - 1, a):
            if L < lo + 1 or L > hi:
                continue
            d = 0.0
            for c in range(m):
                if tot[c] <= 0.0:
                    continue
                x = abs(cum[s + L, c] - cum[s, c] - frac)
                if x > d:
                    d = x
            d *= scale
            if d < out[b, 0]:
                out[b, 0] = d
                out[b, 1] = s
                out[b, 2] = L
    return out


def _repair(indptr, indices, length, labels, load):
    """Keep each label's heaviest connected part; hand the other parts to neighbours."""
    comp = label_parts(indptr, indices, labels)
    part_load = np.bincount(comp, weights=load + 1e-9)
    part_label = np.zeros(len(part_load), dtype=np.int64)
    part_label[comp] = labels
    keep = np.zeros(len(part_load), dtype=bool)
    order = np.lexsort((-part_load, part_label))
    first = np.ones(len(order), dtype=bool)
    first[1:] = part_label[order][1:] != part_label[order][:-1]
    keep[order[first]] = True
    out = np.where(keep[comp], labels, -1)
    return _absorb(indptr, indices, length, out)


#: arcs around pivots as candidate cuts (see :func:`_sector_cuts`): per pivot, the best
#: arc of each of this many stretches of start positions
SECTORS = 8


def _sector_candidates(xy, wn, tot, frac, lo, hi) -> list:
    """(deviation, order, cut) of the arcs around each pivot: the centre of each weight
    and of the units, and each weight's heaviest unit; the order is rolled so the arc
    is its prefix."""
    m = wn.shape[1]
    pivots = [xy.mean(axis=0)]
    for c in range(m):
        if tot[c] > 0:
            pivots.append((xy * wn[:, c:c + 1]).sum(axis=0) / tot[c])
            pivots.append(xy[int(np.argmax(wn[:, c]))])
    out = []
    for p in pivots:
        ang = np.arctan2(xy[:, 1] - p[1], xy[:, 0] - p[0])
        order = np.argsort(ang, kind="mergesort").astype(np.int64)
        rows = _sector_cuts(order, wn, tot, frac, lo, hi, SECTORS)
        for d, s0, length in rows:
            if np.isfinite(d):
                out.append((float(d), np.roll(order, -int(s0)), int(length)))
    return out


def _split(g, wn: np.ndarray, kk: int, angles: np.ndarray, band: float, rng,
           max_sweeps: int, candidates: int = 24, slack: float = 0.25,
           tries: int = 4) -> np.ndarray:
    """Side (0/1) of every unit of a connected set cut ``k1 : k2`` on every weight.

    ``wn`` sums to kk per weight. For each of ``angles``: the straight cut and the two
    sweeps (forward, and backward from the far end), each at the position with the
    smallest max deviation. The ``candidates`` least deviating are made contiguous and
    re-scored; the most balanced and the ``tries - 1`` most compact within ``slack``
    are polished by two-way moves (:func:`gis.partition.moves.balance`), and the most
    compact that reaches ``2 * band`` wins (else the least deviating).

    When no straight cut reaches the band and several weights are balanced, arcs
    around pivots (:func:`_sector_candidates`) go through the same steps, and the
    better of the two results wins. Why only then: where a straight cut does, it is
    the rounder one, and the labels stay what they were; where none does (a core of
    enterprises in empty land, which a straight cut either misses or takes too much
    of), an arc has two free ends for two weights. With the arcs, grids outside
    their allowance over seeds 0-4: Jinshan k = 50 from 6.2 to 4.4 on average,
    30,000 cells at k = 200 from 157 to 127 (seeds 0-3).
    """
    n = g.n
    k1 = kk // 2
    frac = k1 / kk
    tot = wn.sum(axis=0)
    lo, hi = k1 - 1, n - (kk - k1)
    na = len(angles)
    orders = np.empty((3 * na, n), dtype=np.int64)
    devs = np.empty(3 * na)
    cuts = np.empty(3 * na, dtype=np.int64)
    cx, cy = np.ascontiguousarray(g.centroid[:, 0]), np.ascontiguousarray(g.centroid[:, 1])
    wc = np.ascontiguousarray(wn, dtype=float)
    cosa = np.array([np.cos(a) for a in angles])
    sina = np.array([np.sin(a) for a in angles])

    def run(a0: int, a1: int) -> None:
        _cut_orders(g.indptr, g.indices, cx, cy, cosa[a0:a1], sina[a0:a1], wc, tot, frac, lo, hi,
                    orders[3 * a0:3 * a1], devs[3 * a0:3 * a1], cuts[3 * a0:3 * a1])

    half = na // 2
    if n >= PARALLEL_MIN_UNITS and half > 0:
        with ThreadPoolExecutor(max_workers=2) as pool:
            for job in [pool.submit(run, 0, half), pool.submit(run, half, na)]:
                job.result()
    else:
        run(0, na)
    raw = [(float(devs[i]), orders[i], int(cuts[i])) for i in range(3 * na)]
    order = rng.permutation(n).astype(np.int64)
    key, side = _best_cut(g, wn, kk, raw, band, order, max_sweeps, candidates, slack, tries)
    if key[0] and wn.shape[1] > 1:  # no straight cut reaches the band: arcs too
        arcs = _sector_candidates(g.centroid, wc, tot, frac, lo, hi)
        if arcs:
            k2, s2 = _best_cut(g, wn, kk, arcs, band, order, max_sweeps, candidates, slack, tries)
            if k2 < key:
                key, side = k2, s2
    if side is None:
        raise InvalidInput(
            f"Could not split {n} units into two connected parts for {k1} and "
            f"{kk - k1} grids; use smaller units or fewer grids",
            f"无法将 {n} 个单元分成分别容纳 {k1} 与 {kk - k1} 个网格的两个连通部分；"
            "请用更小的单元或更少的网格",
        )
    return side


def _best_cut(g, wn, kk, raw, band, order, max_sweeps, candidates, slack, tries):
    """(key, side) of the best of ``raw`` cuts, (deviation, order, cut) each, as
    :func:`_split` tells; key[0] is 0 when it reaches ``2 * band``; side None when no
    cut leaves each side enough units."""
    n = g.n
    k1 = kk // 2
    raw = sorted(raw, key=lambda c: c[0])
    load = wn.mean(axis=1)
    inv_t = np.array([1.0 / k1, 1.0 / (kk - k1)])
    cands = []
    for i, (_, cut_order, cut) in enumerate(raw):
        if i >= candidates and cands:
            break  # the rest only when no candidate left each side enough units
        side = np.ones(n, dtype=np.int64)
        side[cut_order[:cut]] = 0
        side = _repair(g.indptr, g.indices, g.length, side, load)
        if (np.bincount(side, minlength=2) < [k1, kk - k1]).any():
            continue
        t, a, p, _ = grid_tallies(side, 2, wn, g.area, g.perimeter, g.indptr, g.indices,
                                  g.length)
        dev = float(np.abs(t * inv_t[:, None] - 1.0).max())
        pp = 4.0 * np.pi * a / np.maximum(p, 1e-12) ** 2
        cands.append((dev, float(pp.min() + pp.mean()), side))
    # the most balanced cut and the most compact fairly balanced ones are polished by
    # two-way moves; the most compact that reaches the band wins (else the most balanced)
    if not cands:
        return (2, 0.0, 0.0), None
    cands.sort(key=lambda c: c[0])
    trial = [cands[0]] + sorted(
        (c for c in cands[1:] if c[0] <= max(slack, cands[0][0])), key=lambda c: -c[1]
    )
    trial = trial[:tries]
    locked = np.zeros(n, dtype=np.bool_)
    best = None
    need = np.array([k1, kk - k1])
    before = [side.copy() for _, _, side in trial]

    def polish(side: np.ndarray) -> float:
        return balance(g, wn, side, 2, band, locked, order, max_sweeps, inv_t)

    if n >= PARALLEL_MIN_UNITS and len(trial) > 1:  # the moves release the GIL
        with ThreadPoolExecutor(max_workers=2) as pool:
            devs = list(pool.map(polish, [side for _, _, side in trial]))
    else:
        devs = [polish(side) for _, _, side in trial]
    for (_, _, side), dev, side0 in zip(trial, devs, before, strict=True):
        if (np.bincount(side, minlength=2) < need).any():  # a side too small for its grids
            side = side0
            t = np.zeros((2, wn.shape[1]))
            np.add.at(t, side, wn)
            dev = float(np.abs(t * inv_t[:, None] - 1.0).max())
        t, a, p, _ = grid_tallies(side, 2, wn, g.area, g.perimeter, g.indptr, g.indices,
                                  g.length)
        pp = 4.0 * np.pi * a / np.maximum(p, 1e-12) ** 2
        ok = dev <= 2.0 * band
        key = (0 if ok else 1, 0.0 if ok else dev, -float(pp.min() + pp.mean()))
        if best is None or key < best[0]:
            best = (key, side)
    return best


def bisection_labels(g, weights: np.ndarray, k: int, rng: np.random.Generator, *,
                     band: float = 0.005, directions: int = 48,
                     max_sweeps: int = 100, on_split=None) -> np.ndarray:
    """Recursive bisection: compact straight cuts, repaired and balanced on every weight.

    Each connected set of units that must hold kk grids is split ``k1 : k2``
    (k1 = kk // 2) by :func:`_split`: of ``directions`` straight cuts (angles rotated
    by the seed; by a ham-sandwich argument some direction splits two weights at once)
    the best are made contiguous (parts cut off a side go to the side they touch) and
    polished by two-way boundary moves, so each level passes on its error within
    ``band`` instead of letting it pile up. Each side's weights are
    re-normalised to its own total, spreading any residual evenly over its grids.
    ``on_split(done, total)`` is told after each of the k - 1 splits (progress).
    """
    n, m = weights.shape
    labels = np.zeros(n, dtype=np.int64)
    base = rng.uniform(0.0, np.pi / directions)
    angles = base + np.arange(directions) * np.pi / directions
    todo = [(np.arange(n), 0, k)]
    splits = 0
    while todo:
        idx, first, kk = todo.pop()
        if kk == 1:
            labels[idx] = first
            continue
        sg = g if len(idx) == g.n else g.subgraph(idx)
        w = weights[idx]
        wn = w * kk / np.maximum(w.sum(axis=0), 1e-300)
        try:
            side = _split(sg, wn, kk, angles, band, rng, max_sweeps)
        except InvalidInput:
            # no two connected sides with enough units each (a tiny, branched set):
            # peel single units off the end of a sweep order (what is left stays
            # connected) and let the k-way moves balance them
            order = sweep_order(sg.indptr, sg.indices, np.zeros(sg.n))
            labels[idx[order[: sg.n - kk + 1]]] = first
            labels[idx[order[sg.n - kk + 1:]]] = first + 1 + np.arange(kk - 1)
            continue
        k1 = kk // 2
        todo.append((idx[side == 0], first, k1))
        todo.append((idx[side == 1], first + k1, kk - k1))
        splits += 1
        if on_split is not None:
            on_split(splits, k - 1)
    return labels
