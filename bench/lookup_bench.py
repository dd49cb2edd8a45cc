"""Benchmark of point -> grid lookup (GridIndex) against its anchors, in one run.

    .venv/bin/python bench/lookup_bench.py                       # 10,000 grids, 1,000,000 points
    .venv/bin/python bench/lookup_bench.py --grids 900 --points 50000 --postgis-points 20000

Grids: a jittered lattice whose shared edges are wiggly noded polylines (~100
vertices a grid, like boundaries that follow roads and rivers, with some
axis-parallel pieces), neighbours sharing identical vertices; the set is checked
with ``shapely.coverage_is_valid``. Points: uniform over the extent (some fall
outside every grid) plus points exactly on shared boundaries (vertices, and points
on horizontal/vertical edge pieces, which floating point represents exactly).

Measured side by side: ours (``GridIndex.locate``), ``shapely.STRtree.query(points,
predicate="intersects")``, ``geopandas.sjoin`` and a PostGIS ``ST_Covers`` join with
a GiST index in a throwaway database (dropped at the end). Every point PostGIS
answers is compared with ours by the boundary rule (several rows for a point: the
lowest code owns it). The last line of output is one JSON object.
"""

from __future__ import annotations

import argparse
import gc
import io
import json
import os
import secrets
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import shapely

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

PG_ADMIN = os.environ.get("GRIDGIS_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")

# ---------------------------------------------------------------- data


def make_grids(n_grids: int, vertices: int = 100, seed: int = 7, lon0: float = 121.2, lat0: float = 31.0):
    """A valid coverage of about ``n_grids`` wiggly cells near (lon0, lat0), store CRS degrees.

    Returns (geoms, codes, info) where info holds the shared vertices and the
    axis-parallel pieces of shared edges, for boundary points.
    """
    rng = np.random.default_rng(seed)
    nx = max(1, int(round(np.sqrt(n_grids))))
    ny = max(1, int(np.ceil(n_grids / nx)))
    dx, dy = 0.003, 0.0027  # about 285 m x 300 m
    m = max(1, vertices // 4 - 1)  # interior vertices per side: 4 * (m + 1) vertices a cell
    # lattice nodes, jittered
    gx, gy = np.meshgrid(np.arange(nx + 1), np.arange(ny + 1), indexing="ij")
    nodes = np.stack([lon0 + gx * dx, lat0 + gy * dy], axis=-1).astype(np.float64)
    nodes[..., 0] += rng.uniform(-0.15, 0.15, nodes.shape[:2]) * dx
    nodes[..., 1] += rng.uniform(-0.15, 0.15, nodes.shape[:2]) * dy

    def wiggly(p0: np.ndarray, p1: np.ndarray, horizontal: bool, scale: float = 1.0) -> np.ndarray:
        """(k, m + 2, 2) polylines p0 -> p1 with m wiggly interior vertices."""
        k = len(p0)
        base = np.arange(1, m + 1) / (m + 1)
        t = base + rng.uniform(-0.3, 0.3, (k, m)) / (m + 1)
        t = np.concatenate([np.zeros((k, 1)), t, np.ones((k, 1))], axis=1)
        walk = np.cumsum(rng.normal(0.0, 1.0, (k, m + 2)), axis=1)
        walk -= np.linspace(0, 1, m + 2) * walk[:, -1:]  # bridge: 0 at both ends
        walk /= np.maximum(np.abs(walk).max(axis=1, keepdims=True), 1e-9)
        amp = 0.10 * scale * np.sin(np.pi * t) * walk  # taper to 0 at the nodes
        chord = p1 - p0
        normal = np.stack([-chord[:, 1], chord[:, 0]], axis=1)
        pts = p0[:, None, :] + t[..., None] * chord[:, None, :] + amp[..., None] * normal[:, None, :]
        # some axis-parallel pieces (streets aligned with the axes)
        for _ in range(3):
            i = rng.integers(1, m, size=k)  # piece i -> i+1, both interior
            axis = 1 if horizontal else 0
            pts[np.arange(k), i + 1, axis] = pts[np.arange(k), i, axis]
        pts[:, 0] = p0
        pts[:, -1] = p1
        # a polyline that crosses itself is drawn again, flatter
        bad = ~shapely.is_simple(shapely.linestrings(pts))
        if bad.any():
            pts[bad] = wiggly(p0[bad], p1[bad], horizontal, scale * 0.5) if scale > 0.01 else np.linspace(
                p0[bad], p1[bad], m + 2, axis=1)
        return pts

    # horizontal sides: node (i, j) -> (i + 1, j); vertical: (i, j) -> (i, j + 1)
    hp0 = nodes[:-1, :, :].reshape(-1, 2)
    hp1 = nodes[1:, :, :].reshape(-1, 2)
    hor = wiggly(hp0, hp1, True).reshape(nx, ny + 1, m + 2, 2)
    vp0 = nodes[:, :-1, :].reshape(-1, 2)
    vp1 = nodes[:, 1:, :].reshape(-1, 2)
    ver = wiggly(vp0, vp1, False).reshape(nx + 1, ny, m + 2, 2)
    # ring of cell (i, j): bottom (i,j)->(i+1,j), right, top reversed, left reversed
    bottom = hor[:, :-1, :-1]
    right = ver[1:, :, :-1]
    top = hor[:, 1:, ::-1][:, :, :-1]
    left = ver[:-1, :, ::-1][:, :, :-1]
    ring = np.concatenate([bottom, right, top, left], axis=2)
    ring = np.concatenate([ring, ring[:, :, :1]], axis=2).reshape(nx * ny, -1, 2)
    geoms = shapely.polygons(ring)
    geoms = geoms[:n_grids]
    keep_i, keep_j = np.unravel_index(np.arange(len(geoms)), (nx, ny))
    codes = np.array([f"310199{k:07d}" for k in rng.permutation(len(geoms))], dtype=object)
    # shared polylines (interior sides of kept cells) for boundary points
    kept = np.zeros((nx, ny), dtype=bool)
    kept[keep_i, keep_j] = True
    hshared = kept[:, 1:] & kept[:, :-1]  # horizontal side (i, j) for j in 1..ny-1
    vshared = kept[1:, :] & kept[:-1, :]
    info = {"hor": hor[:, 1:-1][hshared], "ver": ver[1:-1, :][vshared]}
    return geoms, codes, info


def boundary_points(info, n: int, seed: int = 11) -> tuple[np.ndarray, np.ndarray]:
    """n points exactly on shared boundaries: vertices, and points on axis-parallel pieces."""
    rng = np.random.default_rng(seed)
    hor, ver = info["hor"], info["ver"]
    out_x, out_y = [], []
    nv = n // 2
    lines = np.concatenate([hor, ver]) if len(hor) and len(ver) else (hor if len(hor) else ver)
    if not len(lines):
        return np.empty(0), np.empty(0)
    li = rng.integers(0, len(lines), nv)
    vi = rng.integers(0, lines.shape[1], nv)
    out_x.append(lines[li, vi, 0])
    out_y.append(lines[li, vi, 1])
    # pieces of horizontal sides with equal y, of vertical sides with equal x
    for arr, axis in ((hor, 1), (ver, 0)):
        if not len(arr):
            continue
        eq = arr[:, 1:, axis] == arr[:, :-1, axis]
        li, pi = np.nonzero(eq)
        k = (n - nv) // 2
        pick = rng.integers(0, len(li), k)
        a = arr[li[pick], pi[pick]]
        b = arr[li[pick], pi[pick] + 1]
        u = rng.uniform(0.0, 1.0, k)
        other = 1 - axis
        v = a[:, other] + u * (b[:, other] - a[:, other])
        lo = np.minimum(a[:, other], b[:, other])
        hi = np.maximum(a[:, other], b[:, other])
        v = np.clip(v, lo, hi)
        if axis == 1:
            out_x.append(v)
            out_y.append(a[:, 1])
        else:
            out_x.append(a[:, 0])
            out_y.append(v)
    return np.concatenate(out_x), np.concatenate(out_y)


def random_points(geoms, n: int, seed: int = 5) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    b = shapely.total_bounds(geoms)
    pad = 0.01 * (b[2] - b[0])
    return rng.uniform(b[0] - pad, b[2] + pad, n), rng.uniform(b[1] - pad, b[3] + pad, n)


def rule_owner(pi: np.ndarray, gi: np.ndarray, rank: np.ndarray, n: int) -> np.ndarray:
    """Owner per point from (point, grid) pairs: the lowest rank; -1 for none."""
    out = np.full(n, -1, dtype=np.int64)
    if len(pi):
        order = np.lexsort((rank[gi], pi))
        pi, gi = pi[order], gi[order]
        first = np.ones(len(pi), dtype=bool)
        first[1:] = pi[1:] != pi[:-1]
        out[pi[first]] = gi[first]
    return out


# ---------------------------------------------------------------- measurements


def timed(fn, *args, repeat: int = 1):
    best = float("inf")
    res = None
    for _ in range(repeat):
        gc.collect()
        t = time.perf_counter()
        res = fn(*args)
        best = min(best, time.perf_counter() - t)
    return best, res


def measure_single(index, x: np.ndarray, y: np.ndarray) -> float:
    """Median microseconds of one locate_one call (per-call perf_counter_ns)."""
    f = index.locate_one
    for i in range(min(len(x), 1000)):
        f(x[i], y[i])
    ts = np.empty(len(x), dtype=np.int64)
    clock = time.perf_counter_ns
    xl, yl = x.tolist(), y.tolist()
    for i in range(len(xl)):
        t0 = clock()
        f(xl[i], yl[i])
        ts[i] = clock() - t0
    return float(np.median(ts)) / 1000.0


_RSS_CHILD = r"""
import sys, json, numpy as np
sys.path.insert(0, sys.argv[1])
from bench.lookup_bench import make_grids, random_points
from gis.lookup.index import GridIndex
def status(key):
    for line in open("/proc/self/status"):
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024.0
    return float("nan")
geoms, codes, _ = make_grids(int(sys.argv[2]))
x, y = random_points(geoms, int(sys.argv[3]))
index = GridIndex(geoms, codes)
index.locate(x[:1000], y[:1000])
before = status("VmRSS")
try:  # reset the peak to the current RSS, so the peak after is the batch's own
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    reset = True
except OSError:
    reset = False
    before = status("VmHWM")
out = index.locate(x, y)
after = status("VmHWM")
import tracemalloc
tracemalloc.start()
index.locate(x, y)
traced = tracemalloc.get_traced_memory()[1] / 2**20
tracemalloc.stop()
print(json.dumps({"before_mb": before, "after_mb": after, "extra_mb": after - before, "reset": reset, "traced_mb": traced,
                  "index_mb": index._raster.nbytes / 2**20, "covered": int((out >= 0).sum())}))
"""


def measure_batch_rss(n_grids: int, n_points: int) -> dict | None:
    """Peak RSS (VmHWM) of a fresh process before and after one locate of n_points."""
    proc = subprocess.run(
        [sys.executable, "-c", _RSS_CHILD, str(ROOT), str(n_grids), str(n_points)],
        capture_output=True, text=True, timeout=600,
    )
    if proc.returncode != 0:
        print(proc.stderr, file=sys.stderr)
        return None
    return json.loads(proc.stdout.strip().splitlines()[-1])


def measure_postgis(geoms, codes, x, y, rank) -> tuple[float, np.ndarray, float] | None:
    """(seconds of the join query, owner per point by the rule, load seconds) in a throwaway DB."""
    try:
        import psycopg
        from psycopg import sql
    except ImportError:
        return None
    name = f"gridgis_bench_{secrets.token_hex(6)}"
    try:
        admin = psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=5)
    except psycopg.Error as e:
        print(f"PostGIS skipped: {e}", file=sys.stderr)
        return None
    with admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = PG_ADMIN.rsplit("/", 1)[0] + "/" + name
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            t_load = time.perf_counter()
            conn.execute("CREATE EXTENSION postgis")
            conn.execute("CREATE TABLE grids (idx integer, code text, geom geometry(Polygon, 4490))")
            conn.execute("CREATE TABLE pts (id integer, geom geometry(Point, 4490))")
            wkb = shapely.to_wkb(geoms, hex=True)
            with conn.cursor().copy("COPY grids (idx, code, geom) FROM STDIN") as cp:
                buf = io.StringIO()
                for i, (c, g) in enumerate(zip(codes, wkb, strict=True)):
                    buf.write(f"{i}\t{c}\tSRID=4490;{g}\n")
                cp.write(buf.getvalue())
            pw = shapely.to_wkb(shapely.points(x, y), hex=True)
            with conn.cursor().copy("COPY pts (id, geom) FROM STDIN") as cp:
                buf = io.StringIO()
                for i, g in enumerate(pw):
                    buf.write(f"{i}\tSRID=4490;{g}\n")
                cp.write(buf.getvalue())
            conn.execute("CREATE INDEX ON grids USING gist (geom)")
            conn.execute("ANALYZE grids")
            conn.execute("ANALYZE pts")
            t_load = time.perf_counter() - t_load
            t = time.perf_counter()
            rows = conn.execute(
                "SELECT p.id, g.idx FROM pts p JOIN grids g ON ST_Covers(g.geom, p.geom)"
            ).fetchall()
            t_join = time.perf_counter() - t
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                (name,),
            )
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))
    arr = np.array(rows, dtype=np.int64).reshape(-1, 2)
    return t_join, rule_owner(arr[:, 0], arr[:, 1], rank, len(x)), t_load


def service_figures(args) -> tuple[float | None, dict]:
    """Full answers in process and the HTTP figures, on the sample district (bench/http_lookup.py)."""
    if args.no_http and args.no_full:
        return None, {}
    import tempfile

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import http_lookup

    with tempfile.TemporaryDirectory() as tmp:
        store = http_lookup.sample_store(Path(tmp))
        full = None if args.no_full else round(http_lookup.measure_full_answer(store), 1)
        http = {} if args.no_http else http_lookup.measure_http(store, seconds=args.http_seconds)
        if args.jobs and not args.no_http:
            http["jobs"] = http_lookup.measure_during_jobs(store)
    return full, http


# ---------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--grids", type=int, default=10_000)
    ap.add_argument("--vertices", type=int, default=100, help="vertices per grid boundary")
    ap.add_argument("--points", type=int, default=1_000_000, help="random points")
    ap.add_argument("--boundary-points", type=int, default=10_000)
    ap.add_argument("--postgis-points", type=int, default=-1,
                    help="points given to PostGIS (all boundary points + random ones); -1 = all, 0 = skip")
    ap.add_argument("--sjoin-points", type=int, default=200_000, help="points for geopandas.sjoin")
    ap.add_argument("--single", type=int, default=10_000, help="locate_one calls")
    ap.add_argument("--no-rss", action="store_true", help="skip the peak-RSS subprocess")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--no-http", action="store_true", help="skip the HTTP figures (needs Debian's wrk)")
    ap.add_argument("--no-full", action="store_true", help="skip the full-answer figure")
    ap.add_argument("--http-seconds", type=int, default=30, help="wrk duration per endpoint")
    ap.add_argument("--jobs", action="store_true",
                    help="also the lookup p99 (wrk -c4) idle, during a partition job and during an atlas render")
    args = ap.parse_args(argv)

    from gis.lookup.index import GridIndex

    t0 = time.perf_counter()
    geoms, codes, info = make_grids(args.grids, args.vertices, seed=args.seed)
    assert bool(shapely.coverage_is_valid(geoms)), "generated grids are not a valid coverage"
    assert bool(shapely.is_valid(geoms).all()), "generated grids are not valid"
    rx, ry = random_points(geoms, args.points, seed=args.seed + 1)
    bx, by = boundary_points(info, args.boundary_points, seed=args.seed + 2)
    x = np.concatenate([rx, bx])
    y = np.concatenate([ry, by])
    n = len(x)
    nverts = float(np.mean(shapely.get_num_coordinates(geoms) - 1))
    print(f"data: {len(geoms)} grids, {nverts:.0f} vertices each, {len(rx)} random + {len(bx)} boundary points "
          f"({time.perf_counter() - t0:.1f} s)")

    # warm-up: load the compiled kernels (numba cache) outside every timing
    warm = GridIndex(geoms[:4], codes[:4])
    warm.locate(x[:10], y[:10])
    warm.locate_one(float(x[0]), float(y[0]))

    build_s = min(timed(GridIndex, geoms, codes)[0] for _ in range(2))
    index = GridIndex(geoms, codes)
    rank = index.rank
    ours_s, ours = timed(index.locate, x, y, repeat=3)
    import gis.lookup.index as index_mod

    saved = index_mod.PARALLEL_MIN
    index_mod.PARALLEL_MIN = 1 << 62
    try:
        ours1_s, ours1 = timed(index.locate, x, y, repeat=3)
    finally:
        index_mod.PARALLEL_MIN = saved
    assert np.array_equal(ours, ours1)

    pts = shapely.points(x, y)
    tree = shapely.STRtree(geoms)
    strtree_s, (pi, gi) = timed(tree.query, pts, "intersects")
    strtree_owner = rule_owner(pi, gi, rank, n)
    mism_strtree = int(np.count_nonzero(strtree_owner != ours))

    import geopandas as gpd

    ns = min(args.sjoin_points, n)
    sel_s = np.random.default_rng(3).choice(n, ns, replace=False) if ns < n else np.arange(n)
    gdf_g = gpd.GeoDataFrame({"code": codes}, geometry=geoms, crs="EPSG:4490")
    gdf_p = gpd.GeoDataFrame({"pid": sel_s}, geometry=pts[sel_s], crs="EPSG:4490")
    sjoin_s, joined = timed(gpd.sjoin, gdf_p, gdf_g, "inner", "intersects")

    pg = None
    mism_pg = None
    pg_compared = 0
    npg = n if args.postgis_points < 0 else min(args.postgis_points, n)
    if npg > 0:
        nb = len(bx)
        extra = max(npg - nb, 0)
        sel = np.concatenate([len(rx) + np.arange(nb), np.random.default_rng(4).choice(len(rx), extra, replace=False)])
        pg = measure_postgis(geoms, codes, x[sel], y[sel], rank)
        if pg is not None:
            pg_owner = pg[1]
            mism_pg = int(np.count_nonzero(pg_owner != ours[sel]))
            pg_compared = len(sel)
            if mism_pg:
                bad = sel[pg_owner != ours[sel]][:5]
                print("mismatches vs PostGIS (first):", [(float(x[i]), float(y[i])) for i in bad], file=sys.stderr)

    nsingle = min(args.single, len(rx))
    single_us = measure_single(index, rx[:nsingle], ry[:nsingle])

    rss = None if args.no_rss else measure_batch_rss(args.grids, args.points)
    full_us, http = service_figures(args)

    ours_rate = n / ours_s
    strtree_rate = n / strtree_s
    sjoin_rate = ns / sjoin_s
    pg_rate = (pg_compared / pg[0]) if pg else None

    def fmt(v):
        return "-" if v is None else f"{v:,.0f}"

    print()
    print(f"{'method':<34} {'points':>10} {'seconds':>9} {'points/s':>14} {'ours is x':>10}")
    rows = [
        ("ours GridIndex.locate (threads)", n, ours_s, ours_rate),
        ("ours GridIndex.locate (1 thread)", n, ours1_s, n / ours1_s),
        ("shapely STRtree.query intersects", n, strtree_s, strtree_rate),
        ("geopandas.sjoin intersects", ns, sjoin_s, sjoin_rate),
        ("PostGIS ST_Covers join (GiST)", pg_compared, pg[0] if pg else None, pg_rate),
    ]
    for name, cnt, s, rate in rows:
        ratio = (ours_rate / rate) if rate else None
        print(f"{name:<34} {cnt:>10,} {('-' if s is None else f'{s:.3f}'):>9} {fmt(rate):>14} "
              f"{('-' if ratio is None else f'{ratio:.1f}'):>10}")
    print()
    print(f"build: {build_s:.3f} s   locate_one median: {single_us:.2f} us   "
          f"index: {index._raster.nbytes / 2**20:.1f} MB, raster {index._raster.ncols}x{index._raster.nrows}, "
          f"{index._raster.nmixed} mixed cells")
    print(f"mismatches: vs STRtree {mism_strtree} of {n}; vs PostGIS {mism_pg} of {pg_compared}")
    if full_us is not None:
        print(f"full answer (all layers, people, enterprises, gcj02 input), sample district: {full_us:.1f} us median")
    if http:
        print(f"HTTP, serve --workers 2, wrk -t1 -c16, median of 5 interleaved rounds of {max(2, args.http_seconds // 5)} s: /lookup {http['http_rps']:,.0f} req/s "
              f"vs no-op {http['http_noop_rps']:,.0f} req/s = {http['http_ratio_vs_noop']:.2f} "
              f"(vs the async plain-text floor {http['http_floor_rps']:,.0f} req/s = {http['http_ratio_vs_floor']:.2f}); p99 {http['http_p99_ms']:.1f} ms; "
              f"100k batch {http['http_batch_100k_s']:.2f} s; 1M batch +{http['batch_1m_peak_rss_mb']:.0f} MB RSS")
    jobs = http.get("jobs") if http else None
    if jobs:
        print(f"lookup p99 at wrk -c4: idle {jobs['p99_idle_ms']:.1f} ms, during a partition job "
              f"{jobs['p99_during_partition_ms']:.1f} ms ({jobs['partition_job_status']}, {jobs['partition_job_s']:.0f} s), "
              f"during an atlas render {jobs['p99_during_atlas_ms']:.1f} ms ({jobs['atlas_s']:.0f} s)")
    if rss:
        print(f"batch of {args.points:,}: peak RSS {rss['before_mb']:.0f} -> {rss['after_mb']:.0f} MB "
              f"(+{rss['extra_mb']:.0f} MB; numpy allocations traced in the call: {rss['traced_mb']:.1f} MB)")

    result = {
        "grids": len(geoms),
        "points": n,
        "vertices_per_grid": round(nverts, 1),
        "ours_pts_per_s": round(ours_rate),
        "ours_1thread_pts_per_s": round(n / ours1_s),
        "strtree_pts_per_s": round(strtree_rate),
        "sjoin_pts_per_s": round(sjoin_rate),
        "postgis_pts_per_s": None if pg_rate is None else round(pg_rate),
        "ratio_vs_strtree": round(ours_rate / strtree_rate, 1),
        "ratio_1thread_vs_strtree": round((n / ours1_s) / strtree_rate, 1),
        "ratio_vs_sjoin": round(ours_rate / sjoin_rate, 1),
        "ratio_vs_postgis": None if pg_rate is None else round(ours_rate / pg_rate, 1),
        "mismatches_vs_postgis": mism_pg,
        "postgis_points_compared": pg_compared,
        "mismatches_vs_strtree": mism_strtree,
        "build_s": round(build_s, 3),
        "single_median_us": round(single_us, 2),
        "full_answer_median_us": full_us,
        "http_rps": http.get("http_rps"),
        "http_noop_rps": http.get("http_noop_rps"),
        "http_ratio_vs_noop": http.get("http_ratio_vs_noop"),
        "http_floor_rps": http.get("http_floor_rps"),
        "http_ratio_vs_floor": http.get("http_ratio_vs_floor"),
        "http_p99_ms": http.get("http_p99_ms"),
        "http_batch_100k_s": http.get("http_batch_100k_s"),
        # the service's extra resident memory while it answers a 1M-point HTTP batch
        "batch_1m_peak_rss_mb": None if "batch_1m_peak_rss_mb" not in http else round(http["batch_1m_peak_rss_mb"], 1),
        "batch_1m_inprocess_rss_mb": None if rss is None else round(rss["extra_mb"], 1),
        "batch_1m_traced_mb": None if rss is None else round(rss["traced_mb"], 1),
        "index_mb": round(index._raster.nbytes / 2**20, 1),
        "http_p99_idle_c4_ms": jobs and jobs["p99_idle_ms"],
        "http_p99_during_partition_ms": jobs and jobs["p99_during_partition_ms"],
        "http_p99_during_atlas_ms": jobs and jobs["p99_during_atlas_ms"],
    }
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
