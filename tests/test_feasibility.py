"""The certificate that a tolerance is out of reach (gis.partition.feasibility)."""

from __future__ import annotations

import itertools

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from gis.errors import InvalidInput
from gis.partition import partition
from gis.partition.feasibility import crowded_units, least_around
from gis.partition.graph import build_graph


def _cells(nx: int, ny: int, size: float = 100.0) -> gpd.GeoDataFrame:
    boxes = [shapely.box(x * size, y * size, (x + 1) * size, (y + 1) * size)
             for y in range(ny) for x in range(nx)]  # fmt: skip
    return gpd.GeoDataFrame(geometry=boxes, crs="EPSG:32651")


def _connected(adj: list[set[int]], nodes: tuple[int, ...]) -> bool:
    todo, seen = [nodes[0]], {nodes[0]}
    inside = set(nodes)
    while todo:
        x = todo.pop()
        for y in adj[x] & inside - seen:
            seen.add(y)
            todo.append(y)
    return seen == inside


@pytest.mark.parametrize("seed", range(6))
def test_the_bound_never_exceeds_the_true_least_weight(seed: int) -> None:
    """Every connected set of a 3 x 4 grid checked by brute force: the bound is at most
    the least weight j of a connected set holding v with enough weight i, and not a
    trivial one (it adds to the unit's own weight, and comes to at least half the true
    least weights on these small graphs)."""
    rng = np.random.default_rng(seed)
    g = build_graph(_cells(4, 3).geometry.to_numpy())
    n = g.n
    adj = [set(g.indices[g.indptr[v]:g.indptr[v + 1]].tolist()) for v in range(n)]
    wi = rng.uniform(0.05, 0.3, n)
    wj = rng.exponential(0.3, n) * (rng.random(n) < 0.6)
    need = 0.9
    sets = [s for r in range(1, n + 1) for s in itertools.combinations(range(n), r)
            if wi[list(s)].sum() >= need and _connected(adj, s)]  # fmt: skip
    truth = np.array([min(wj[list(s)].sum() for s in sets if v in s) for v in range(n)])
    bound = np.array([least_around(g.indptr, g.indices, wj, wi, v, need, -np.inf, 10_000)
                      for v in range(n)])  # fmt: skip
    assert (bound <= truth + 1e-9).all()
    assert (bound > wj + 1e-9).any()
    assert bound.sum() >= 0.5 * truth.sum()


def _dense_core(core: float) -> gpd.GeoDataFrame:
    """20 x 20 cells; a 5 x 5 core whose cells each hold ``core`` of a grid's mean
    enterprises at k = 40, the rest spread thinly."""
    units = _cells(20, 20)
    xy = np.array([(i % 20, i // 20) for i in range(400)])
    in_core = (np.abs(xy - 10) <= 2).all(axis=1)
    total = 1000.0
    mean = total / 40
    ent = np.where(in_core, core * mean, 0.0)
    ent[~in_core] = (total - ent.sum()) / (~in_core).sum()
    return units.assign(enterprises=ent)


def test_a_core_too_dense_for_the_tolerance_is_refused_naming_its_centre() -> None:
    """No cell is heavier than the tolerance (0.9 of a grid's mean), so the per-unit
    check passes; but a grid holding the core's centre must take two more core cells to
    reach the area of a grid, so it holds at least 2.7 x the mean enterprises."""
    units = _dense_core(0.9)
    centre = 10 * 20 + 10
    with pytest.raises(InvalidInput) as err:
        partition(units, 40, ["enterprises", "area"], seed=0, tolerance=0.02)
    e = err.value
    assert "cluster so dense" in e.message and "聚集区过密" in e.message_zh
    rows = {p.row for p in e.problems}
    assert centre in rows
    p = next(p for p in e.problems if p.row == centre)
    assert p.field == "enterprises" and "area" in p.message
    least = float(p.message.split("holds at least ")[1].split(" %")[0])
    assert least >= 270.0
    # the same request as a best effort: partitioned, the certificate in the notes
    res = partition(units, 40, ["enterprises", "area"], seed=0, tolerance=0.02, check_tolerance=False)
    assert any(c.unit == centre and c.least >= 2.7 for c in res.crowded)
    assert any("No partition can keep every weight within the tolerance" in en for en, _ in res.notes)
    assert not res.within_tolerance()  # as proven
    # with a tolerance per weight: refused all the same, without a single tolerance to name
    with pytest.raises(InvalidInput) as err:
        partition(units, 40, ["enterprises", "area"], seed=0, tolerance={"enterprises": 0.02, "area": 0.05})
    assert centre in {p.row for p in err.value.problems}
    assert "cluster so dense" in err.value.message and "tolerance below" not in err.value.message


def test_a_core_that_fits_is_not_reported() -> None:
    """At 0.1 of a grid's mean per core cell, ten core cells make one grid: nothing is
    ruled out, and the solver is left to reach the tolerance."""
    units = _dense_core(0.1)
    g = build_graph(units.geometry.to_numpy())
    w = np.column_stack([units["enterprises"].to_numpy(), units.area.to_numpy()])
    w = w / w.sum(axis=0) * 40
    assert crowded_units(g.indptr, g.indices, w, np.full(2, 0.02), 40) == []


def test_the_tolerance_needed_is_where_the_bound_stops_ruling_out() -> None:
    units = _dense_core(0.9)
    g = build_graph(units.geometry.to_numpy())
    w = np.column_stack([units["enterprises"].to_numpy(), units.area.to_numpy()])
    w = w / w.sum(axis=0) * 40
    found = crowded_units(g.indptr, g.indices, w, np.full(2, 0.02), 40)
    assert found and found[0].tolerance_needed is not None
    t = found[0].tolerance_needed
    c = found[0]
    wj, wi = np.ascontiguousarray(w[:, c.weight]), np.ascontiguousarray(w[:, c.by])
    v = c.unit
    assert least_around(g.indptr, g.indices, wj, wi, v, 1 - t, 1 + t, 10**6) <= 1 + t + 1e-9
    t0 = t - 0.01
    assert least_around(g.indptr, g.indices, wj, wi, v, 1 - t0, 1 + t0, 10**6) > 1 + t0


def test_a_weight_absent_from_the_area_proves_nothing() -> None:
    """A parent whose units hold no incidents at all: that weight cannot rule anything
    out (it is balanced trivially), and the others are still checked."""
    units = _dense_core(0.9)
    g = build_graph(units.geometry.to_numpy())
    w = np.column_stack([units["enterprises"].to_numpy(), units.area.to_numpy(), np.zeros(400)])
    w[:, :2] = w[:, :2] / w[:, :2].sum(axis=0) * 40
    found = crowded_units(g.indptr, g.indices, w, np.full(3, 0.02), 40)
    assert found and all(c.weight != 2 and c.by != 2 for c in found)
    assert all(np.isfinite(c.least) for c in found)


def test_with_parents_every_parent_is_checked_before_any_is_solved() -> None:
    """Town A (plain) and town B (the dense core) partitioned as nested parents: the
    refusal names B and the core's centre by its row in the whole input, and comes
    before A is solved (no progress was reported)."""
    a = _cells(10, 10).assign(enterprises=1.0, town="A")
    b = _dense_core(0.9).assign(town="B")
    b["geometry"] = b.geometry.translate(5000.0, 0.0)
    units = gpd.GeoDataFrame(pd.concat([a, b], ignore_index=True), crs=a.crs)
    seen: list[float] = []
    with pytest.raises(InvalidInput) as err:
        partition(units, 44, ["enterprises", "area"], parent_col="town",
                  k_per_parent={"A": 4, "B": 40}, progress=seen.append)  # fmt: skip
    assert "in B" in err.value.message and "（B）" in err.value.message_zh
    assert 100 + 10 * 20 + 10 in {p.row for p in err.value.problems}
    assert seen == []
