"""Neighbours in a polygon coverage and connected region growing on them.

Neighbours are found by shared boundary segments, not by ``intersects``: faces of
one noded arrangement share identical vertices, so a segment that occurs in two
faces is exactly a shared edge, and faces that only touch at a corner are not
neighbours (a region grown over corner contacts would dissolve into a pinched,
multi-part polygon).
"""

from __future__ import annotations

import heapq

import numpy as np
import shapely


def shared_edges(polys: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pairs (i, j) with i < j of polygons sharing boundary, and the shared length (m).

    Vectorised: every ring segment gets a direction-free key (its two end points
    in lexicographic order); a key seen twice is an edge between two polygons.
    """
    polys = np.asarray(polys, dtype=object)
    rings, ring_owner = shapely.get_rings(polys, return_index=True)
    coords, ring_of = shapely.get_coordinates(rings, return_index=True)
    same = ring_of[:-1] == ring_of[1:]
    a = coords[:-1][same]
    b = coords[1:][same]
    owner = ring_owner[ring_of[:-1][same]]
    swap = (a[:, 0] > b[:, 0]) | ((a[:, 0] == b[:, 0]) & (a[:, 1] > b[:, 1]))
    p = np.where(swap[:, None], b, a)
    q = np.where(swap[:, None], a, b)
    keys = np.column_stack([p, q])
    _, inverse = np.unique(keys, axis=0, return_inverse=True)
    inverse = inverse.ravel()
    order = np.lexsort((owner, inverse))
    inv_sorted = inverse[order]
    pair = inv_sorted[:-1] == inv_sorted[1:]
    first = order[:-1][pair]
    second = order[1:][pair]
    i = np.minimum(owner[first], owner[second])
    j = np.maximum(owner[first], owner[second])
    seg_len = np.hypot(*(q[first] - p[first]).T)
    keep = i != j
    i, j, seg_len = i[keep], j[keep], seg_len[keep]
    n = len(polys)
    code = i.astype(np.int64) * n + j
    uniq, inv = np.unique(code, return_inverse=True)
    length = np.bincount(inv.ravel(), weights=seg_len)
    return (uniq // n).astype(np.int64), (uniq % n).astype(np.int64), length


def grow_regions(
    n: int,
    i: np.ndarray,
    j: np.ndarray,
    cost: np.ndarray,
    seeds: np.ndarray,
    offsets: np.ndarray | None = None,
) -> np.ndarray:
    """Label each node with the seed whose (offset + path cost) reaches it first.

    A multi-source Dijkstra over the undirected graph (i, j, cost). Every node's
    shortest path runs through nodes of the same label, so each region is
    connected: this is the contiguity rule, with no repair step needed. Ties are
    broken by node index (deterministic). Unreachable nodes get -1.
    A plain heap loop over the graph (a few thousand nodes), not over geometry.
    """
    order = np.argsort(np.concatenate([i, j]), kind="stable")
    src = np.concatenate([i, j])[order]
    dst = np.concatenate([j, i])[order]
    w = np.concatenate([cost, cost])[order]
    start = np.searchsorted(src, np.arange(n + 1))
    dist = np.full(n, np.inf)
    label = np.full(n, -1, dtype=np.int64)
    offsets = np.zeros(len(seeds)) if offsets is None else np.asarray(offsets, dtype=float)
    heap: list[tuple[float, int, int]] = []
    for k, (s, off) in enumerate(zip(seeds.tolist(), offsets.tolist(), strict=True)):
        heapq.heappush(heap, (off, int(s), k))
    dst_l, w_l, start_l = dst.tolist(), w.tolist(), start.tolist()
    done = np.zeros(n, dtype=bool)
    while heap:
        d, v, k = heapq.heappop(heap)
        if done[v]:
            continue
        done[v] = True
        dist[v] = d
        label[v] = k
        for e in range(start_l[v], start_l[v + 1]):
            u = dst_l[e]
            if not done[u]:
                heapq.heappush(heap, (d + w_l[e], u, k))
    return label
