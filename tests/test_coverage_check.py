"""Coverage check and repair on crafted defects, the Jinshan outline and the sample district."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from shapely.geometry import MultiPolygon, Polygon, box

from gis.coverage.check import check_coverage
from gis.coverage.repair import repair_coverage
from gis.crs import geoms_from_store, geoms_to_store
from gis.errors import Conflict
from gis.model import STORE_CRS

METRIC = "EPSG:4549"  # the CGCS2000 GK zone of Jinshan, what projected_crs_for picks here
# the crafted plan is drawn in metres (straight edges there), stored in EPSG:4490
X0, X1, X2, X3, X4 = 600_000.0, 605_000.0, 610_000.0, 615_000.0, 620_000.0
Y0, Y1 = 3_400_000.0, 3_411_000.0
YM = (Y0 + Y1) / 2
OUTLINE = box(X0, Y0, X4, Y1)


def stored(geom):
    return geoms_to_store(np.array([geom], dtype=object), METRIC)[0]


def metric(geom):
    return geoms_from_store(np.array([geom], dtype=object), METRIC)[0]


def same_place(found, expected_metric) -> bool:
    """The finding's location (store CRS) is the expected piece (metres) to 0.5 % of its
    area: the piece's edges are straight in the store CRS, the expectation's in metres."""
    diff = shapely.area(shapely.symmetric_difference(metric(found), expected_metric))
    return float(diff) < 5e-3 * shapely.area(expected_metric)


def plan(**replace) -> gpd.GeoDataFrame:
    """District 310116 = towns 101 (west) + 102 (east), each two villages side by side."""
    rows = [
        ("310116", 1, None, OUTLINE),
        ("310116101", 2, "310116", box(X0, Y0, X2, Y1)),
        ("310116102", 2, "310116", box(X2, Y0, X4, Y1)),
        ("310116101001", 3, "310116101", box(X0, Y0, X1, Y1)),
        ("310116101002", 3, "310116101", box(X1, Y0, X2, Y1)),
        ("310116102001", 3, "310116102", box(X2, Y0, X3, Y1)),
        ("310116102002", 3, "310116102", box(X3, Y0, X4, Y1)),
    ]
    # node every ring at X0..X4 (horizontal edges) and at the crafted defects' Ys
    # (vertical edges), so that neighbours share their vertices once stored: edges
    # are straight in the store CRS, not in metres
    xs = [X0, X1, X2, X3, X4]
    ys = [3_405_000.0, 3_406_000.0]

    def node_ring(coords):
        out = [coords[0]]
        for (ax, ay), (bx, by) in zip(coords[:-1], coords[1:], strict=True):
            if ay == by:
                inner = sorted((x for x in xs if min(ax, bx) < x < max(ax, bx)), reverse=bx < ax)
                out += [(x, ay) for x in inner]
            elif ax == bx:
                inner = sorted((y for y in ys if min(ay, by) < y < max(ay, by)), reverse=by < ay)
                out += [(ax, y) for y in inner]
            out.append((bx, by))
        return out

    def noded(g):
        if g.geom_type != "Polygon":
            return g
        return Polygon(node_ring(list(g.exterior.coords)), [node_ring(list(r.coords)) for r in g.interiors])

    rows = [(c, lv, p, noded(replace.get(c, g))) for c, lv, p, g in rows]
    return gpd.GeoDataFrame(
        {
            "code": [r[0] for r in rows],
            "name": [f"网格{r[0]}" for r in rows],
            "level": [r[1] for r in rows],
            "parent_code": [r[2] for r in rows],
        },
        geometry=list(geoms_to_store(np.array([r[3] for r in rows], dtype=object), METRIC)),
        crs=STORE_CRS,
    ).rename_geometry("geom")


def people_for(grids: gpd.GeoDataFrame) -> pd.DataFrame:
    codes = list(dict.fromkeys(grids["code"]))
    return pd.DataFrame(
        {
            "grid_code": codes * 2,
            "role": ["grid_leader"] * len(codes) + ["responsible_officer"] * len(codes),
        }
    )


def check(grids: gpd.GeoDataFrame):
    return check_coverage(grids, people_for(grids), stored(OUTLINE))


def only(report, kind: str):
    found = report.of_kind(kind)
    assert len(found) == 1, [(f.kind, f.grids, f.area_m2) for f in report.findings]
    return found[0]


def assert_repaired(grids: gpd.GeoDataFrame, **kw) -> None:
    result = repair_coverage(grids, people_for(grids), stored(OUTLINE), **kw)
    assert result.after.findings == [], [
        (f.kind, f.grids, f.area_m2) for f in result.after.findings
    ]
    assert result.changes
    # the repaired level 3 is an exact coverage again
    assert shapely.coverage_is_valid(result.grids[result.grids.level == 3].geometry.to_numpy())


def test_clean_plan_has_no_findings() -> None:
    report = check(plan())
    assert report.findings == []
    assert report.ok
    assert report.projected_crs == METRIC


def test_gap_between_villages_found_with_location_and_area() -> None:
    hole = box(X1 - 3, 3_405_000, X1, 3_406_000)  # 3 m x 1 km inside village 001
    grids = plan(**{"310116101001": box(X0, Y0, X1, Y1).difference(hole)})
    report = check(grids)
    gap = only(report, "gap")
    assert gap.severity == "error" and gap.level == 3
    assert "310116101" in gap.grids and {"310116101001", "310116101002"} <= set(gap.grids)
    assert gap.area_m2 == pytest.approx(3000.0, rel=5e-3)
    assert same_place(gap.geom, hole)
    assert gap.width_m == pytest.approx(3.0, abs=0.05)
    assert len(report.findings) == 1
    with pytest.raises(Conflict, match="wider than the gap width"):
        repair_coverage(grids, people_for(grids), gap_width_m=1.0)
    assert_repaired(grids, gap_width_m=5.0)


def test_overlap_between_villages_found_with_location_and_area() -> None:
    extra = box(X1, 3_405_000, X1 + 3, 3_406_000)
    grids = plan(**{"310116101001": box(X0, Y0, X1, Y1).union(extra)})
    report = check(grids)
    ov = only(report, "overlap")
    assert set(ov.grids) == {"310116101001", "310116101002"}
    assert ov.area_m2 == pytest.approx(3000.0, rel=5e-3)
    assert same_place(ov.geom, extra)
    assert len(report.findings) == 1
    assert_repaired(grids, gap_width_m=5.0)


def test_sliver_gap_is_a_warning_and_repaired() -> None:
    hole = box(X1 - 0.3, 3_405_000, X1, 3_406_000)  # 0.3 m wide
    grids = plan(**{"310116101001": box(X0, Y0, X1, Y1).difference(hole)})
    report = check(grids)
    sl = only(report, "sliver")
    assert sl.severity == "warning" and sl.detail["of"] == "gap"
    assert sl.area_m2 == pytest.approx(300.0, rel=5e-3)
    assert same_place(sl.geom, hole)
    assert report.ok and len(report.findings) == 1
    assert_repaired(grids, gap_width_m=1.0)


def test_grid_crossing_its_parent_found() -> None:
    out = box(X2, 3_405_000, X2 + 3, 3_406_000)  # village of town 101 reaching into town 102
    grids = plan(**{"310116101002": box(X1, Y0, X2, Y1).union(out)})
    report = check(grids)
    cr = only(report, "crosses_parent")
    assert cr.grids == ("310116101002", "310116101")
    assert cr.area_m2 == pytest.approx(3000.0, rel=5e-3)
    assert same_place(cr.geom, out)
    assert only(report, "overlap").grids == ("310116101002", "310116102001")
    assert len(report.findings) == 2
    assert_repaired(grids, gap_width_m=5.0)


def test_bow_tie_polygon_found_at_its_self_intersection() -> None:
    # village 001 drawn as a bow-tie (left and right triangles of its box);
    # a third village takes the top and bottom triangles
    bowtie = Polygon([(X0, Y0), (X1, Y1), (X1, Y0), (X0, Y1), (X0, Y0)])
    # the other triangles meet the bow-tie where its diagonals cross AS STORED
    p00, p11, p10, p01 = (stored(shapely.Point(x, y)) for x, y in ((X0, Y0), (X1, Y1), (X1, Y0), (X0, Y1)))
    c = shapely.intersection(shapely.LineString([p00, p11]), shapely.LineString([p10, p01]))
    rest = MultiPolygon([Polygon([p01, p11, c]), Polygon([p00, c, p10])])
    grids = plan(**{"310116101001": bowtie})
    grids = pd.concat(
        [grids, plan().iloc[[3]].assign(code="310116101003", geom=[rest])],
        ignore_index=True,
    ).pipe(gpd.GeoDataFrame, geometry="geom", crs=STORE_CRS)
    assert not shapely.is_valid(bowtie)
    report = check(grids)
    bad = only(report, "invalid_geometry")
    assert bad.grids == ("310116101001",)
    assert "Self-intersection" in bad.message
    # where the two diagonals cross, as stored (straight in degrees)
    corners = shapely.get_coordinates(stored(bowtie))
    crossing = shapely.intersection(
        shapely.LineString(corners[0:2]), shapely.LineString(corners[2:4])
    )
    assert shapely.distance(bad.geom, crossing) < 1e-9
    assert bad.area_m2 == pytest.approx(5000 * 11000 / 2, rel=5e-3)
    assert len(report.findings) == 1, [(f.kind, f.grids) for f in report.findings]
    assert_repaired(grids)


def test_duplicate_code_found_and_exact_double_removed() -> None:
    grids = plan()
    doubled = pd.concat([grids, grids.iloc[[4]]], ignore_index=True).pipe(
        gpd.GeoDataFrame, geometry="geom", crs=STORE_CRS
    )
    report = check(doubled)
    dup = only(report, "duplicate_code")
    assert dup.grids == ("310116101002",)
    assert dup.area_m2 == pytest.approx(5000 * 11000, rel=5e-3)
    assert len(report.findings) == 1
    result = repair_coverage(doubled, people_for(doubled), stored(OUTLINE))
    assert len(result.grids) == len(grids) and result.after.findings == []
    assert [c.steps for c in result.changes] == [("removed exact duplicate row",)]


def test_codes_and_people_findings() -> None:
    grids = plan()
    grids.loc[grids.code == "310116102002", "code"] = "310116101009"  # not under 102
    grids.loc[grids.code == "310116102001", "code"] = "31011610200X"
    report = check_coverage(grids, people_for(plan()).iloc[1:], stored(OUTLINE))
    assert only(report, "code_not_extending_parent").grids == ("310116101009", "310116102")
    assert only(report, "malformed_code").grids == ("31011610200X",)
    assert {f.grids[0] for f in report.of_kind("missing_grid_leader")} == {
        "310116",
        "310116101009",
        "31011610200X",
    }
    kinds = {f.kind for f in report.findings}
    assert "missing_responsible_officer" in kinds  # the renamed grids have nobody


def test_level4_without_officer_is_a_warning_unless_a_worker_is_named() -> None:
    grids = plan()
    unit = grids.iloc[[3]].assign(code="310116101001001", level=4, parent_code="310116101001")
    grids = pd.concat([grids, unit], ignore_index=True).pipe(
        gpd.GeoDataFrame, geometry="geom", crs=STORE_CRS
    )
    people = people_for(plan())
    people = pd.concat(
        [people, pd.DataFrame({"grid_code": ["310116101001001"], "role": ["grid_leader"]})]
    )
    report = check_coverage(grids, people)
    w = only(report, "missing_responsible_officer")
    assert w.severity == "warning" and w.level == 4
    # the other villages have no unit grids at level 4
    assert len(report.of_kind("parent_not_covered")) == 3
    people.loc[len(people)] = ["310116101001001", "grid_worker"]
    assert not check_coverage(grids, people).of_kind("missing_responsible_officer")


def test_grids_outside_the_outline_beyond_tolerance() -> None:
    report = check_coverage(plan(), people_for(plan()), stored(box(X0, Y0, X4 - 100, Y1)))
    out = only(report, "outside_area")
    assert out.severity == "warning" and out.grids == ("310116",)
    assert out.area_m2 == pytest.approx(100 * 11000, rel=5e-3)
    # 1 m of disagreement with the outline is within the tolerance
    assert (
        check_coverage(plan(), people_for(plan()), stored(box(X0, Y0, X4 - 1, Y1))).findings == []
    )


# ---------------------------------------------------------------------- real data


@pytest.fixture(scope="module")
def jinshan(shared_data: Path):
    from gis.sample import generate_district

    return generate_district(
        outline=shared_data / "admin-cn/shanghai/fences/310116.json", outline_crs="gcj02"
    )


def _outline(district) -> shapely.Geometry:
    au = district.admin_units
    return au[au.level == 1].geometry.iloc[0]


def test_jinshan_generated_plans_pass(jinshan) -> None:
    for layer, (grids, people) in jinshan.plans.items():
        report = check_coverage(grids, people, _outline(jinshan))
        assert report.findings == [], (layer, [(f.kind, f.grids) for f in report.findings[:5]])


def _movable_vertex(units: gpd.GeoDataFrame, villages: gpd.GeoDataFrame):
    """A vertex of a unit grid shared with exactly one other unit grid, inside its
    village, with both edges at it longer than 80 m."""
    metric = geoms_from_store(units.geometry.to_numpy(), METRIC)
    vil_bounds = shapely.union_all(
        shapely.boundary(geoms_from_store(villages.geometry.to_numpy(), METRIC))
    )
    tree = shapely.STRtree(metric)
    for i in range(len(metric)):
        poly = metric[i].geoms[0] if metric[i].geom_type == "MultiPolygon" else metric[i]
        ring = np.asarray(poly.exterior.coords)[:-1]
        for k in range(len(ring)):
            p, v, n = ring[k - 1], ring[k], ring[(k + 1) % len(ring)]
            if min(np.hypot(*(v - p)), np.hypot(*(n - v))) < 80:
                continue
            height = abs((n - p)[0] * (v - p)[1] - (n - p)[1] * (v - p)[0]) / np.hypot(*(n - p))
            if height < 15:
                continue
            pt = shapely.Point(v)
            if shapely.distance(pt, vil_bounds) < 100:
                continue
            near = tree.query(pt, predicate="dwithin", distance=1e-6)
            if len(near) == 2:
                return i, k, p, v, n
    raise AssertionError("no movable vertex")


def test_jinshan_vertex_moved_30m_gives_exactly_that_gap_and_overlap(jinshan) -> None:
    grids, people = jinshan.plans["community"]
    units = grids[grids.level == 4].reset_index(drop=True)
    i, k, p, v, n = _movable_vertex(units, grids[grids.level == 3])
    # move 30 m along the chord p -> n: the old and new edges cross at v's neighbourhood,
    # leaving one triangle uncovered and another covered twice
    d = (n - p) / np.hypot(*(n - p)) * 30.0
    v2 = v + d
    metric = geoms_from_store(np.array([units.geometry.iloc[i]], dtype=object), METRIC)[0]
    poly = metric.geoms[0] if metric.geom_type == "MultiPolygon" else metric
    ring = np.asarray(poly.exterior.coords)[:-1].copy()
    ring[k] = v2
    moved = shapely.Polygon(ring, [np.asarray(r.coords) for r in poly.interiors])
    assert moved.is_valid
    expect_gap = shapely.difference(metric, moved)
    expect_overlap = shapely.difference(moved, metric)
    from gis.crs import geoms_to_store

    new_geom = geoms_to_store(np.array([shapely.MultiPolygon([moved])], dtype=object), METRIC)[0]
    code = units.code.iloc[i]
    changed = grids.copy()
    changed.loc[changed.code == code, "geom"] = new_geom
    report = check_coverage(changed, people, _outline(jinshan))
    kinds = sorted(f.kind for f in report.findings)
    assert kinds == ["gap", "overlap"], [(f.kind, f.grids, f.area_m2) for f in report.findings]
    gap, ov = report.of_kind("gap")[0], report.of_kind("overlap")[0]
    assert gap.area_m2 == pytest.approx(shapely.area(expect_gap), rel=1e-3)
    assert ov.area_m2 == pytest.approx(shapely.area(expect_overlap), rel=1e-3)
    assert code in gap.grids and code in ov.grids
    assert gap.area_m2 > 50 and ov.area_m2 > 50


def test_sample_district_published_plans_pass(sample_gpkg: Path) -> None:
    from gis.coverage.gate import plan_inputs
    from gis.store.geopackage import GeoPackageStore

    with GeoPackageStore(sample_gpkg) as store:
        published = store.plans(status="published")
        assert len(published) == 2
        for p in published:
            report = check_coverage(*plan_inputs(store, p.id))
            assert report.errors == [], [(f.kind, f.grids) for f in report.errors[:5]]
            assert report.warnings == []
