"""The initial solution: balanced, compact regions grown from k spread centres.

1. Centres: weighted k-means++ on the unit centroids (seeded generator), refined by
   a few weighted Lloyd steps, so centres sit where the workload is.
2. Growth (:func:`flood`): every region grows from its seed unit through shared
   edges, a unit going to the region whose priority ``|x - c_r|^2 - offset_r`` is
   lowest among the regions that reach it. Each unit is claimed from a neighbour of
   the same region, so every region is connected by construction.
3. Balancing: offsets are raised for light regions and lowered for heavy ones, and
   centres move to their region's centroid (a capacity-constrained power diagram on
   the graph), for a fixed number of rounds; the best-balanced round is kept.
Locked units and fixed seeds are pre-assigned and never claimed by another region.
"""

from __future__ import annotations

import heapq

import numba
import numpy as np


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
def _label_parts(indptr, indices, labels):
    """Component id per unit within its own label."""
    n = len(labels)
    comp = np.full(n, -1, dtype=np.int64)
    stack = np.empty(n, dtype=np.int64)
    c = 0
    for s in range(n):
        if comp[s] >= 0 or labels[s] < 0:
            continue
        comp[s] = c
        top = 1
        stack[0] = s
        while top > 0:
            top -= 1
            x = stack[top]
            for e in range(indptr[x], indptr[x + 1]):
                u = indices[e]
                if comp[u] < 0 and labels[u] == labels[x]:
                    comp[u] = c
                    stack[top] = u
                    top += 1
        c += 1
    return comp


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


def bisection_labels(
    indptr: np.ndarray,
    indices: np.ndarray,
    length: np.ndarray,
    xy: np.ndarray,
    weights: np.ndarray,
    k: int,
    rng: np.random.Generator,
    directions: int = 48,
) -> np.ndarray:
    """Recursive bisection by straight cuts balancing every weight, then contiguity repair.

    Each set of units is cut in two by a straight line so each side holds ``k1 : k2``
    of every weight as nearly as possible (by a ham-sandwich argument a direction
    exists that splits two weights at once). Of ``directions`` angles (rotated by
    the seed) and every cut position along each, the cut with the smallest max
    deviation wins, ties (within 0.5 %) going to the shortest shared boundary; the
    pieces are intersections of half-planes, so compact. Parts of a region cut off
    from it are handed to the neighbour they share most boundary with.
    """
    n, m = weights.shape
    labels = np.zeros(n, dtype=np.int64)
    src = np.repeat(np.arange(n), np.diff(indptr))
    base = rng.uniform(0.0, np.pi / directions)
    angles = base + np.arange(directions) * np.pi / directions
    todo = [(np.arange(n), 0, k)]
    while todo:
        idx, first, kk = todo.pop()
        if kk == 1:
            labels[idx] = first
            continue
        k1 = kk // 2
        w = weights[idx] + 1e-12
        tot = w.sum(axis=0)
        inside = np.zeros(n, dtype=bool)
        inside[idx] = True
        cands = []
        for a in angles:
            proj = xy[idx, 0] * np.cos(a) + xy[idx, 1] * np.sin(a)
            order = np.argsort(proj, kind="stable")
            cum = np.cumsum(w[order], axis=0) / tot
            dev = np.abs(cum - k1 / kk).max(axis=1)
            lo, hi = k1 - 1, len(idx) - (kk - k1)  # at least k1 / k2 units per side
            cut = lo + int(np.argmin(dev[lo:hi])) + 1
            cands.append((float(dev[cut - 1]), order, cut))
        best_dev = min(c[0] for c in cands)
        best = None
        for dev, order, cut in cands:
            if dev > best_dev + 0.005:
                continue
            side = np.zeros(n, dtype=bool)
            side[idx[order[:cut]]] = True
            e = inside[src] & inside[indices] & (side[src] != side[indices])
            cost = length[e].sum()
            if best is None or cost < best[0]:
                best = (cost, idx[order[:cut]], idx[order[cut:]])
        todo.append((best[1], first, k1))
        todo.append((best[2], first + k1, kk - k1))
    load = weights.mean(axis=1)
    # repair: keep each region's heaviest part, hand the rest to neighbours
    comp = _label_parts(indptr, indices, labels)
    part_load = np.bincount(comp, weights=load + 1e-9)
    part_label = np.zeros(len(part_load), dtype=np.int64)
    part_label[comp] = labels
    keep = np.zeros(len(part_load), dtype=bool)
    order = np.lexsort((-part_load, part_label))
    first = np.ones(len(order), dtype=bool)
    first[1:] = part_label[order][1:] != part_label[order][:-1]
    keep[order[first]] = True
    labels = np.where(keep[comp], labels, -1)
    return _absorb(indptr, indices, length, labels)
