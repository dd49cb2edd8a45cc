"""GridIndex: exact point-in-grid, checked against PostGIS ST_Covers and GEOS.

The oracle is PostGIS: the same polygons in a temp table (SRID 4490), the points
joined with ``ST_Covers``; a point with several covering grids belongs to the one
with the lowest code (the boundary rule). Hypothesis draws coverages of wiggly
lattice cells whose neighbours share identical vertices, with axis-parallel edge
pieces, a hole filled by an enclave grid, a multipolygon grid, an overlapping grid
and a gap, and points at random, on vertices, on axis-parallel edges (exact in
floating point), in holes and just outside the outline.
"""

from __future__ import annotations

import io

import numpy as np
import psycopg
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyproj import Geod

import gis.lookup.index as index_mod
from gis.lookup import GridIndex
from gis.lookup import _kernels as K

GEOD = Geod(ellps="GRS80")
LON0, LAT0, STEP = 121.3, 31.1, 0.002


# ---------------------------------------------------------------- helpers


def reference_locate(geoms, codes, x, y) -> np.ndarray:
    """The reference implementation: GEOS covered_by through an STRtree, lowest code wins."""
    codes = np.asarray(codes, dtype=object).astype(str)
    rank = np.empty(len(codes), dtype=np.int64)
    rank[np.argsort(codes, kind="stable")] = np.arange(len(codes))
    out = np.full(len(x), -1, dtype=np.int64)
    pi, gi = shapely.STRtree(geoms).query(shapely.points(x, y), predicate="covered_by")
    if len(pi):
        order = np.lexsort((rank[gi], pi))
        pi, gi = pi[order], gi[order]
        first = np.ones(len(pi), dtype=bool)
        first[1:] = pi[1:] != pi[:-1]
        out[pi[first]] = gi[first]
    return out


def postgis_covering(conn: psycopg.Connection, geoms, x, y) -> list[list[int]]:
    """For each point, the grid positions whose geometry ST_Covers it (PostGIS)."""
    conn.execute("DROP TABLE IF EXISTS t_grids, t_pts")
    conn.execute("CREATE TEMP TABLE t_grids (idx integer, geom geometry(Geometry, 4490))")
    conn.execute("CREATE TEMP TABLE t_pts (id integer, geom geometry(Point, 4490))")
    with conn.cursor().copy("COPY t_grids (idx, geom) FROM STDIN") as cp:
        buf = io.StringIO()
        for i, g in enumerate(shapely.to_wkb(geoms, hex=True)):
            buf.write(f"{i}\tSRID=4490;{g}\n")
        cp.write(buf.getvalue())
    with conn.cursor().copy("COPY t_pts (id, geom) FROM STDIN") as cp:
        buf = io.StringIO()
        for i, g in enumerate(shapely.to_wkb(shapely.points(x, y), hex=True)):
            buf.write(f"{i}\tSRID=4490;{g}\n")
        cp.write(buf.getvalue())
    conn.execute("CREATE INDEX ON t_grids USING gist (geom)")
    rows = conn.execute(
        "SELECT p.id, g.idx FROM t_pts p JOIN t_grids g ON ST_Covers(g.geom, p.geom)"
    ).fetchall()
    out: list[list[int]] = [[] for _ in range(len(x))]
    for pid, gidx in rows:
        out[pid].append(gidx)
    return out


def rule(cover: list[list[int]], codes) -> np.ndarray:
    codes = np.asarray(codes).astype(str)
    return np.array([min(c, key=lambda i: codes[i]) if c else -1 for c in cover], dtype=np.int64)


@pytest.fixture(scope="module")
def pg(pg_url: str):
    with psycopg.connect(pg_url, autocommit=True) as conn:
        yield conn


def wiggly_coverage(rng: np.random.Generator, nx: int, ny: int, m: int):
    """nx * ny lattice cells, sides noded wiggly polylines shared by both neighbours.

    Returns the cell polygons (row-major by (i, j)) and every side polyline.
    """
    gx, gy = np.meshgrid(np.arange(nx + 1), np.arange(ny + 1), indexing="ij")
    nodes = np.stack([LON0 + gx * STEP, LAT0 + gy * STEP], axis=-1).astype(float)
    nodes += rng.uniform(-0.1, 0.1, nodes.shape) * STEP

    def side(p0, p1, axis):
        t = np.linspace(0.0, 1.0, m + 2)
        pts = p0 + t[:, None] * (p1 - p0)
        normal = np.array([-(p1 - p0)[1], (p1 - p0)[0]])
        pts[1:-1] += (rng.uniform(-0.08, 0.08, m) * np.sin(np.pi * t[1:-1]))[:, None] * normal
        # axis-parallel pieces: horizontal on horizontal sides, vertical on vertical ones
        for i in rng.integers(1, m, size=min(2, m - 1)) if m > 1 else []:
            pts[i + 1, axis] = pts[i, axis]
        pts[0], pts[-1] = p0, p1
        return pts

    hor = {(i, j): side(nodes[i, j], nodes[i + 1, j], 1) for i in range(nx) for j in range(ny + 1)}
    ver = {(i, j): side(nodes[i, j], nodes[i, j + 1], 0) for i in range(nx + 1) for j in range(ny)}
    cells = []
    for i in range(nx):
        for j in range(ny):
            ring = np.concatenate(
                [hor[i, j][:-1], ver[i + 1, j][:-1], hor[i, j + 1][::-1][:-1], ver[i, j][::-1][:-1]]
            )
            cells.append(shapely.Polygon(ring))
    return cells, list(hor.values()) + list(ver.values())


def make_case(seed: int, nx: int, ny: int, m: int, hole: bool, multi: bool, overlap: bool, gap: bool):
    """A grid set and points by the recipe of the module docstring."""
    rng = np.random.default_rng(seed)
    cells, sides = wiggly_coverage(rng, nx, ny, m)
    geoms = list(cells)
    extra_x: list[np.ndarray] = []
    extra_y: list[np.ndarray] = []
    if hole:
        k = int(rng.integers(len(geoms)))
        i, j = divmod(k, ny)
        cx, cy = LON0 + (i + 0.5) * STEP, LAT0 + (j + 0.5) * STEP
        h = 0.15 * STEP
        sq = np.array([[cx - h, cy - h], [cx + h, cy - h], [cx + h, cy + h], [cx - h, cy + h], [cx - h, cy - h]])
        geoms[k] = shapely.Polygon(geoms[k].exterior, [sq[::-1]])
        if rng.random() < 0.5:
            geoms.append(shapely.Polygon(sq))  # an enclave filling the hole
        # points in the hole and exactly on its (axis-parallel) edges
        extra_x += [np.array([cx, cx + h * 0.5, cx - h, cx + h * 0.3, cx - h]), ]
        extra_y += [np.array([cy, cy - h * 0.5, cy + h * 0.2, cy + h, cy - h]), ]
    if multi and len(cells) >= 3:
        a, b = 0, len(cells) - 1  # opposite corners never touch when nx, ny >= 2
        if not geoms[a].touches(geoms[b]) and not geoms[a].intersects(geoms[b]):
            geoms[a] = shapely.MultiPolygon([geoms[a], geoms[b]])
            geoms.pop(b)
    if gap and len(geoms) > 2:
        geoms.pop(int(rng.integers(1, len(geoms) - 1)))
    if overlap:
        c = shapely.box(LON0 + 0.3 * STEP, LAT0 + 0.4 * STEP, LON0 + 1.7 * STEP, LAT0 + 1.2 * STEP)
        geoms.append(c)
    codes = [f"3101{v:04d}" for v in rng.permutation(len(geoms))]
    geoms = np.array(geoms, dtype=object)

    # points: random, vertices, axis-parallel edges, just outside the outline
    b = shapely.total_bounds(geoms)
    n = 300
    xs = [rng.uniform(b[0] - 0.2 * STEP, b[2] + 0.2 * STEP, n)]
    ys = [rng.uniform(b[1] - 0.2 * STEP, b[3] + 0.2 * STEP, n)]
    verts = shapely.get_coordinates(geoms)
    xs.append(verts[:, 0])
    ys.append(verts[:, 1])
    for pts in sides:
        for q in range(len(pts) - 1):
            p0, p1 = pts[q], pts[q + 1]
            u = rng.random()
            if p0[1] == p1[1]:
                xs.append(np.array([p0[0] + u * (p1[0] - p0[0])]))
                ys.append(np.array([p0[1]]))
            elif p0[0] == p1[0]:
                xs.append(np.array([p0[0]]))
                ys.append(np.array([p0[1] + u * (p1[1] - p0[1])]))
    outline = shapely.get_coordinates(shapely.union_all(geoms).boundary)
    for dx, dy in ((1e-9, 0.0), (-1e-9, 0.0), (0.0, 1e-9), (0.0, -1e-9), (1e-12, 1e-12)):
        xs.append(outline[:, 0] + dx)
        ys.append(outline[:, 1] + dy)
    xs += extra_x
    ys += extra_y
    return geoms, codes, np.concatenate(xs), np.concatenate(ys)


# ---------------------------------------------------------------- the PostGIS oracle


@pytest.mark.postgis
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    seed=st.integers(0, 2**32 - 1),
    nx=st.integers(2, 5),
    ny=st.integers(2, 5),
    m=st.integers(1, 8),
    hole=st.booleans(),
    multi=st.booleans(),
    overlap=st.booleans(),
    gap=st.booleans(),
)
def test_locate_equals_postgis_st_covers(pg, seed, nx, ny, m, hole, multi, overlap, gap) -> None:
    geoms, codes, x, y = make_case(seed, nx, ny, m, hole, multi, overlap, gap)
    index = GridIndex(geoms, codes)
    cover = postgis_covering(pg, geoms, x, y)
    got = index.locate(x, y)
    expected = rule(cover, codes)
    bad = np.nonzero(got != expected)[0]
    assert not len(bad), [(x[i], y[i], got[i], expected[i]) for i in bad[:5]]
    # covering_one lists exactly PostGIS' covering grids, in code order
    code_arr = np.asarray(codes)
    for i in range(len(x)):
        want = sorted(cover[i], key=lambda g: code_arr[g])
        assert index.covering_one(x[i], y[i]).tolist() == want, (x[i], y[i])
        assert index.locate_one(x[i], y[i]) == got[i]


@pytest.mark.postgis
def test_dense_lattice_boundary_points_equal_postgis(pg) -> None:
    """A larger set, many points exactly on shared edges and vertices."""
    geoms, codes, x, y = make_case(20261125, 12, 10, 12, True, True, False, True)
    index = GridIndex(geoms, codes)
    cover = postgis_covering(pg, geoms, x, y)
    assert np.array_equal(index.locate(x, y), rule(cover, codes))
    multi = sum(len(c) > 1 for c in cover)
    assert multi > 200  # the boundary cases are really exercised


# ---------------------------------------------------------------- the boundary rule


def squares():
    """Four unit squares around (1, 1): codes by quadrant, deliberately not in code order."""
    boxes = [shapely.box(0, 0, 1, 1), shapely.box(1, 0, 2, 1), shapely.box(0, 1, 1, 2), shapely.box(1, 1, 2, 2)]
    return np.array(boxes, dtype=object), ["D", "B", "C", "A"]


def test_point_on_shared_edge_goes_to_lower_code() -> None:
    geoms, codes = squares()
    index = GridIndex(geoms, codes)
    # edge between D (0) and B (1) at x = 1, y in (0, 1): B < D
    assert index.locate_one(1.0, 0.5) == 1
    # edge between D (0) and C (2) at y = 1: C < D
    assert index.locate_one(0.5, 1.0) == 2
    # the shared vertex: A (3) is the lowest of all four
    assert index.locate_one(1.0, 1.0) == 3
    # outer boundary: only one grid covers it
    assert index.locate_one(0.0, 0.5) == 0
    assert index.locate_one(2.0, 2.0) == 3
    # just outside -> nobody
    assert index.locate_one(-1e-12, 0.5) == -1
    assert index.locate_one(2.0 + 1e-12, 2.0) == -1
    # independent of input order
    perm = [2, 0, 3, 1]
    index2 = GridIndex(geoms[perm], [codes[i] for i in perm])
    assert index2.codes[index2.locate_one(1.0, 1.0)] == "A"
    assert index2.codes[index2.locate_one(1.0, 0.5)] == "B"


def test_covering_one_lists_all_owner_first() -> None:
    geoms, codes = squares()
    index = GridIndex(geoms, codes)
    assert index.covering_one(1.0, 1.0).tolist() == [3, 1, 2, 0]  # A, B, C, D
    assert index.covering_one(1.0, 0.25).tolist() == [1, 0]
    assert index.covering_one(0.5, 0.5).tolist() == [0]
    assert index.covering_one(5.0, 5.0).tolist() == []
    x = np.array([1.0, 1.0, 0.5, 5.0, 1.5])
    y = np.array([1.0, 0.25, 0.5, 5.0, 1.5])
    assert index.locate(x, y).tolist() == [3, 1, 0, -1, 3]


def test_holes_multipolygons_and_overlaps() -> None:
    shell = shapely.Polygon([(0, 0), (10, 0), (10, 10), (0, 10)], [[(4, 4), (4, 6), (6, 6), (6, 4)]])
    enclave = shapely.box(4, 4, 6, 6)
    multi = shapely.MultiPolygon([shapely.box(20, 0, 22, 2), shapely.box(30, 0, 32, 2)])
    over = shapely.box(8, 8, 12, 12)  # overlaps the shell's corner
    index = GridIndex([shell, enclave, multi, over], ["B", "C", "M", "A"])
    assert index.locate_one(5, 5) == 1  # in the hole: the enclave
    assert index.locate_one(4, 5) == 0  # hole edge: shell (B) and enclave (C): B
    assert index.covering_one(4, 5).tolist() == [0, 1]
    assert index.locate_one(21, 1) == 2 and index.locate_one(31, 1) == 2
    assert index.locate_one(25, 1) == -1  # between the parts
    assert index.locate_one(9, 9) == 3  # overlap: A and B, A wins
    assert index.covering_one(9, 9).tolist() == [3, 0]
    assert index.covering_one(10, 10).tolist() == [3, 0]
    empty = GridIndex([shell, None, shapely.Polygon()], ["x", "y", "z"])
    assert empty.locate_one(1, 1) == 0 and empty.locate_one(5, 5) == -1


def test_no_grids_nan_and_far_points() -> None:
    index = GridIndex([], [])
    assert len(index) == 0
    assert index.locate([1.0, 2.0], [3.0, 4.0]).tolist() == [-1, -1]
    assert index.locate_one(1.0, 1.0) == -1
    assert index.covering_one(1.0, 1.0).tolist() == []
    assert index.nearest_one(1.0, 1.0) == (-1, float("inf"))
    assert index.near_one(1.0, 1.0, 100.0) == []
    geoms, codes = squares()
    index = GridIndex(geoms, codes)
    x = np.array([np.nan, 1e300, -1e300, 0.5, np.inf])
    y = np.array([0.5, 0.5, 0.5, np.nan, 0.5])
    assert index.locate(x, y).tolist() == [-1] * 5
    assert index.locate([], []).tolist() == []


def test_integer_lattice_every_edge_and_vertex() -> None:
    """Axis-parallel edges everywhere, coordinates that are exact and 'round'."""
    boxes = [shapely.box(i, j, i + 1, j + 1) for i in range(12) for j in range(9)]
    rng = np.random.default_rng(3)
    codes = [f"G{v:03d}" for v in rng.permutation(len(boxes))]
    index = GridIndex(boxes, codes)
    gx, gy = np.meshgrid(np.arange(0, 12.25, 0.25), np.arange(0, 9.25, 0.25))
    x = np.concatenate([gx.ravel(), rng.uniform(-1, 13, 5000)])
    y = np.concatenate([gy.ravel(), rng.uniform(-1, 10, 5000)])
    assert np.array_equal(index.locate(x, y), reference_locate(np.array(boxes), codes, x, y))


def test_cell_corner_exactly_on_an_edge() -> None:
    """Edges through (X1, py), X1 a column line of the raster: the symbolic perturbation."""
    # the diagonal y = x holds (X, X) exactly for every double X
    tri_a = shapely.Polygon([(0, 0), (1, 0), (1, 1)])
    tri_b = shapely.Polygon([(0, 0), (1, 1), (0, 1)])
    anti = shapely.Polygon([(1, 0), (2, 0), (2, 1), (1, 1)])
    geoms = np.array([tri_a, tri_b, anti], dtype=object)
    codes = ["B", "A", "C"]
    index = GridIndex(geoms, codes)
    colx = index._raster.args[5]
    lines = colx[(colx > 0) & (colx < 1)]
    assert len(lines) > 3
    size = index._raster.size
    xs, ys = [], []
    for X in lines:
        for d in (size * 0.5, size * 1e-3, size * 1e-9, np.spacing(X) * 4, 0.0):
            for px in (X - d, X + d):
                xs.append(px)
                ys.append(X)  # (X1, py) on the diagonal, p left or right of it
                xs.append(X)
                ys.append(px)
    x, y = np.array(xs), np.array(ys)
    assert np.array_equal(index.locate(x, y), reference_locate(geoms, codes, x, y))


def test_degenerate_raster_lines_are_moved(monkeypatch) -> None:
    """Column lines on vertices, and a row line through an edge at a column line, are avoided."""
    boxes = [shapely.box(i, j, i + 1, j + 1) for i in range(4) for j in range(4)]
    diag = [shapely.Polygon([(4, 0), (8, 0), (8, 4)]), shapely.Polygon([(4, 0), (8, 4), (4, 4)])]
    geoms = np.array(boxes + diag, dtype=object)
    codes = [f"G{i:02d}" for i in range(len(geoms))][::-1]
    # the origin on a vertex and cells of a quarter: every column line meets vertices
    monkeypatch.setattr(index_mod, "ORIGIN_SHIFT", 0.0)
    monkeypatch.setattr(index_mod, "CELLS_PER_EDGE", 512 / 70)  # 70 edges over 8 x 4: size 0.25
    real = K.row_reference_lines
    calls = []

    def forced(ys_sorted, oy, size, nrows, choice):
        yrs, ok = real(ys_sorted, oy, size, nrows, choice)
        if not calls:  # first try: the reference line of row 5 through the diagonal at a column line
            calls.append(True)
            yrs = yrs.copy()
            yrs[5] = forced_y[0]
        return yrs, ok

    forced_y = [0.0]
    monkeypatch.setattr(K, "row_reference_lines", forced)
    # find the column line the diagonal y = x - 4 crosses inside row 5, then build for real
    probe = GridIndex(geoms, codes)
    colx = probe._raster.args[5]
    size, oy = probe._raster.size, probe._raster.prm[1]
    lo, hi = oy + 5 * size, oy + 6 * size
    cand = [X for X in colx if lo < X - 4 < hi and X - 4 not in (lo, hi)]
    assert cand, (colx, lo, hi)
    forced_y[0] = cand[0] - 4
    calls.clear()
    index = GridIndex(geoms, codes)
    assert calls  # the forced line was tried and refused
    assert index._raster.size == 0.25
    assert index._raster.args[6][5] != forced_y[0]
    assert not np.any(np.isin(index._raster.args[5], shapely.get_coordinates(geoms)[:, 0]))
    rng = np.random.default_rng(5)
    gx, gy = np.meshgrid(np.arange(0, 8.125, 0.125), np.arange(0, 4.125, 0.125))
    x = np.concatenate([gx.ravel(), rng.uniform(-1, 9, 3000)])
    y = np.concatenate([gy.ravel(), rng.uniform(-1, 5, 3000)])
    assert np.array_equal(index.locate(x, y), reference_locate(geoms, codes, x, y))


# ---------------------------------------------------------------- against GEOS and itself


def test_matches_reference_on_sample_district(sample_district) -> None:
    grids = sample_district.plans["community"][0]
    g4 = grids[grids["level"] == 4]
    geoms, codes = g4["geom"].values, g4["code"].values
    index = GridIndex(geoms, codes)
    rng = np.random.default_rng(20261125)
    b = shapely.total_bounds(geoms)
    verts = shapely.get_coordinates(geoms)
    mids = (verts[:-1] + verts[1:]) / 2.0
    x = np.concatenate([rng.uniform(b[0], b[2], 100_000), verts[:, 0], mids[:, 0]])
    y = np.concatenate([rng.uniform(b[1], b[3], 100_000), verts[:, 1], mids[:, 1]])
    got = index.locate(x, y)
    assert np.array_equal(got, reference_locate(np.asarray(geoms), codes, x, y))
    assert (got >= 0).mean() > 0.5


def test_threads_serial_single_and_covering_agree(monkeypatch) -> None:
    geoms, codes, x, y = make_case(7, 5, 4, 6, True, True, True, True)
    index = GridIndex(geoms, codes)
    monkeypatch.setattr(index_mod, "PARALLEL_MIN", 10)
    threaded = index.locate(x, y)
    monkeypatch.setattr(index_mod, "PARALLEL_MIN", 1 << 40)
    serial = index.locate(x, y)
    assert np.array_equal(threaded, serial)
    for i in range(0, len(x), 7):
        cov = index.covering_one(x[i], y[i])
        assert index.locate_one(x[i], y[i]) == (cov[0] if len(cov) else -1) == serial[i]
    assert np.array_equal(serial, reference_locate(geoms, codes, x, y))


def test_orientation_is_exact() -> None:
    from fractions import Fraction

    rng = np.random.default_rng(1)
    for _ in range(3000):
        a = rng.uniform(121, 122, 2)
        b = rng.uniform(121, 122, 2)
        t = rng.random()
        c = a + t * (b - a)  # rounded: almost (or exactly) collinear
        c = c + rng.integers(-2, 3, 2) * np.spacing(c)
        fa, fb, fc = ([Fraction(float(v)) for v in p] for p in (a, b, c))
        det = (fa[0] - fc[0]) * (fb[1] - fc[1]) - (fa[1] - fc[1]) * (fb[0] - fc[0])
        want = (det > 0) - (det < 0)
        assert K.orient(a[0], a[1], b[0], b[1], c[0], c[1]) == want
        assert K.orient_exact(a[0], a[1], b[0], b[1], c[0], c[1]) == want


# ---------------------------------------------------------------- distances


def test_nearest_and_near_distances_in_metres() -> None:
    # two grids near Shanghai, 0.001 deg apart; a point east of the second one. The
    # Gauss-Kruger scale error at 1.4 deg from the central meridian is ~2.2e-4
    a = shapely.box(121.400, 31.200, 121.410, 31.210)
    b = shapely.box(121.411, 31.200, 121.420, 31.210)
    index = GridIndex([a, b], ["A", "B"])
    lon, lat = 121.4215, 31.205
    i, d = index.nearest_one(lon, lat)
    geodesic = GEOD.inv(121.420, lat, lon, lat)[2]  # due east of b's east edge
    assert i == 1
    assert d == pytest.approx(geodesic, rel=5e-4)
    near = index.near_one(lon, lat, 2000.0)
    assert [g for g, _ in near] == [1, 0]
    assert near[0][1] == pytest.approx(geodesic, rel=5e-4)
    assert near[1][1] == pytest.approx(GEOD.inv(121.410, lat, lon, lat)[2], rel=5e-4)
    assert index.near_one(lon, lat, 150.0) == [(1, pytest.approx(geodesic, rel=5e-4))]
    # covered: distance 0; in the gap between them, the distance to the nearer edge
    assert index.nearest_one(121.405, 31.205) == (0, 0.0)
    gi, gd = index.nearest_one(121.4105, 31.205)
    assert gi in (0, 1) and gd == pytest.approx(GEOD.inv(121.410, 31.205, 121.4105, 31.205)[2], rel=5e-4)
