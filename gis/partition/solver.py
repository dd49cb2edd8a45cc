"""``partition``: k contiguous, compact grids balanced on one or several weights.

The steps, each in its own module:

- units and their weights (:mod:`gis.partition.units`), in metres;
- the adjacency graph with shared-edge lengths, islands joined by the documented
  rule (:mod:`gis.partition.graph`);
- an initial solution by recursive bisection, each split a compact cut made
  contiguous and balanced on every weight by two-way moves; with locked units or
  fixed seeds, regions grown from k centres and balanced by offsets
  (:mod:`gis.partition.seeding`);
- boundary-unit moves (:mod:`gis.partition.moves`) under the lexicographic objective
  of :mod:`gis.partition.objective` (every weight within a band around its mean
  first, then the sum of Polsby-Popper), keeping every grid connected
  (:mod:`gis.partition.constraints`) and locked units in place.

With ``parent_col`` the units of each parent are partitioned separately (a grid never
crosses its parent's boundary), with k per parent given or allotted by weight.
Deterministic: the same input and ``seed`` give the same labels.
"""

from __future__ import annotations

import copy
import dataclasses
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd

from gis.errors import InvalidInput, Problem
from gis.partition.anneal import anneal, compact
from gis.partition.constraints import (
    check_indivisible,
    check_k,
    check_tries,
    check_weights,
    tolerances,
)
from gis.partition.diagnose import Shortfall, shortfalls
from gis.partition.feasibility import Crowded, crowded_text, crowded_units
from gis.partition.graph import UnitGraph, along_lines, build_graph, parts_of
from gis.partition.moves import bands, local_search, refine, weight_devs
from gis.partition.objective import Score, score
from gis.partition.seeding import bisection_labels, initial_labels
from gis.partition.units import project_units

AREA = "area"
#: the annealing budget for partitions left outside the tolerance (~0.12 s per million)
ANNEAL_ITERS_PER_UNIT = 3000
ANNEAL_MAX_ITERS = 60_000_000
#: the weight of the perimeter change (over the mean grid perimeter) in its energy
ANNEAL_LAM = 0.01
#: annealing passes, each from the greedy's labels: start temperature, budget (x
#: ANNEAL_ITERS_PER_UNIT tries per unit), the most tries, and what the energy's bands
#: are 3/4 of: the ``tolerance`` for every weight, or each weight's ``allowance``. The
#: first pass runs on one thread, the others one after the other on a second (30,000
#: units: 60 M tries on each, well inside a minute at k = 200); the best result is kept.
ANNEAL_PASSES = (
    (0.1, 1, ANNEAL_MAX_ITERS, "tolerance"),
    (0.01, 3, ANNEAL_MAX_ITERS // 2, "tolerance"),
    (0.01, 3, ANNEAL_MAX_ITERS // 2, "allowance"),
)
#: the tightening after them: start temperature, budget, the most tries per round, and
#: the most rounds
ANNEAL_TIGHTEN = (0.01, 1, ANNEAL_MAX_ITERS // 4, 4)
#: in its energy, the weight of a grid's excess over its allowance against its excess
#: over the band
ANNEAL_TIGHTEN_HARD = 100.0
#: the compactness annealing (every solve), two runs side by side from the same labels,
#: the one with the larger mean Polsby-Popper kept: each run's tries per unit, start
#: temperature and most tries, and the end temperature of both; temperatures times
#: 1 / sqrt(units per grid), the size of one move's Polsby-Popper change (30,000 cells:
#: the cool run 30 M tries, the hot one 60 M)
COMPACT_RUNS = ((1000, 0.08, ANNEAL_MAX_ITERS // 2), (2000, 0.3, ANNEAL_MAX_ITERS))
COMPACT_T1 = 0.0008


@dataclass
class PartitionResult:
    """The labels (grid number per unit, 0..k-1, in the order of the input rows) and scores.

    ``parent_of_grid`` holds each grid's parent value (None without nesting);
    ``heaviest_unit_pct`` is, per weight, the heaviest unit as % of its grid mean;
    ``notes`` are bilingual remarks (islands joined, bands not reached);
    ``shortfalls`` the blocks of grids outside their allowance and whether the part of
    the area around them holds its share (:mod:`gis.partition.diagnose`; its
    ``shortfall_notes`` words them for planners); ``crowded`` the units that prove no
    partition can keep every weight within the tolerance (:mod:`gis.partition.
    feasibility`; ``unit`` is the row position), also told in ``notes``.
    """

    labels_: np.ndarray
    k: int
    weights: list[str]
    score: Score
    graph: UnitGraph
    units: gpd.GeoDataFrame  # projected units with the weight columns used
    parent_of_grid: list = field(default_factory=list)
    heaviest_unit_pct: dict[str, float] = field(default_factory=dict)
    notes: list[tuple[str, str]] = field(default_factory=list)
    seconds: float = 0.0
    #: per weight, the tolerance asked for
    tolerance: dict[str, float] = field(default_factory=dict)
    shortfalls: list[Shortfall] = field(default_factory=list)
    crowded: list[Crowded] = field(default_factory=list)
    #: the seed whose labels these are (``seed`` + the try kept, see ``tries``)
    seed: int = 0

    @property
    def max_dev_pct(self) -> dict[str, float]:
        return self.score.max_dev_pct

    def within_tolerance(self) -> bool:
        return all(v <= 100.0 * self.tolerance[nm] + 1e-9 for nm, v in self.max_dev_pct.items())


def _weight_arrays(units: gpd.GeoDataFrame, names: list[str]) -> dict[str, np.ndarray]:
    frame = units
    if AREA in names and AREA not in units.columns:
        frame = units.assign(**{AREA: units.geometry.area.to_numpy()})
    return check_weights(frame, names)


def _normalise_weights(weights) -> tuple[list[str], np.ndarray]:
    if isinstance(weights, str):
        weights = [weights]
    if isinstance(weights, Mapping):
        names = list(weights)
        imp = np.array([float(weights[n]) for n in names])
        if np.any(~np.isfinite(imp)) or np.any(imp < 0) or imp.sum() <= 0:
            raise InvalidInput(
                "Weight importances must be non-negative numbers with a positive sum",
                "权重的重要度必须为非负数且总和为正",
            )
    else:
        names = list(weights)
        imp = np.ones(len(names))
    if len(set(names)) != len(names):
        raise InvalidInput("A weight is named twice", "权重名称重复")
    return names, imp / imp.sum()


def _over(w: np.ndarray, labels: np.ndarray, k: int, tol: np.ndarray) -> float:
    """The largest deviation of any weight of any grid as a multiple of that weight's
    tolerance (at most 1: every weight within its tolerance)."""
    return float((weight_devs(w, labels, k) / tol).max())


def allot_k(totals: np.ndarray, k: int, sizes: np.ndarray) -> np.ndarray:
    """k split over parents in proportion to ``totals`` (largest remainder), 1..size each."""
    p = len(totals)
    if k < p:
        raise InvalidInput(
            f"k = {k} is smaller than the number of parents ({p}); every parent needs a grid",
            f"网格数 k = {k} 少于上级单元数（{p}），每个上级单元至少需要一个网格",
        )
    share = totals / totals.sum() * k if totals.sum() > 0 else np.full(p, k / p)
    out = np.clip(np.floor(share).astype(np.int64), 1, sizes)
    while out.sum() < k:
        room = out < sizes
        if not room.any():
            break
        gap = np.where(room, share - out, -np.inf)
        out[int(np.argmax(gap))] += 1
    while out.sum() > k:
        over = np.where(out > 1, out - share, -np.inf)
        out[int(np.argmax(over))] -= 1
    return out


def amount(x: float) -> str:
    """A workload total for people: whole numbers from 100 up, two decimals below."""
    return f"{x:,.0f}" if abs(x) >= 100 else f"{x:,.2f}"


def k_for_workload(total: float, per_grid: float, n_units: int, what: str = "workload",
                   what_zh: str = "工作量") -> int:
    """The number of grids that carry about ``per_grid`` of a workload whose whole is
    ``total``: total / per_grid rounded to the nearest whole number, at least 1.

    Why: planners often ask for "one grid per ~300 enterprises" (or per 5 km^2) rather
    than for k; rounding to the nearest keeps the mean per grid closest to what they
    asked. Refused when the area holds none of it, or when it would take more grids
    than there are units (``what`` / ``what_zh`` name the workload in the errors).
    """
    if not (np.isfinite(per_grid) and per_grid > 0):
        raise InvalidInput(
            f"The workload per grid must be a positive number, got {per_grid}",
            f"每个网格的工作量必须为正数，收到 {per_grid}",
            [Problem("not positive", "不是正数", field="grid_workload")],
        )
    if not total > 0:
        raise InvalidInput(
            f"The area holds no {what}: k cannot come from a {what} per grid; give k",
            f"区域内没有{what_zh}，无法按每格工作量确定网格数；请指定网格数 k",
            [Problem(f"no {what}", f"没有{what_zh}", field="grid_workload")],
        )
    k = max(1, int(np.floor(total / per_grid + 0.5)))
    if k > n_units:
        raise InvalidInput(
            f"About {per_grid:g} {what} per grid makes k = {k} grids ({amount(total)} in all), more than "
            f"the {n_units} units; ask for more per grid or use smaller units",
            f"每格{what_zh}约 {per_grid:g} 需要 {k} 个网格（共 {amount(total)}），多于单元数 {n_units}；"
            "请提高每格工作量或使用更小的单元",
            [Problem(f"k = {k} > {n_units} units", f"k = {k} 大于单元数 {n_units}", field="grid_workload")],
        )
    return k


def _solve_group(
    g: UnitGraph,
    w: np.ndarray,
    imp: np.ndarray,
    k: int,
    rng: np.random.Generator,
    pre: np.ndarray,
    locked: np.ndarray,
    band: float | np.ndarray,
    tol: np.ndarray,
    max_sweeps: int,
    restarts: int,
    progress=None,
) -> np.ndarray:
    """Labels 0..k-1 for one connected group of units (normalised weights w: n x m),
    ``tol`` one tolerance per weight. ``progress(fraction)`` is told how far the first
    attempt's splits are."""
    if k == 1:
        return np.zeros(g.n, dtype=np.int64)
    best, best_key = None, None
    for attempt in range(max(1, restarts)):
        if (pre >= 0).any():
            labels = initial_labels(
                g.indptr, g.indices, g.centroid, g.area, w, imp, k, rng, pre=pre
            )
        else:
            hook = None
            if progress is not None and attempt == 0:
                def hook(done: int, total: int) -> None:
                    progress(0.8 * done / total)
            labels = bisection_labels(g, w, k, rng, band=float(tol.min()) * 0.25, on_split=hook)
        order = rng.permutation(g.n).astype(np.int64)
        refine(g, w, labels, k, band, locked, order, max_sweeps)
        over = _over(w, labels, k, tol)
        if over > 1.0:  # balance only, with a zero band, then compact inside the band
            local_search(
                g.indptr, g.indices, g.length, w, g.area, g.perimeter, labels, k,
                np.zeros(w.shape[1]),
                locked, order, max_sweeps, False, np.inf, np.ones(k),
            )
            refine(g, w, labels, k, np.minimum(bands(band, w.shape[1]), tol * 0.9), locked, order,
                   max_sweeps)  # fmt: skip
            over = _over(w, labels, k, tol)
        key = (over > 1.0, over if over > 1.0 else 0.0, attempt)
        if best_key is None or key < best_key:
            best, best_key = labels.copy(), key
        if over <= 1.0:
            break
    # still outside the tolerance: anneal, and keep the labels that exceed the allowance
    # (the tolerance, or the heaviest unit where one alone is heavier) the least
    allow = allowance(w, tol)
    key = _excess_key(w, best, k, allow, tol)
    if key[1] > 1.0:
        best = _anneal_passes(g, w, k, best, key, allow, band, tol, locked, max_sweeps, rng)
        best = _tighten(g, w, k, best, allow, tol, locked, rng)
    return _compact_runs(g, w, k, best, tol, locked, rng)


def _compact_runs(g: UnitGraph, w: np.ndarray, k: int, labels: np.ndarray, tol: np.ndarray,
                  locked: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The runs of ``COMPACT_RUNS`` from ``labels``, on two threads; the labels with the
    larger mean Polsby-Popper (the first run's on a tie).

    Why two: a cool run keeps what the balancing left and straightens it locally, which
    is what wins where the balance wall leaves little room (Jinshan k = 50 at 2 %: 0.239
    against 0.227 hot); a hotter, longer one reshapes whole grids, which wins where the
    wall leaves room (Jinshan k = 50 at METIS's 81 %: 0.503 -> 0.587; the sample cells
    k = 8 at 2 %: 0.387 -> 0.431; 30,000 cells at k = 8 / 50 at 2 %: 0.381 / 0.291 ->
    0.433 / 0.311). The kernel releases the GIL, so on two cores the pair takes the time
    of the longer run (30,000 cells: 2-4 s more than the cool run alone).
    """
    scale = 1.0 / np.sqrt(g.n / k)
    wc = np.ascontiguousarray(w)
    trials = [labels.copy() for _ in COMPACT_RUNS]
    seeds = [int(rng.integers(2**31)) for _ in COMPACT_RUNS]

    def run(i: int) -> None:
        per_unit, t0, most = COMPACT_RUNS[i]
        compact(g.indptr, g.indices, g.length, wc, g.area, g.perimeter, trials[i], k, tol,
                locked, int(min(most, per_unit * g.n)), t0 * scale,
                COMPACT_T1 * scale, seeds[i])  # fmt: skip

    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(run, range(len(COMPACT_RUNS))))
    means = [score(g, t, {}, k).pp_mean for t in trials]
    return trials[int(np.argmax(means))]


def _anneal_passes(g: UnitGraph, w: np.ndarray, k: int, start: np.ndarray, key, allow: np.ndarray,
                   band: float | np.ndarray, tol: np.ndarray, locked: np.ndarray, max_sweeps: int,
                   rng: np.random.Generator) -> np.ndarray:
    """The passes of ``ANNEAL_PASSES``, each from ``start`` and polished by the greedy;
    the labels least over the allowance are kept, and a pass is only looked at while
    the best so far misses the tolerance.

    Why two kinds of bands: aiming every weight at the tolerance is what wins where a
    weight can reach it (30,000 cells at k = 50: both within 2 %); where one weight has
    units heavier than the tolerance (the sample district's 500 m cells at k = 50: one
    cell holds 41 % of a grid's enterprises), aiming it at 1.5 % anyway fights the
    other weights, and the pass that leaves it room within its allowance brings the
    area in (grids beyond their allowance: 34 of 50 with the two tolerance passes, 5
    with this one and :func:`_tighten`).

    The first pass runs on one thread, the others on a second one after the other (the
    kernel releases the GIL: on two cores they take the time of the longest thread).
    The labels are those of running them one by one: each pass's seed and greedy order
    are drawn in the same order from a copy of ``rng``, and ``rng`` itself is advanced
    past a pass only when that pass is looked at; passes not needed are stopped
    (``stop``) and dropped.
    """
    plans = []
    probe = copy.deepcopy(rng)
    for t0, budget, most, aim in ANNEAL_PASSES:
        iters = int(min(most, budget * ANNEAL_ITERS_PER_UNIT * g.n))
        plans.append((t0, iters, aim, int(probe.integers(2**31)), probe.permutation(g.n).astype(np.int64)))
    trials = [start.copy() for _ in plans]
    stop = np.zeros(1, dtype=np.int64)
    wc = np.ascontiguousarray(w)
    aims = {"tolerance": np.asarray(tol, dtype=float), "allowance": np.asarray(allow, dtype=float)}
    nowall, nohard = np.full((k, w.shape[1]), np.inf), np.full(w.shape[1], np.inf)

    def run(i: int) -> None:
        t0, iters, aim, seed, _ = plans[i]
        anneal(g.indptr, g.indices, g.length, wc, g.perimeter, trials[i], k, 0.75 * aims[aim], locked,
               iters, t0, 1e-6, ANNEAL_LAM, seed, stop, tol, nowall, nohard, 0.0)  # fmt: skip

    done = [threading.Event() for _ in plans]

    def chain(passes) -> None:
        for i in passes:
            try:
                if not stop[0]:
                    run(i)
            finally:
                done[i].set()

    best = start
    with ThreadPoolExecutor(max_workers=2) as pool:
        threads = [pool.submit(chain, [0]), pool.submit(chain, range(1, len(plans)))]
        for i in range(len(plans)):
            if key[1] <= 1.0:
                stop[0] = 1  # the passes left are not needed
                break
            done[i].wait()
            _, _, aim, seed, order = plans[i]
            assert seed == int(rng.integers(2**31))
            assert np.array_equal(order, rng.permutation(g.n).astype(np.int64))
            refine(g, w, trials[i], k, 0.5 * aims[aim] if aim == "allowance" else band, locked, order,
                   max_sweeps)  # fmt: skip
            trial_key = _excess_key(w, trials[i], k, allow, tol)
            if trial_key < key:
                best, key = trials[i], trial_key
        for t in threads:
            t.result()  # a pass that failed raises here
    return best


def _tighten(g: UnitGraph, w: np.ndarray, k: int, labels: np.ndarray, allow: np.ndarray,
             tol: np.ndarray, locked: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Annealing rounds (``ANNEAL_TIGHTEN``) from the best labels while they miss the
    tolerance, aiming every weight at it but any excess over the allowance first
    (``ANNEAL_TIGHTEN_HARD``), each behind a wall: no grid's weight may go
    further from its mean than its allowance, or than it is at the round's start where
    it is already beyond. A round is kept when it lowers the excess key, and the next
    one is walled at what it reached (a ratchet); the first that does not ends them.

    Why: the allowance pass stops pushing a weight once it is inside its allowance, so
    the grids it leaves are looser than they need be (with every pass aiming at the
    allowance, the sample villages at k = 12 end at 11.7 % / 7.3 % where 5.7 % / 3.6 %
    can be had after one round); the wall keeps what each round won, and the rounds
    after the first bring in grids the first could only hold, and weighing the excess
    over the allowance first keeps the rounds on what the allowance asks (sample cells
    k = 50: grids beyond their allowance 5 after one round aiming at the tolerance alone,
    1 after four, none with the allowance first).
    """
    key = _excess_key(w, labels, k, allow, tol)
    t0, budget, most, rounds = ANNEAL_TIGHTEN
    wc = np.ascontiguousarray(w)
    aim = np.ascontiguousarray(0.75 * tol)
    iters = int(min(most, budget * ANNEAL_ITERS_PER_UNIT * g.n))
    for _ in range(rounds):
        if key[1] <= 1.0:
            break
        trial = labels.copy()
        tallies = np.zeros((k, w.shape[1]))
        np.add.at(tallies, trial, w)
        wall = np.ascontiguousarray(np.maximum(np.abs(tallies - 1.0), allow[None, :]))
        anneal(g.indptr, g.indices, g.length, wc, g.perimeter, trial, k, aim, locked, iters, t0, 1e-6,
               ANNEAL_LAM, int(rng.integers(2**31)), np.zeros(1, dtype=np.int64), tol, wall,
               np.asarray(allow, dtype=float), ANNEAL_TIGHTEN_HARD)  # fmt: skip
        trial_key = _excess_key(w, trial, k, allow, tol)
        if not trial_key < key:
            break
        labels, key = trial, trial_key
    return labels


def _barrier_lines(barriers, crs, weight: float) -> np.ndarray | None:
    """The barrier lines in the units' projected CRS (None without any)."""
    if barriers is None or len(barriers) == 0:
        return None
    if not (0.0 <= weight < 1.0):
        raise InvalidInput(
            f"barrier_weight must be at least 0 and below 1, got {weight}",
            f"barrier_weight 必须不小于 0 且小于 1，收到 {weight}",
        )
    if not isinstance(barriers, gpd.GeoSeries | gpd.GeoDataFrame) or barriers.crs is None:
        raise InvalidInput(
            "Barriers must be a GeoSeries or GeoDataFrame of lines with a CRS",
            "道路河流（barriers）必须为带坐标系的线 GeoSeries 或 GeoDataFrame",
        )
    return barriers.to_crs(crs).geometry.to_numpy()


def _crowded(g: UnitGraph, w: np.ndarray, k: int, tol: np.ndarray, refuse: bool,
             names: list[str], rows: np.ndarray, row_names: list[str],
             where: str, cols: list[int]) -> list[Crowded]:
    """Units of one group (``rows``: their row positions) that no grid can hold with
    every weight within the tolerance (:mod:`gis.partition.feasibility`): refused with
    their names when ``refuse``, else returned (``unit`` as the row position, ``weight``
    and ``by`` as positions in all the weights: ``cols`` are those of ``w``'s columns)."""
    found = [dataclasses.replace(c, unit=int(rows[c.unit]))
             for c in crowded_units(g.indptr, g.indices, w, np.asarray(tol, dtype=float), k)]
    if found and refuse:
        problems = [
            Problem(*crowded_text(c, names, row_names[c.unit]), row=c.unit, field=names[c.weight])
            for c in found
        ]
        at, at_zh = (f" in {where}", f"（{where}）") if where else ("", "")
        # the tolerance below which it is ruled out is known with one tolerance for all
        needed = [c.tolerance_needed for c in found if c.tolerance_needed is not None]
        below, below_zh = ((f" (any tolerance below {100 * max(needed):.1f} % is ruled out)",
                            f"（容差低于 {100 * max(needed):.1f} % 均不可能）") if needed else ("", ""))
        raise InvalidInput(
            f"The tolerance cannot be met{at}: units sit in a cluster so dense that no grid "
            f"can hold them with its share of every weight{below}; lower k (larger grids take "
            "the cluster in), raise the tolerance, balance fewer weights, or ask for a "
            "best-effort partition",
            f"均衡容差无法满足{at_zh}：部分单元所在的聚集区过密，任何含它们的网格都无法同时"
            f"达到各项权重的均值{below_zh}；请减少网格数（更大的网格"
            "能容纳聚集区）、放宽容差、减少同时均衡的权重，或改为尽力划分",
            problems,
        )
    return [dataclasses.replace(c, weight=cols[c.weight], by=cols[c.by]) for c in found]


def allowance(w: np.ndarray, tol) -> np.ndarray:
    """Per weight: the tolerance (a number, or one per weight), or the heaviest unit's
    share where one alone is heavier (``w`` normalised to a mean of 1 per grid): the
    issue's rule for indivisible units."""
    return np.maximum(tol, w.max(axis=0))


def _excess_key(w: np.ndarray, labels: np.ndarray, k: int, allow: np.ndarray, tol: np.ndarray):
    """(worst excess of any weight of any grid over its allowance, worst deviation as a
    multiple of its weight's tolerance ``tol``, the excesses of all grids summed):
    lower is better.

    Why the sum: where one grid cannot be mended (30,000 cells at k = 200: a dense core
    cell's grid stays 90 % short of area) the first two tie, and the annealed labels,
    with 182 grids outside their allowance instead of 188 and the summed excess 19
    instead of 50, were thrown away for the greedy's.
    """
    tallies = np.zeros((k, w.shape[1]))
    np.add.at(tallies, labels, w)
    dev = np.abs(tallies - 1.0)
    excess = np.maximum(dev - allow, 0.0)
    return float(excess.max()), float((dev / tol).max()), float(excess.sum())


def partition(
    units: gpd.GeoDataFrame,
    k: int,
    weights: Mapping[str, float] | Sequence[str] | str,
    *,
    seed: int = 0,
    tolerance: float | Mapping[str, float] = 0.02,
    parent_col: str | None = None,
    k_per_parent: Mapping | None = None,
    locked_col: str | None = None,
    seeds: Sequence | None = None,
    band: float | None = None,
    islands: str = "attach",
    check_tolerance: bool = True,
    max_sweeps: int = 300,
    restarts: int = 3,
    progress: Callable[[float], None] | None = None,
    barriers: gpd.GeoSeries | gpd.GeoDataFrame | None = None,
    barrier_weight: float = 0.5,
    barrier_near: float = 1.0,
    tries: int = 1,
) -> PartitionResult:
    """Partition ``units`` into k contiguous grids balanced on every weight.

    Parameters
    ----------
    units : GeoDataFrame of polygons (any CRS; areas are computed in metres) with one
        numeric column per weight. The name ``area`` means the unit's area in m^2
        unless the frame has such a column.
    k : number of grids (in total; split over parents with ``parent_col``).
    weights : names of the weight columns to balance, or a mapping name -> importance
        (the importances blend the weights for the initial solution; every weight is
        balanced within ``tolerance`` all the same).
    seed : random seed; the same input and seed give the same labels.
    tolerance : allowed max |W - mean| / mean for each weight (0.02 = 2 %), or a mapping
        weight -> its own tolerance naming every balanced weight (``{"enterprises":
        0.02, "area": 0.1}``).
    parent_col : column with the parent unit (town, village code); grids never cross it.
    k_per_parent : mapping parent -> k; by default k is allotted by weight.
    locked_col : column with a grid key for units that must be in the same grid (NaN =
        free); locked units are never moved.
    seeds : row labels of units to grow grids from (one grid each; they stay in it).
    band : inner balance band the greedy keeps (default: half of each weight's tolerance).
    islands : ``"attach"`` joins parts of the area by the islands rule and says so in
        ``notes``; ``"refuse"`` refuses a non-contiguous area.
    check_tolerance : refuse when one unit alone is heavier than (1 + tolerance) x mean,
        or sits in a cluster so dense that no grid can hold it with every weight within
        the tolerance (:mod:`gis.partition.feasibility`); when False (best effort) the
        partition is made all the same, such clusters told in ``notes`` and ``crowded``.
    progress : called with the fraction done (0-1), after each split of the initial
        solution and after each parent; for progress bars and jobs.
    barriers : roads and rivers (lines with a CRS) to cut along where the units allow:
        boundary within ``barrier_near`` m of them counts ``1 - barrier_weight`` of its
        length in every compactness judgement (:func:`gis.partition.graph.along_lines`),
        so grids prefer them as borders; scores stay on real lengths.
    tries : while the result leaves a grid outside its allowance (the tolerance, or
        the heaviest unit where one alone is heavier), solve again from the next seed
        (``seed + 1``, ...), up to this many solves in all; the labels least outside
        (then the roundest) are kept and ``seed`` in the result says whose they are.
        Why: on strongly clustered weights at k >= 50 the outcome swings with the seed
        (Jinshan cells at k = 50: 2-8 grids outside over seeds 0-8), and a planner
        would otherwise loop over seeds by hand.

    Why: planners need grids they can publish (contiguous, compact, nested) that start
    "from the same line" on every workload measure at once.
    """
    t0 = time.perf_counter()
    if not isinstance(units, gpd.GeoDataFrame) or len(units) == 0:
        raise InvalidInput("No units to partition", "没有可划分的单元")
    if islands not in ("attach", "refuse"):
        raise InvalidInput(
            f"islands must be 'attach' or 'refuse', got {islands!r}",
            f"islands 参数必须为 'attach' 或 'refuse'，收到 {islands!r}",
        )
    names, imp = _normalise_weights(weights)
    tol = tolerances(tolerance, names)
    check_tries(tries)
    check_k(k, len(units))
    band = tol * 0.5 if band is None else float(band)
    proj = project_units(units)
    bad = ~proj.geometry.geom_type.isin(["Polygon", "MultiPolygon"]) | proj.geometry.is_empty
    if bad.any():
        raise InvalidInput(
            "Units must be non-empty polygons",
            "单元必须为非空多边形",
            [Problem("not a polygon", "不是多边形", row=int(r)) for r in np.flatnonzero(bad)[:20]],
        )
    raw = _weight_arrays(proj, names)
    polys = proj.geometry.to_numpy()
    lines = _barrier_lines(barriers, proj.crs, barrier_weight)
    g = build_graph(polys)
    notes: list[tuple[str, str]] = []
    if g.parts > 1:
        sizes = ", ".join(str(s) for s in g.part_sizes[:10])
        if islands == "refuse":
            raise InvalidInput(
                f"The area is not contiguous: {g.parts} parts (units per part: {sizes}); "
                "pass islands='attach' to join each part to the nearest unit's grid",
                f"区域不连通：共 {g.parts} 块（各块单元数：{sizes}）；"
                "可用 islands='attach' 将每块并入最近单元所在网格",
            )
        notes.append(
            (
                f"The area has {g.parts} parts (units per part: {sizes}); each smaller part "
                "was joined to its nearest unit outside it and may share that unit's grid",
                f"区域共 {g.parts} 块（各块单元数：{sizes}）；每个较小的块已连接到其外最近的单元，"
                "可与该单元同属一个网格",
            )
        )
    n = len(proj)
    row_names = [str(x) for x in proj.index]

    # ---- groups (parents)
    if parent_col is not None:
        if parent_col not in proj.columns:
            raise InvalidInput(
                f"Parent column {parent_col!r} is missing", f"缺少上级单元字段 {parent_col!r}"
            )
        parent_vals = proj[parent_col].to_numpy()
        if pd.isna(parent_vals).any():
            raise InvalidInput(
                f"Parent column {parent_col!r} has empty values",
                f"上级单元字段 {parent_col!r} 有空值",
            )
        keys, group = np.unique(parent_vals.astype(str), return_inverse=True)
        group = group.ravel()
        first_val = {}
        for v in parent_vals:
            first_val.setdefault(str(v), v)
        parents = [first_val[kk] for kk in keys]
    else:
        group = np.zeros(n, dtype=np.int64)
        parents = [None]
    n_groups = len(parents)
    sizes = np.bincount(group, minlength=n_groups)
    if parent_col is None:
        ks = np.array([k])
    elif k_per_parent is not None:
        missing = [p for p in parents if p not in k_per_parent and str(p) not in k_per_parent]
        if missing:
            raise InvalidInput(
                f"k_per_parent has no k for {len(missing)} parent(s): {missing[:10]}",
                f"k_per_parent 缺少 {len(missing)} 个上级单元的网格数：{missing[:10]}",
            )
        ks = np.array(
            [int(k_per_parent.get(p, k_per_parent.get(str(p), 0))) for p in parents]
        )
        if ks.sum() != k:
            raise InvalidInput(
                f"k_per_parent sums to {ks.sum()}, not k = {k}",
                f"k_per_parent 之和为 {ks.sum()}，不等于 k = {k}",
            )
    else:
        blend = sum(imp[i] * raw[nm] / raw[nm].sum() for i, nm in enumerate(names))
        ks = allot_k(np.bincount(group, weights=blend, minlength=n_groups), k, sizes)
    for gi in range(n_groups):
        check_k(int(ks[gi]), int(sizes[gi]), str(parents[gi]) if parent_col else "")

    # ---- locks and seeds: pre-assigned region per unit, within its group
    lock_key = np.full(n, None, dtype=object)
    if locked_col is not None:
        if locked_col not in proj.columns:
            raise InvalidInput(
                f"Locked column {locked_col!r} is missing", f"缺少锁定字段 {locked_col!r}"
            )
        vals = proj[locked_col].to_numpy(dtype=object)
        has = ~pd.isna(vals)
        lock_key[has] = np.array(["L:" + str(v) for v in vals[has]], dtype=object)
    if seeds is not None:
        pos = proj.index.get_indexer(list(seeds))
        if (pos < 0).any():
            raise InvalidInput(
                "A seed is not a unit of the input", "种子单元不在输入单元中",
                [Problem(f"unknown seed {s!r}", f"未知种子 {s!r}") for s, p in
                 zip(seeds, pos, strict=True) if p < 0],
            )
        for i, p in enumerate(pos):
            if lock_key[p] is None:
                lock_key[p] = f"S:{i}"

    # ---- every group checked before any is solved (a refusal comes at once)
    heaviest: dict[str, float] = {nm: 0.0 for nm in names}
    crowded: list[Crowded] = []
    groups = []
    for gi in range(n_groups):
        idx = np.flatnonzero(group == gi)
        kg = int(ks[gi])
        where = str(parents[gi]) if parent_col else ""
        sub = {nm: raw[nm][idx] for nm in names}
        gg = g if n_groups == 1 else build_graph(polys[idx])
        if check_tolerance:
            check_indivisible(sub, kg, dict(zip(names, tol, strict=True)), [row_names[i] for i in idx],
                              where, rows=idx)  # fmt: skip
        for nm in names:
            mean = sub[nm].sum() / kg
            if mean > 0:
                heaviest[nm] = max(heaviest[nm], float(100.0 * sub[nm].max() / mean))
        w, held = _group_weights(sub, names, gg.area, kg)
        keep = [j for j, nm in enumerate(names) if nm in held]  # the area stand-ins prove nothing
        crowded += _crowded(gg, w[:, keep], kg, tol[keep], check_tolerance, [names[j] for j in keep],
                            idx, row_names, where, keep)  # fmt: skip
        pre, locked = _pre_assign(lock_key[idx], kg, gg, [row_names[i] for i in idx], where)
        groups.append((idx, kg, gg, w, pre, locked, held))

    costs = [gg if lines is None else along_lines(gg, polys[idx], lines, barrier_near, barrier_weight)
             for idx, _, gg, *_ in groups]
    best, tried = None, 0
    for t in range(tries):
        def try_progress(f: float, _t=t) -> None:
            if progress is not None:
                progress((_t + f) / tries)

        # try 0 draws from the plain seed's generator: tries=1 is the single solve
        rng = np.random.default_rng(seed + t)
        found_labels, found_parents, found_missed, (worst, total) = _solve_groups(
            groups, costs, parents, imp, rng, band, tol, max_sweeps, restarts, names, k, n,
            try_progress)  # fmt: skip
        tried += 1
        sc_t = (score(g, found_labels, raw, k) if n_groups == 1
                else _nested_score(g, found_labels, raw, group, ks))
        key = (worst, total, -sc_t.pp_mean)
        if best is None or key < best[0]:
            best = (key, t, sc_t, found_labels, found_parents, found_missed)
        if worst <= 1e-12:
            break  # every grid within its allowance: the seeds after it are not needed
    (kept_worst, _, _), best_try, sc, labels, parent_of_grid, missed = best
    if tries > 1:
        inside = kept_worst <= 1e-12
        notes.append((
            f"Tried {tried} seed(s) from {seed}; kept seed {seed + best_try}"
            + (" (every grid within its allowance)" if inside else " (the least outside the allowance)"),
            f"尝试了从 {seed} 起的 {tried} 个随机种子；采用种子 {seed + best_try}"
            + ("（各网格均在允许范围内）" if inside else "（超出允许范围最少）"),
        ))
    for c in crowded:
        en, zh = crowded_text(c, names, row_names[c.unit])
        notes.append((f"No partition can keep every weight within the tolerance: {en}",
                      f"任何划分都无法使各项权重都在容差以内：{zh}"))
    res = PartitionResult(
        labels, k, names, sc, g, proj.assign(**raw), parent_of_grid, heaviest, notes,
        time.perf_counter() - t0, dict(zip(names, tol.tolist(), strict=True)), missed, crowded,
        seed + best_try,
    )
    if not res.within_tolerance():
        worst = ", ".join(f"{nm} {v:.2f} %" for nm, v in res.max_dev_pct.items())
        res.notes.append(
            (
                f"Not every weight reached the tolerance ({worst})",
                f"并非所有权重都达到容差（{worst}）",
            )
        )
    return res


def _solve_groups(groups, costs, parents, imp, rng, band, tol, max_sweeps, restarts, names, k, n,
                  progress) -> tuple[np.ndarray, list, list[Shortfall], tuple[float, float]]:
    """One solve of every group (parent) from ``rng``: (labels, parent of each grid,
    shortfalls, (the largest excess of any grid over its allowance, the excesses
    summed))."""
    labels = np.empty(n, dtype=np.int64)
    parent_of_grid: list = []
    missed: list[Shortfall] = []
    worst, total = 0.0, 0.0
    offset = 0
    for gi, ((idx, kg, gg, w, pre, locked, held), cost) in enumerate(zip(groups, costs, strict=True)):
        def group_progress(f: float, _before=offset, _kg=kg) -> None:
            progress((_before + f * _kg) / k)

        local = _solve_group(
            cost, w, imp, kg, rng, pre, locked, band, tol, max_sweeps, restarts,
            group_progress,
        )
        group_progress(1.0)
        allow = allowance(w, tol)
        missed += [s.shifted(offset) for s in shortfalls(gg, local, w, kg, allow, tol, names)
                   if s.weight in held]
        ex = _excess_key(w, local, kg, allow, tol)
        worst, total = max(worst, ex[0]), total + ex[2]
        labels[idx] = local + offset
        parent_of_grid.extend([parents[gi]] * kg)
        offset += kg
    return labels, parent_of_grid, missed, (worst, total)


def _group_weights(sub: dict[str, np.ndarray], names: list[str], area: np.ndarray, kg: int
                   ) -> tuple[np.ndarray, set[str]]:
    """The weights of one group normalised to a mean of 1 per grid (n x m), and the
    names of those the group holds.

    A weight the group does not hold at all (a parent without enterprises) is balanced
    by any grids: every grid holds the mean, 0. Its column is the units' area instead,
    so those grids come out even in size rather than at random, and the solve never
    divides by its zero total. Its deviation is reported as 0 (:func:`_nested_score`).
    """
    cols, held = [], set()
    for nm in names:
        x = sub[nm]
        if x.sum() > 0:
            held.add(nm)
        else:
            x = area
        cols.append(x * kg / max(x.sum(), 1e-300))
    return np.column_stack(cols), held


def _nested_score(g, labels, raw, group, ks) -> Score:
    """Scores with each grid's deviation taken against its own parent's mean."""
    k = int(ks.sum())
    sc = score(g, labels, raw, k)
    grid_parent = np.repeat(np.arange(len(ks)), ks)
    for nm, w in raw.items():
        tot = np.bincount(group, weights=w, minlength=len(ks))
        mean = (tot / ks)[grid_parent]
        sums = np.bincount(labels, weights=w, minlength=k)
        with np.errstate(divide="ignore", invalid="ignore"):
            dev = np.where(mean > 0, np.abs(sums / mean - 1.0), 0.0)
        sc.max_dev_pct[nm] = float(dev.max() * 100.0)
    return sc


def _pre_assign(keys: np.ndarray, k: int, g: UnitGraph, names: list[str], where: str):
    """Region per unit from lock/seed keys (-1 = free) and the locked mask."""
    n = len(keys)
    pre = np.full(n, -1, dtype=np.int64)
    locked = np.zeros(n, dtype=np.bool_)
    has = np.array([kk is not None for kk in keys], dtype=bool)
    if not has.any():
        return pre, locked
    uniq = sorted({kk for kk in keys[has]})
    if len(uniq) > k:
        raise InvalidInput(
            f"{len(uniq)} locked grids/seeds but only k = {k} grids{' in ' + where if where else ''}",
            f"锁定网格/种子数 {len(uniq)} 多于网格数 k = {k}",
        )
    rid = {kk: i for i, kk in enumerate(uniq)}
    pre[has] = [rid[kk] for kk in keys[has]]
    locked[has] = True
    for kk, r in rid.items():
        members = pre == r
        comp = parts_of(g, members)
        if comp[members].max() > 0:
            label = kk.split(":", 1)[1]
            raise InvalidInput(
                f"Locked units of grid {label!r} are not contiguous "
                f"({int(comp[members].max()) + 1} parts); lock connected units",
                f"网格 {label!r} 的锁定单元不连通（{int(comp[members].max()) + 1} 块）；请锁定相连的单元",
            )
    return pre, locked


class GridPartitioner:
    """Estimator-style wrapper: parameters in the constructor, ``solve(units)``, ``labels_``."""

    def __init__(self, k: int, weights, **params) -> None:
        self.k = k
        self.weights = weights
        self.params = params
        self.result_: PartitionResult | None = None
        self.labels_: np.ndarray | None = None

    def solve(self, units: gpd.GeoDataFrame) -> GridPartitioner:
        self.result_ = partition(units, self.k, self.weights, **self.params)
        self.labels_ = self.result_.labels_
        return self
