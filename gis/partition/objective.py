"""The objective: balance on every weight first, compactness (Polsby-Popper) second.

Weights are normalised so every grid's target is 1.0 for each weight (the unit's
share of the parent's total times k). A grid's balance penalty is
``sum_w max(0, |W_w - 1| - band)^2``: zero inside the band, so within it moves are
free to improve compactness; outside it a move is judged on balance alone
(lexicographic: penalty first, then sum of Polsby-Popper ``4 pi A / P^2``).

Tallies (weights, area, perimeter per grid) are kept incrementally by the moves;
:func:`grid_tallies` computes them from scratch (once per solve, and for reports).
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

from gis.partition.constraints import noncontiguous_grids
from gis.partition.graph import UnitGraph


@numba.njit(cache=True, inline="always")
def band_penalty(x, band):
    """Penalty of a normalised tally ``x`` (target 1) outside ``1 +- band``."""
    e = abs(x - 1.0) - band
    return e * e if e > 0.0 else 0.0


@numba.njit(cache=True, inline="always")
def polsby_popper(area, perimeter):
    """``4 pi A / P^2``: 1 for a disc, about 0.785 for a square."""
    return 4.0 * np.pi * area / (perimeter * perimeter) if perimeter > 0.0 else 0.0


@numba.njit(cache=True)
def grid_tallies(labels, k, weights, area, perimeter, indptr, indices, length):
    """Per-grid weight sums (k x m), area, perimeter and unit count."""
    n, m = weights.shape
    wsum = np.zeros((k, m))
    asum = np.zeros(k)
    psum = np.zeros(k)
    size = np.zeros(k, dtype=np.int64)
    for v in range(n):
        d = labels[v]
        for j in range(m):
            wsum[d, j] += weights[v, j]
        asum[d] += area[v]
        psum[d] += perimeter[v]
        size[d] += 1
        for e in range(indptr[v], indptr[v + 1]):
            if labels[indices[e]] == d:
                psum[d] -= length[e]  # each inner edge is seen from both sides: -2x total
    return wsum, asum, psum, size


@dataclass
class Score:
    """How good a labelling is: the numbers the benchmark and the grid table report."""

    max_dev_pct: dict[str, float]
    noncontiguous: int
    pp_mean: float
    pp_min: float
    cut_edges: int
    pp: np.ndarray
    sums: np.ndarray  # k x m raw weight sums


def score(g: UnitGraph, labels: np.ndarray, weights: dict[str, np.ndarray], k: int) -> Score:
    """Deviation from the mean per weight, contiguity, compactness and cut edges."""
    labels = np.asarray(labels, dtype=np.int64)
    names = list(weights)
    w = np.column_stack([np.asarray(weights[n], dtype=float) for n in names]) if names else (
        np.zeros((g.n, 0))
    )
    wsum, asum, psum, _ = grid_tallies(
        labels, k, w, g.area, g.perimeter, g.indptr, g.indices, g.length
    )
    mean = w.sum(axis=0) / k
    with np.errstate(divide="ignore", invalid="ignore"):
        dev = np.abs(wsum / mean - 1.0).max(axis=0) * 100.0
    pp = 4.0 * np.pi * asum / np.maximum(psum, 1e-12) ** 2
    i, j, ln = g.edges
    cut = int(np.count_nonzero((labels[i] != labels[j]) & (ln > 0)))
    return Score(
        {n: float(d) for n, d in zip(names, dev, strict=True)},
        noncontiguous_grids(g.indptr, g.indices, labels, k),
        float(pp.mean()),
        float(pp.min()),
        cut,
        pp,
        wsum,
    )
