"""The adjacency graph of the units: shared edges as CSR arrays, with edge lengths.

Two units are neighbours when they share a stretch of boundary (rook contiguity);
units touching only at a corner are not (a grid joined at a corner would dissolve
into a pinched, two-part polygon). The shared length of every edge is kept, so a
grid's perimeter is updated by a move without touching geometry:
``P(grid) = sum(perimeter of its units) - 2 * sum(shared length inside it)``.

Islands rule (documented, used everywhere): when the units fall into several
connected parts (islands, an exclave), every part other than the largest is joined
to the rest by one *virtual edge* (shared length 0) from its unit nearest to a unit
outside it (least distance between polygons, ties to the lower index), repeated until
one part remains. A grid may then contain an island together with the grid of that
nearest unit, or lie wholly on the island; contiguity is judged on this graph.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numba
import numpy as np
import shapely


@dataclass
class UnitGraph:
    """Units as a graph: CSR neighbours with shared lengths, unit areas and perimeters.

    ``indices[indptr[v]:indptr[v+1]]`` are v's neighbours and ``length`` the shared
    boundary length (m) with each; ``virtual`` marks island edges (length 0).
    ``parts`` is the number of connected parts before islands were joined and
    ``part_sizes`` their sizes in units (largest first).
    """

    n: int
    indptr: np.ndarray
    indices: np.ndarray
    length: np.ndarray
    area: np.ndarray
    perimeter: np.ndarray
    centroid: np.ndarray
    parts: int = 1
    part_sizes: list[int] = field(default_factory=list)
    virtual_edges: list[tuple[int, int]] = field(default_factory=list)

    @property
    def edges(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Undirected edges (i < j) and their shared lengths."""
        src = np.repeat(np.arange(self.n), np.diff(self.indptr))
        keep = src < self.indices
        return src[keep], self.indices[keep], self.length[keep]

    def subgraph(self, nodes: np.ndarray) -> UnitGraph:
        """The graph on ``nodes`` (sorted positions), renumbered 0..len(nodes)-1."""
        nodes = np.asarray(nodes, dtype=np.int64)
        where = np.full(self.n, -1, dtype=np.int64)
        where[nodes] = np.arange(len(nodes))
        i, j, ln = self.edges
        keep = (where[i] >= 0) & (where[j] >= 0)
        return _from_edges(
            len(nodes),
            where[i[keep]],
            where[j[keep]],
            ln[keep],
            self.area[nodes],
            self.perimeter[nodes],
            self.centroid[nodes],
        )


def _segment_edges(polys: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pairs (i < j) sharing ring segments with identical end points, and shared length.

    Every ring segment gets a direction-free key (its end points in lexicographic
    order); a key seen in two polygons is a shared edge. Exact and fast for a
    coverage whose neighbours share vertices (cells, blocks, official boundaries).
    """
    rings, ring_owner = shapely.get_rings(polys, return_index=True)
    coords, ring_of = shapely.get_coordinates(rings, return_index=True)
    same = ring_of[:-1] == ring_of[1:]
    a, b = coords[:-1][same], coords[1:][same]
    owner = ring_owner[ring_of[:-1][same]]
    swap = (a[:, 0] > b[:, 0]) | ((a[:, 0] == b[:, 0]) & (a[:, 1] > b[:, 1]))
    p = np.where(swap[:, None], b, a)
    q = np.where(swap[:, None], a, b)
    _, inverse = np.unique(np.column_stack([p, q]), axis=0, return_inverse=True)
    inverse = inverse.ravel()
    order = np.lexsort((owner, inverse))
    inv_sorted = inverse[order]
    pair = inv_sorted[:-1] == inv_sorted[1:]
    first, second = order[:-1][pair], order[1:][pair]
    i = np.minimum(owner[first], owner[second])
    j = np.maximum(owner[first], owner[second])
    seg = np.hypot(*(q[first] - p[first]).T)
    keep = i != j
    return _sum_pairs(len(polys), i[keep], j[keep], seg[keep])


def _overlay_edges(polys: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pairs sharing boundary found geometrically (for coverages with unmatched vertices)."""
    tree = shapely.STRtree(polys)
    i, j = tree.query(polys, predicate="intersects")
    keep = i < j
    i, j = i[keep], j[keep]
    b = shapely.boundary(polys)
    ln = shapely.length(shapely.intersection(b[i], b[j]))
    keep = ln > 1e-9
    return i[keep].astype(np.int64), j[keep].astype(np.int64), ln[keep]


def _sum_pairs(n: int, i: np.ndarray, j: np.ndarray, ln: np.ndarray):
    code = i.astype(np.int64) * n + j
    uniq, inv = np.unique(code, return_inverse=True)
    total = np.bincount(inv.ravel(), weights=ln)
    return (uniq // n).astype(np.int64), (uniq % n).astype(np.int64), total


def _from_edges(n, i, j, ln, area, perimeter, centroid) -> UnitGraph:
    src = np.concatenate([i, j]).astype(np.int64)
    dst = np.concatenate([j, i]).astype(np.int64)
    lens = np.concatenate([ln, ln]).astype(float)
    order = np.lexsort((dst, src))
    src, dst, lens = src[order], dst[order], lens[order]
    indptr = np.searchsorted(src, np.arange(n + 1)).astype(np.int64)
    return UnitGraph(n, indptr, dst, lens, area, perimeter, centroid)


def build_graph(polys) -> UnitGraph:
    """The unit graph of projected polygons, islands joined by the documented rule."""
    polys = np.asarray(polys, dtype=object)
    n = len(polys)
    area = shapely.area(polys)
    perimeter = shapely.length(polys)
    centroid = shapely.get_coordinates(shapely.centroid(polys))
    i, j, ln = _segment_edges(polys)
    # check: the free boundary must equal the outline's length, else vertices don't match
    shared = np.bincount(i, ln, n) + np.bincount(j, ln, n)
    outline = shapely.length(shapely.coverage_union_all(polys))
    if not np.isclose(perimeter.sum() - shared.sum(), outline, rtol=1e-6, atol=1e-3):
        i, j, ln = _overlay_edges(polys)
    g = _from_edges(n, i, j, ln, area, perimeter, centroid)
    return _join_islands(g, polys)


@numba.njit(cache=True)
def components(indptr, indices, mask):
    """Connected component id of every node with ``mask`` true (-1 elsewhere)."""
    n = len(indptr) - 1
    comp = np.full(n, -1, dtype=np.int64)
    stack = np.empty(n, dtype=np.int64)
    c = 0
    for s in range(n):
        if not mask[s] or comp[s] >= 0:
            continue
        comp[s] = c
        top = 0
        stack[top] = s
        top += 1
        while top > 0:
            top -= 1
            v = stack[top]
            for e in range(indptr[v], indptr[v + 1]):
                u = indices[e]
                if mask[u] and comp[u] < 0:
                    comp[u] = c
                    stack[top] = u
                    top += 1
        c += 1
    return comp


def grid_neighbours(g: UnitGraph, labels: np.ndarray, k: int) -> list[set[int]]:
    """For every grid (labels 0..k-1), the grids it shares a border with (an island's
    virtual edge, of length 0, is no border)."""
    i, j, ln = g.edges
    li, lj = labels[i], labels[j]
    cut = (li != lj) & (ln > 0)
    nb: list[set[int]] = [set() for _ in range(k)]
    for a, b in zip(li[cut].tolist(), lj[cut].tolist(), strict=True):
        nb[a].add(b)
        nb[b].add(a)
    return nb


def parts_of(g: UnitGraph, mask: np.ndarray | None = None) -> np.ndarray:
    """Component ids over the units in ``mask`` (all units by default)."""
    m = np.ones(g.n, dtype=np.bool_) if mask is None else np.asarray(mask, dtype=np.bool_)
    return components(g.indptr, g.indices, m)


def _join_islands(g: UnitGraph, polys: np.ndarray) -> UnitGraph:
    comp = parts_of(g)
    sizes = np.bincount(comp)
    g.parts = int(len(sizes))
    g.part_sizes = sorted(sizes.tolist(), reverse=True)
    if g.parts <= 1:
        return g
    added: list[tuple[int, int]] = []
    i0, j0, l0 = g.edges
    extra_i: list[int] = []
    extra_j: list[int] = []
    while True:
        sizes = np.bincount(comp)
        if len(sizes) <= 1:
            break
        small = int(np.argsort(sizes, kind="stable")[0])
        inside = np.flatnonzero(comp == small)
        outside = np.flatnonzero(comp != small)
        tree = shapely.STRtree(polys[outside])
        (qi, ti), dist = tree.query_nearest(polys[inside], return_distance=True, all_matches=True)
        best = np.lexsort((outside[ti], inside[qi], dist))[0]
        a, b = int(inside[qi[best]]), int(outside[ti[best]])
        extra_i.append(min(a, b))
        extra_j.append(max(a, b))
        added.append((min(a, b), max(a, b)))
        comp[comp == small] = comp[b]
        _, comp = np.unique(comp, return_inverse=True)
    joined = _from_edges(
        g.n,
        np.concatenate([i0, extra_i]).astype(np.int64),
        np.concatenate([j0, extra_j]).astype(np.int64),
        np.concatenate([l0, np.zeros(len(extra_i))]),
        g.area,
        g.perimeter,
        g.centroid,
    )
    joined.parts, joined.part_sizes, joined.virtual_edges = g.parts, g.part_sizes, added
    return joined


def along_lines(g: UnitGraph, polys, lines, near: float, weight: float) -> UnitGraph:
    """The graph with boundary along ``lines`` made cheaper: each edge's shared length
    times ``1 - weight x`` the share of it within ``near`` (m) of a line, and each unit's
    perimeter lowered to match, so a grid's perimeter becomes its real perimeter minus
    ``weight`` x its boundary along the lines.

    Why: the solver judges compactness by perimeter (Polsby-Popper) everywhere -- the
    bisection's cuts, the boundary moves, the compaction -- so this one change makes
    all of them prefer to cut along roads and rivers (a boundary along a road costs
    half at ``weight = 0.5``) without a second objective. Scores are still computed on
    the real graph.
    """
    polys = np.asarray(polys, dtype=object)
    lines = np.asarray(lines, dtype=object)
    if len(lines) == 0 or weight <= 0:
        return g
    i, j, ln = g.edges
    real = ln > 0  # island links have no shared boundary
    share = np.zeros(len(ln))
    if real.any():
        bound = shapely.boundary(polys)
        shared = shapely.intersection(bound[i[real]], bound[j[real]])
        zone = shapely.buffer(shapely.union_all(lines), near)
        shapely.prepare(zone)
        on = shapely.length(shapely.intersection(shared, zone))
        share[real] = np.clip(on / np.maximum(shapely.length(shared), 1e-12), 0.0, 1.0)
    cut = weight * share * ln
    perimeter = g.perimeter - np.bincount(i, cut, g.n) - np.bincount(j, cut, g.n)
    out = _from_edges(g.n, i, j, ln - cut, g.area, perimeter, g.centroid)
    out.parts, out.part_sizes, out.virtual_edges = g.parts, g.part_sizes, g.virtual_edges
    return out
