"""Balanced grid partition: contiguity, balance on several weights, nesting, locks, output."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely

from gis.errors import InvalidInput
from gis.partition import partition, rebalance
from gis.partition.constraints import noncontiguous_grids
from gis.partition.output import grids_frame
from gis.partition.units import aggregate_points, cells_frame
from gis.sample.outline import to_projected


@pytest.fixture(scope="module")
def cells(sample_district) -> gpd.GeoDataFrame:
    d = sample_district
    area = to_projected(d.outline, d.projected_crs)
    c = cells_frame(area, 900.0, d.projected_crs)
    c["enterprises"] = aggregate_points(c, d.enterprises)
    c["incidents"] = aggregate_points(c, d.incidents)
    return c


@pytest.fixture(scope="module")
def villages(sample_district) -> gpd.GeoDataFrame:
    d = sample_district
    v = d.admin_units[d.admin_units["level"] == 3].reset_index(drop=True)
    v = v.to_crs(d.projected_crs)
    v["enterprises"] = aggregate_points(v, d.enterprises)
    return v


@pytest.fixture(scope="module")
def two_weight_result(cells):
    return partition(cells, 6, ["enterprises", "area"], seed=1, tolerance=0.03)


def test_every_grid_is_contiguous_and_each_weight_within_tolerance(two_weight_result):
    r = two_weight_result
    g = r.graph
    assert noncontiguous_grids(g.indptr, g.indices, r.labels_, r.k) == 0
    assert r.score.noncontiguous == 0
    assert set(r.max_dev_pct) == {"enterprises", "area"}
    assert all(v <= 3.0 for v in r.max_dev_pct.values()), r.max_dev_pct
    assert len(np.unique(r.labels_)) == 6


def test_a_tolerance_per_weight(cells, two_weight_result):
    """A tolerance per weight: the same numbers as one tolerance give the same labels;
    a looser area lets the grids round out while the enterprises stay within theirs;
    a mapping that misses a balanced weight, names another, or holds a value outside
    (0, 1) is refused naming that weight."""
    names = ["enterprises", "area"]
    same = partition(cells, 6, names, seed=1, tolerance={"enterprises": 0.03, "area": 0.03})
    assert np.array_equal(same.labels_, two_weight_result.labels_)
    assert same.tolerance == {"enterprises": 0.03, "area": 0.03}
    loose = partition(cells, 6, names, seed=1, tolerance={"enterprises": 0.03, "area": 0.2})
    assert loose.within_tolerance() and loose.score.noncontiguous == 0
    assert loose.max_dev_pct["enterprises"] <= 3.0 and loose.max_dev_pct["area"] <= 20.0
    assert loose.max_dev_pct["area"] > 3.0  # the room was used ...
    assert loose.score.pp_mean > two_weight_result.score.pp_mean  # ... for rounder grids
    for bad, field in (({"enterprises": 0.03}, "area"),
                       ({"enterprises": 0.03, "area": 0.03, "incidents": 0.1}, "incidents"),
                       ({"enterprises": 0.03, "area": 1.5}, "area"),
                       ({"enterprises": "x", "area": 0.1}, "enterprises")):
        with pytest.raises(InvalidInput) as err:
            partition(cells, 6, names, seed=1, tolerance=bad)
        assert err.value.problems[0].field == field, (bad, err.value)
        assert field in err.value.message and "容差" in err.value.message_zh


def test_same_seed_same_labels(cells):
    a = partition(cells, 5, ["enterprises"], seed=7)
    b = partition(cells, 5, ["enterprises"], seed=7)
    assert np.array_equal(a.labels_, b.labels_)


def test_tries_solve_again_from_the_next_seed_while_a_grid_is_outside(cells):
    """Seed 4 leaves grids outside their allowance at k = 24; with tries the next seed
    is solved and kept, the result names it, its labels are that seed's own, and the
    seeds after a solve within the allowance are not tried. A count below 1 is refused."""
    names = ["enterprises", "area"]
    alone = partition(cells, 24, names, seed=4, check_tolerance=False)
    assert alone.shortfalls and alone.seed == 4
    best = partition(cells, 24, names, seed=4, check_tolerance=False, tries=3)
    assert best.seed > 4 and not best.shortfalls
    again = partition(cells, 24, names, seed=best.seed, check_tolerance=False)
    assert np.array_equal(best.labels_, again.labels_)
    tried = best.seed - 4 + 1
    assert any(f"Tried {tried} seed(s) from 4; kept seed {best.seed}" in en for en, _ in best.notes)
    one = partition(cells, 24, names, seed=4, check_tolerance=False, tries=1)
    assert np.array_equal(one.labels_, alone.labels_)
    for bad in (0, -1, 1.5, True):
        with pytest.raises(InvalidInput, match="tries"):
            partition(cells, 24, names, tries=bad)


def test_progress_rises_to_one_and_changes_nothing(cells):
    from gis.partition.solver import partition

    seen: list[float] = []
    a = partition(cells, 6, ["enterprises", "area"], seed=3, progress=seen.append)
    b = partition(cells, 6, ["enterprises", "area"], seed=3)
    assert len(seen) >= 5 and seen == sorted(seen) and seen[-1] == 1.0 and 0 < seen[0] < 1
    assert (a.labels_ == b.labels_).all()


def test_nested_grids_never_cross_their_parent(villages):
    r = partition(villages, 30, ["enterprises"], parent_col="parent_code", tolerance=0.5,
                  check_tolerance=False)
    assert r.score.noncontiguous == 0
    parent_of_unit = villages["parent_code"].to_numpy()
    for d in range(r.k):
        assert len(set(parent_of_unit[r.labels_ == d])) == 1
    assert len(r.parent_of_grid) == 30


def test_k_per_parent_is_honoured(villages):
    parents = sorted(villages["parent_code"].unique())
    kp = {p: 2 for p in parents}
    r = partition(villages, 2 * len(parents), ["area"], parent_col="parent_code",
                  k_per_parent=kp, tolerance=0.5, check_tolerance=False)
    got = {p: sum(1 for q in r.parent_of_grid if q == p) for p in parents}
    assert got == kp


def test_locked_units_stay_together_in_their_grid(cells):
    from gis.partition.graph import build_graph

    g = build_graph(cells.geometry.values)
    rows = [100, *g.indices[g.indptr[100] : g.indptr[100] + 2].tolist()]  # a unit + 2 neighbours
    locked = cells.copy()
    locked["lock"] = None
    locked.loc[locked.index[rows], "lock"] = "A"
    r = partition(locked, 5, ["enterprises"], locked_col="lock", seed=3)
    assert len(set(r.labels_[rows])) == 1


def test_output_is_a_valid_coverage_equal_to_the_area_with_codes_extending_parent(villages):
    r = partition(villages, 22, ["enterprises"], parent_col="parent_code", tolerance=0.5,
                  check_tolerance=False)
    grids = grids_frame(r)
    polys = grids.geometry.values
    assert shapely.coverage_is_valid(polys)
    area = shapely.coverage_union_all(villages.geometry.values)
    union = shapely.coverage_union_all(polys)
    assert abs(union.area - area.area) < 1e-6 * area.area
    assert shapely.symmetric_difference(union, area).area < 1e-6 * area.area
    for code, parent in zip(grids["code"], grids["parent_code"], strict=True):
        assert code.startswith(parent) and len(code) == len(parent) + 3
    assert {"enterprises", "enterprises_dev_pct", "area_km2", "polsby_popper", "neighbours"} <= set(
        grids.columns
    )


# ------------------------------------------------------------------ refusals


def test_k_larger_than_units_is_refused(villages):
    with pytest.raises(InvalidInput, match="larger than the number of units") as e:
        partition(villages, len(villages) + 1, ["area"])
    assert "大于单元数" in str(e.value)


def test_missing_weight_column_is_refused(villages):
    with pytest.raises(InvalidInput) as e:
        partition(villages, 4, ["workload"])
    assert "'workload' is missing" in str(e.value) and "缺少权重字段" in str(e.value)


def test_negative_weight_is_refused(villages):
    bad = villages.copy()
    bad.loc[bad.index[5], "enterprises"] = -1
    with pytest.raises(InvalidInput) as e:
        partition(bad, 4, ["enterprises"])
    assert "negative" in str(e.value) and "负数" in str(e.value)
    assert e.value.problems[0].row == 5


def _two_islands() -> gpd.GeoDataFrame:
    a = [shapely.box(x, 0, x + 100, 100) for x in range(0, 500, 100)]
    b = [shapely.box(x, 1000, x + 100, 1100) for x in range(0, 300, 100)]
    return gpd.GeoDataFrame({"w": np.ones(8)}, geometry=a + b, crs="EPSG:4549")


def test_non_contiguous_area_is_refused_with_its_parts():
    with pytest.raises(InvalidInput) as e:
        partition(_two_islands(), 2, ["w"], islands="refuse")
    assert "2 parts" in str(e.value) and "5, 3" in str(e.value) and "不连通" in str(e.value)


def test_islands_are_attached_and_said_so():
    r = partition(_two_islands(), 2, ["w"], tolerance=0.3)
    assert r.score.noncontiguous == 0
    assert r.graph.parts == 2 and "2 parts" in r.notes[0][0]


def test_tolerance_impossible_names_the_heavy_unit():
    units = _two_islands()
    units.index = [f"u{i}" for i in range(8)]
    units.loc["u2", "w"] = 10.0
    with pytest.raises(InvalidInput) as e:
        partition(units, 2, ["w"], tolerance=0.02)
    assert "u2" in str(e.value) and "容差" in str(e.value)


# ------------------------------------------------------------------ rebalance


def test_rebalance_reaches_tolerance_moving_few_enterprises(cells):
    base = partition(cells, 6, ["enterprises"], seed=2, tolerance=0.02)
    plan = cells.assign(grid=base.labels_)
    # push 30 % of one grid's neighbour's enterprises into grid 0 by shifting its border
    from gis.partition.graph import build_graph

    g = build_graph(cells.geometry.values)
    lab = plan["grid"].to_numpy().copy()
    w = cells["enterprises"].to_numpy()
    mean = w.sum() / 6
    from gis.partition.constraints import can_leave

    stamp = np.zeros(len(lab), dtype=np.int64)
    queue = np.empty(len(lab), dtype=np.int64)
    tick = 0
    for _ in range(5000):
        if np.bincount(lab, weights=w, minlength=6)[0] >= 1.3 * mean:
            break
        src = np.repeat(np.arange(len(lab)), np.diff(g.indptr))
        cand = np.flatnonzero((lab[g.indices] == 0) & (lab[src] != 0))
        v = int(src[cand[0]])
        tick += 1
        if can_leave(v, lab, g.indptr, g.indices, stamp, queue, tick):
            lab[v] = 0
        else:
            lab[v] = lab[v]  # keep, try the next
            cand = cand[1:]
    plan["grid"] = lab
    r = rebalance(plan, "grid", ["enterprises"], tolerance=0.05)
    assert r.max_dev_pct_before["enterprises"] > 20
    assert r.max_dev_pct_after["enterprises"] <= 5.0
    assert r.enterprises_moved <= 1.5 * r.lower_bound + 1e-9
    assert len(r.moves) > 0 and set(r.moves.columns) >= {"unit", "from_grid", "to_grid"}
    # a tolerance per weight: the same number gives the same moves; the area held to its own
    same = rebalance(plan, "grid", ["enterprises"], tolerance={"enterprises": 0.05})
    assert same.moves.equals(r.moves)
    both = rebalance(plan, "grid", ["enterprises", "area"], tolerance={"enterprises": 0.05, "area": 0.25})
    assert both.max_dev_pct_after["enterprises"] <= 5.0 and both.max_dev_pct_after["area"] <= 25.0, both
    assert both.max_dev_pct_after["area"] > 5.0  # not held to the enterprises' 5 %
    with pytest.raises(InvalidInput) as err:
        rebalance(plan, "grid", ["enterprises", "area"], tolerance={"enterprises": 0.05})
    assert err.value.problems[0].field == "area"


# ------------------------------------------------------------------ seeding and moves


def _clustered_cells(seed: int = 0) -> gpd.GeoDataFrame:
    """60 x 40 square cells minus a bay, a cluster of enterprises near one edge."""
    rng = np.random.default_rng(seed)
    cells = [shapely.box(x, y, x + 100, y + 100) for y in range(0, 4000, 100)
             for x in range(0, 6000, 100)]
    bay = shapely.Polygon([(2000, 4000), (3000, 1500), (4000, 4000)])
    cells = [c for c in cells if not c.intersects(bay) or c.touches(bay)]
    xy = shapely.get_coordinates(shapely.centroid(np.array(cells)))
    pts = np.vstack([rng.normal((5200, 600), 600, (800, 2)), rng.uniform(0, 6000, (2800, 2))])
    ix = np.floor(pts / 100).astype(int)
    key = {(int(x // 100), int(y // 100)): i for i, (x, y) in enumerate(xy)}
    ent = np.zeros(len(cells))
    for a, b in ix:
        i = key.get((int(a), int(b)))
        if i is not None:
            ent[i] += 1
    return gpd.GeoDataFrame({"enterprises": ent}, geometry=cells, crs="EPSG:4549")


def test_clustered_enterprises_and_area_both_balanced_at_k8():
    """The Jinshan failure: straight cuts across a clustered layout left one grid 50 % off.

    (A cluster holding most of the enterprises at k = 8 is still out of reach; see the
    bench notes.)"""
    units = _clustered_cells()
    r = partition(units, 8, ["enterprises", "area"], seed=0, tolerance=0.02,
                  check_tolerance=False)
    assert r.score.noncontiguous == 0
    assert all(v <= 2.0 for v in r.max_dev_pct.values()), r.max_dev_pct


def test_sweep_prefixes_are_connected(cells):
    from gis.partition.graph import build_graph, parts_of
    from gis.partition.seeding import sweep_order

    g = build_graph(cells.geometry.values)
    for a in (0.3, 1.9):
        proj = g.centroid[:, 0] * np.cos(a) + g.centroid[:, 1] * np.sin(a)
        order = sweep_order(g.indptr, g.indices, proj)
        assert sorted(order.tolist()) == list(range(g.n))
        for cut in (g.n // 5, g.n // 2, 4 * g.n // 5):
            mask = np.zeros(g.n, dtype=bool)
            mask[order[:cut]] = True
            assert parts_of(g, mask).max() == 0


def test_sweep_covers_a_set_that_is_not_connected():
    """The front runs out at the end of the first part; the sweep goes on from the
    unreached unit of least projection."""
    from gis.partition.graph import build_graph
    from gis.partition.seeding import sweep_order

    boxes = [shapely.box(x, 0, x + 1, 1) for x in (0, 1, 2, 5, 6)]  # two parts
    g = build_graph(np.array(boxes))
    proj = -g.centroid[:, 0]  # starts at the east end, the 2-unit part
    order = sweep_order(g.indptr, g.indices, proj)
    assert order.tolist() == [4, 3, 2, 1, 0]


def test_cut_kernel_matches_the_plain_numpy_cut(cells):
    """The compiled cut search picks, for every direction and order, the prefix the
    plain numpy formulation picks, with the same deviation (the bisection's labels
    must not change with the way they are computed)."""
    from gis.partition.graph import build_graph
    from gis.partition.seeding import _cut_orders, sweep_order

    g = build_graph(cells.geometry.values)
    w = np.column_stack([cells["enterprises"].to_numpy(float), g.area])
    kk = 5
    wn = w * kk / w.sum(axis=0)
    tot, frac = wn.sum(axis=0), 2 / kk
    lo, hi = 1, g.n - 3
    angles = np.array([0.1, 1.0, 2.5])
    cosa, sina = np.cos(angles), np.sin(angles)
    orders = np.empty((9, g.n), dtype=np.int64)
    devs, cuts = np.empty(9), np.empty(9, dtype=np.int64)
    cx, cy = g.centroid[:, 0].copy(), g.centroid[:, 1].copy()
    _cut_orders(g.indptr, g.indices, cx, cy, cosa, sina, wn, tot, frac, lo, hi, orders,
                devs, cuts)
    for i in range(3):
        proj = cx * cosa[i] + cy * sina[i]
        assert np.array_equal(orders[3 * i], np.argsort(proj, kind="stable"))
        assert np.array_equal(orders[3 * i + 1], sweep_order(g.indptr, g.indices, proj))
        assert np.array_equal(orders[3 * i + 2], sweep_order(g.indptr, g.indices, -proj)[::-1])
    for j in range(9):
        cum = np.cumsum(wn[orders[j]], axis=0) / tot
        dev = np.maximum(np.abs(cum / frac - 1.0), np.abs((1.0 - cum) / (1.0 - frac) - 1.0))
        dev = dev.max(axis=1)
        cut = lo + int(np.argmin(dev[lo:hi])) + 1
        assert cuts[j] == cut and devs[j] == dev[cut - 1]


def test_bisection_on_threads_gives_the_same_labels(cells, monkeypatch):
    """Cut search and the polishing of candidate cuts run on two threads for large
    sets; the labels are those of the one-thread run."""
    import gis.partition.seeding as seeding
    from gis.partition.graph import build_graph

    g = build_graph(cells.geometry.values)
    w = np.column_stack([cells["enterprises"].to_numpy(float), g.area])
    w = w * 6 / w.sum(axis=0)
    runs = []
    for threshold in (10**9, 50):
        monkeypatch.setattr(seeding, "PARALLEL_MIN_UNITS", threshold)
        runs.append(seeding.bisection_labels(g, w, 6, np.random.default_rng(3)))
    assert np.array_equal(runs[0], runs[1])
    assert len(np.unique(runs[0])) == 6


def test_weight_ladder_crosses_an_empty_border():
    """Two sides split in the middle, all weight at the far east end: single moves of
    empty units are neutral, so plain refinement stalls; the diffused ladder does not."""
    from gis.partition.graph import build_graph
    from gis.partition.moves import balance, refine

    cells = [shapely.box(x, y, x + 1, y + 1) for y in range(10) for x in range(40)]
    g = build_graph(np.array(cells))
    x = g.centroid[:, 0]
    w = np.column_stack([np.where(x > 35, 1.0, 0.0), np.ones(g.n)])
    w = w * 2 / w.sum(axis=0)
    start = (x > 20).astype(np.int64)
    order = np.arange(g.n, dtype=np.int64)
    locked = np.zeros(g.n, dtype=np.bool_)
    plain = start.copy()
    assert refine(g, w, plain, 2, 0.02, locked, order, 100) > 0.5
    lab = start.copy()
    dev = balance(g, w, lab, 2, 0.02, locked, order, 100)
    assert noncontiguous_grids(g.indptr, g.indices, lab, 2) == 0
    tallies = np.zeros((2, 2))
    np.add.at(tallies, lab, w)
    assert np.abs(tallies - 1).max() <= 0.05, tallies
    assert dev <= 0.05


def test_compaction_straightens_a_ragged_border_without_losing_balance():
    """A 40 x 20 field split by a zig-zag border: the compaction phase must raise the
    Polsby-Popper of both grids, keep both connected and every weight within the
    tolerance, and never take a grid that starts outside the tolerance further out."""
    from gis.partition.anneal import compact
    from gis.partition.graph import build_graph
    from gis.partition.objective import score

    cells = [shapely.box(x, y, x + 1, y + 1) for y in range(20) for x in range(40)]
    g = build_graph(np.array(cells))
    x, y = g.centroid[:, 0], g.centroid[:, 1]
    ragged = (x > 20 + 6 * ((y.astype(int) // 2) % 2) - 3).astype(np.int64)  # teeth of 3
    locked = np.zeros(g.n, dtype=np.bool_)
    corners = ((x < 4) | (x > 36)) & (y < 4)  # weight in two corners: the start is balanced
    for heavy, tol in ((np.where(corners, 5.0, 1.0), 0.02),
                       (np.where((x > 30) & (y < 4), 5.0, 1.0), 0.02)):  # both 16.7 % off
        raw = {"w": heavy, "area": np.ones(g.n)}
        w = np.column_stack([v * 2 / v.sum() for v in raw.values()])
        lab = ragged.copy()
        before = score(g, lab, raw, 2)
        start = np.abs(np.array([w[lab == d].sum(axis=0) for d in range(2)]) - 1.0)
        compact(g.indptr, g.indices, g.length, w, g.area, g.perimeter, lab, 2, tol, locked,
                400 * g.n, 0.08 / np.sqrt(g.n / 2), 0.0008 / np.sqrt(g.n / 2), 3)
        after = score(g, lab, raw, 2)
        assert after.noncontiguous == 0
        end = np.abs(np.array([w[lab == d].sum(axis=0) for d in range(2)]) - 1.0)
        assert (end <= np.maximum(start, tol) + 1e-12).all(), (start, end)
        assert after.pp_min > before.pp_min * 1.3, (before.pp, after.pp)


# ------------------------------------------------------------------ why a plan missed


def _row_graph(n: int):
    """n unit squares in a row, as a unit graph."""
    from gis.partition.graph import UnitGraph

    nb = [[x for x in (v - 1, v + 1) if 0 <= x < n] for v in range(n)]
    indptr = np.cumsum([0] + [len(x) for x in nb]).astype(np.int64)
    indices = np.array([x for row in nb for x in row], dtype=np.int64)
    return UnitGraph(n, indptr, indices, np.ones(len(indices)), np.ones(n), np.full(n, 4.0),
                     np.column_stack([np.arange(n) + 0.5, np.full(n, 0.5)]))


def test_shortfalls_tell_a_regional_shortage_from_a_local_one():
    from gis.partition.diagnose import shortfall_notes, shortfalls

    g = _row_graph(30)
    labels = np.repeat(np.arange(6), 5)  # six grids of five units in a row

    def run(ent_per_grid):
        w = np.column_stack([np.repeat(np.array(ent_per_grid) / 5.0, 5), np.full(30, 0.2)])
        allow = np.maximum(0.02, w.max(axis=0))
        return shortfalls(g, labels, w, 6, allow, np.full(2, 0.02), ["enterprises", "area"])

    # the west is short and the east is over, beyond the heaviest unit (30 %)
    found = run([0.5, 0.6, 0.9, 1.0, 1.5, 1.5])
    assert [(s.grids, s.weight, s.regional, s.others) for s in found] == [
        ([0, 1], "enterprises", True, 2)]
    assert found[0].block_dev_pct == pytest.approx(-45.0)
    assert found[0].ring == 1 and found[0].ring_dev_pct == pytest.approx(-100 / 3)
    assert found[0].grid_dev_pct == pytest.approx((-50.0, -40.0))
    notes = shortfall_notes(found, [f"31011600{i}" for i in range(6)], 6)
    assert "4 of 6 grids" in notes[0][0] and "6 个网格中有 4 个" in notes[0][1]  # most miss
    en, zh = notes[1]
    assert en.startswith("Grids 310116000, 310116001") and "partition it on its own" in en
    assert "310116000, 310116001" in zh and "单独划分" in zh and "少 45.0%" in zh
    # one grid short beside one over: together they hold their share (a local miss)
    local = run([0.5, 1.5, 1.0, 1.0, 1.0, 1.0])
    assert [(s.grids, s.regional, s.others) for s in local] == [([0], False, 1)]
    en, zh = shortfall_notes(local, [str(i) for i in range(6)], 6)[0]
    assert "another seed" in en and "随机种子" in zh
    assert run([1.0] * 6) == []


def test_a_lobe_without_enterprises_behind_a_neck_is_reported_as_regional():
    """A 6 x 6 block of cells without enterprises joined by one cell to a 12 x 12 block
    with them: one grid can reach through the neck for enterprises, two cannot, so a
    grid of the west stays short whatever the moves, and the result says where and why."""
    from gis.partition.diagnose import shortfall_notes

    west = [shapely.box(x, y, x + 100, y + 100) for x in range(0, 600, 100) for y in range(0, 600, 100)]
    neck = [shapely.box(600, 200, 700, 300)]
    east = [shapely.box(x, y, x + 100, y + 100)
            for x in range(700, 1900, 100) for y in range(-300, 900, 100)]
    ent = np.r_[np.zeros(37), np.ones(144)]
    units = gpd.GeoDataFrame({"enterprises": ent}, geometry=west + neck + east, crs="EPSG:4549")
    r = partition(units, 8, ["enterprises", "area"], seed=0, check_tolerance=False)
    assert r.score.noncontiguous == 0 and not r.within_tolerance()
    short = {s.weight: s for s in r.shortfalls}
    ent_short = short["enterprises"]
    west_grids = set(r.labels_[:36])
    assert set(ent_short.grids) <= west_grids and ent_short.regional
    assert ent_short.block_dev_pct < -50.0 and ent_short.ring_dev_pct < -2.0
    notes = shortfall_notes(r.shortfalls, [f"G{d}" for d in range(8)], 8)
    assert any("too small a share of enterprises" in en and "企业数" in zh and "单独划分" in zh
               for en, zh in notes)


def test_excess_key_prefers_fewer_grids_outside_when_the_worst_is_stuck():
    """Where one grid cannot be mended, labels that bring the others in must win: the
    key's last element sums every grid's excess over its allowance (the first two, the
    worst grid's excess and deviation over its tolerance, tie)."""
    from gis.partition.solver import _excess_key

    w = np.array([[0.5], [0.5], [0.5], [0.5], [0.5], [0.4], [0.4], [0.6]])  # grid mean 1
    allow = np.array([0.02])
    good = np.array([0, 1, 1, 2, 2, 3, 3, 3])  # sums 0.5 (stuck), 1.0, 1.0, 1.4
    bad = np.array([0, 1, 1, 2, 3, 1, 3, 2])  # sums 0.5 (stuck), 1.4, 1.1, 0.9
    kg, kb = _excess_key(w, good, 4, allow, allow), _excess_key(w, bad, 4, allow, allow)
    assert kg[:2] == pytest.approx((0.48, 25.0)) and kb[:2] == pytest.approx((0.48, 25.0))
    assert kg[2] == pytest.approx(0.48 + 0.38) and kb[2] == pytest.approx(0.48 + 0.38 + 0.08 + 0.08)
    assert kg < kb


def test_k_for_workload_rounds_to_the_nearest_and_refuses_what_it_cannot_give() -> None:
    from gis.partition.solver import k_for_workload

    assert k_for_workload(674.0, 150.0, 20) == 4  # 4.49
    assert k_for_workload(675.0, 150.0, 20) == 5  # 4.5: half up
    assert k_for_workload(40.0, 150.0, 20) == 1  # never below one grid
    for total, per_grid in ((0.0, 10.0), (100.0, 0.0), (100.0, float("nan"))):
        with pytest.raises(InvalidInput) as err:
            k_for_workload(total, per_grid, 20, "enterprises", "企业数")
        assert err.value.problems[0].field == "grid_workload"
    with pytest.raises(InvalidInput, match="k = 21 grids"):
        k_for_workload(210.0, 10.0, 20)


def test_noncontiguous_grids_counts_grids_in_pieces_and_empty_grids():
    """The count every bench row and plan score reports: a grid in two pieces, an empty
    grid, and a plan of connected grids (units in a row)."""
    from gis.partition.constraints import label_parts, noncontiguous_grids
    from gis.partition.graph import build_graph

    g = build_graph(np.array([shapely.box(x, 0, x + 1, 1) for x in range(6)]))

    def count(labels, k):
        return noncontiguous_grids(g.indptr, g.indices, np.array(labels, dtype=np.int64), k)

    assert count([0, 0, 1, 1, 1, 1], 2) == 0
    assert count([0, 0, 1, 1, 0, 0], 2) == 1
    assert count([0, 1, 0, 1, 2, 2], 3) == 2
    assert count([0, 0, 0, 0, 0, 0], 2) == 1  # grid 1 is empty
    parts = label_parts(g.indptr, g.indices, np.array([0, 0, 1, -1, 0, 0], dtype=np.int64))
    assert parts.tolist() == [0, 0, 1, -1, 2, 2]


def test_arc_kernel_finds_the_least_deviating_arc(cells):
    """For every stretch of start positions, the compiled arc search finds the arc whose
    worst share is closest to the target, as trying every length does (the bisection on
    the length must not miss the best arc)."""
    from gis.partition.graph import build_graph
    from gis.partition.seeding import _sector_cuts

    g = build_graph(cells.geometry.values)
    w = np.column_stack([cells["enterprises"].to_numpy(float), g.area])
    kk, bins = 3, 5
    wn = w * kk / w.sum(axis=0)
    tot, frac = wn.sum(axis=0), 1 / kk
    lo, hi = 0, g.n - 2
    pivot = (g.centroid * wn[:, :1]).sum(axis=0) / tot[0]
    order = np.argsort(np.arctan2(*(g.centroid - pivot).T[::-1]), kind="stable").astype(np.int64)
    rows = _sector_cuts(order, wn, tot, frac, lo, hi, bins)
    cum = np.vstack([np.zeros(2), np.cumsum(wn[np.concatenate([order, order])] / tot, axis=0)])
    best = np.full(bins, np.inf)
    lengths = np.arange(lo + 1, hi + 1)
    for s in range(g.n):
        share = cum[s + lengths] - cum[s]
        dev = np.abs(share - frac).max(axis=1) * max(1 / frac, 1 / (1 - frac))
        b = s * bins // g.n
        best[b] = min(best[b], dev.min())
    assert np.allclose(rows[:, 0], best, rtol=0, atol=1e-12)
    for d, s, length in rows:  # each row is the arc it names
        share = cum[int(s) + int(length)] - cum[int(s)]
        assert np.isclose(np.abs(share - frac).max() * 3, d)
    assert rows[:, 0].min() < 0.05  # some arc around the enterprises' centre takes a third of both


def test_a_parent_without_enterprises_gets_even_grids_not_an_error():
    """A parent that holds none of a balanced weight (a village without enterprises,
    given two grids) is balanced on it by any grids: the solve must not divide by its
    zero total; its grids come out even in area, and its deviation is 0."""
    cells = [shapely.box(x * 100, y * 100, x * 100 + 100, y * 100 + 100) for y in range(10) for x in range(20)]
    x = np.array([i % 20 for i in range(200)])
    units = gpd.GeoDataFrame({"enterprises": np.where(x < 10, 3.0, 0.0), "parent": np.where(x < 10, "A", "B")},
                             geometry=cells, crs="EPSG:32651")  # fmt: skip
    for weights in (["enterprises", "area"], ["enterprises"]):
        r = partition(units, 4, weights, parent_col="parent", k_per_parent={"A": 2, "B": 2}, tolerance=0.1)
        assert r.within_tolerance() and r.max_dev_pct["enterprises"] == 0.0
        assert not r.shortfalls
        b_grids = np.unique(r.labels_[x >= 10])
        assert len(b_grids) == 2 and set(np.unique(r.labels_[x < 10])).isdisjoint(b_grids)
        sizes = np.bincount(r.labels_, minlength=4)[b_grids]
        assert abs(sizes[0] - sizes[1]) <= 10, sizes  # even in area: 50 +- 10 % of the cells
        assert noncontiguous_grids(r.graph.indptr, r.graph.indices, r.labels_, 4) == 0
