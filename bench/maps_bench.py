"""Maps benchmark, tile part: vector tiles over HTTP on loopback, both backends.

    .venv/bin/python bench/maps_bench.py            # ~1 min on the 2-core machine

The sample district is loaded (through the coverage gate, so ``grid_simplified`` is
written at publish) into a temporary GeoPackage and a throwaway PostGIS database
(``GRIDGIS_BENCH_PG``, default postgresql://postgres@127.0.0.1:5432/postgres), and
``gridgis serve`` (1 worker) runs on each. The tile set: the community layer's
grids at zooms 10-16, up to ``--per-zoom`` tiles a zoom over the district.

- ``tile_uncached_median_ms_<backend>``: each tile requested once, one at a time
  (the server's first request for it: encoded, then cached); the per-band frames of
  the embedded store are loaded by a warm-up request on other tiles first.
- ``tile_cached_rps_<backend>``: wrk, 16 connections, the same tiles again (all cached).
- ``http_ping_median_ms_<backend>``: ``/ping`` the same way: what HTTP itself costs a request.
- ``st_asmvt_direct_median_ms``: the same tiles made by a bare ST_AsMVT query on the
  stored grids through psycopg (no band join, no HTTP): the floor of the PostGIS path.

Ends with one JSON line (the board keys are added by the boards' part).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import psycopg
from psycopg import sql

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gis.coverage.gate import install  # noqa: E402
from gis.sample import generate_district, load_district  # noqa: E402
from gis.store import open_store  # noqa: E402
from gis.tiles.mercator import tiles_covering  # noqa: E402

ZOOMS = range(10, 17)


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(db: str) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "gis", "serve", "--port", str(port), "--workers", "1", "--db", db],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=ROOT,
    )
    base = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            if httpx.get(base + "/health", timeout=1).status_code == 200:
                return proc, base
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.terminate()
    raise SystemExit(f"gridgis serve on {db} did not start")


def _wrk_rps(base: str, paths: list[str], seconds: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "tiles.lua"
        script.write_text(
            "local paths = {" + ",".join(f'"{p}"' for p in paths) + "}\n"
            "local i = 0\n"
            "request = function()\n  i = i % #paths + 1\n  return wrk.format('GET', paths[i])\nend\n"
        )
        out = subprocess.run(
            ["wrk", "-t1", "-c16", f"-d{seconds}s", "-s", str(script), base + "/"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    if re.search(r"Non-2xx or 3xx responses: (\d+)", out):
        raise SystemExit("tile requests failed:\n" + out)
    return float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))


def measure(
    db: str, tiles: list[tuple[int, int, int]], warm: list[tuple[int, int, int]], seconds: int
) -> dict:
    proc, base = _serve(db)
    try:
        with httpx.Client(base_url=base, timeout=30) as client:
            for z, x, y in warm:
                client.get(f"/tiles/community/{z}/{x}/{y}.mvt").raise_for_status()
            pings = []
            for _ in range(
                200
            ):  # the fixed cost of one request over loopback (client and framework)
                t = time.perf_counter()
                client.get("/ping").raise_for_status()
                pings.append((time.perf_counter() - t) * 1000)
            times, sizes = [], []
            for z, x, y in tiles:
                t = time.perf_counter()
                r = client.get(f"/tiles/community/{z}/{x}/{y}.mvt")
                times.append((time.perf_counter() - t) * 1000)
                r.raise_for_status()
                sizes.append(len(r.content))
        rps = _wrk_rps(base, [f"/tiles/community/{z}/{x}/{y}.mvt" for z, x, y in tiles], seconds)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    return {
        "uncached_median_ms": statistics.median(times),
        "uncached_p90_ms": statistics.quantiles(times, n=10)[-1],
        "cached_rps": rps,
        "median_bytes": statistics.median(sizes),
        "ping_median_ms": statistics.median(pings),
    }


def st_asmvt_direct(url: str, plan_id: int, tiles: list[tuple[int, int, int]]) -> float:
    query = (
        "SELECT ST_AsMVT(t.*, 'community', 4096, 'geom', 'id') FROM ("
        " SELECT g.id, g.code, g.name, g.level, g.parent_code,"
        " ST_AsMVTGeom(ST_Transform(g.geom, 3857), ST_TileEnvelope(%(z)s, %(x)s, %(y)s), 4096, 64, true) AS geom"
        " FROM grids g WHERE g.plan_id = %(plan)s"
        " AND g.geom && ST_Transform(ST_TileEnvelope(%(z)s, %(x)s, %(y)s, margin => 0.0158), 4490)) t"
    )
    times = []
    with psycopg.connect(url, autocommit=True) as conn:
        for z, x, y in tiles:
            t = time.perf_counter()
            conn.execute(query, {"z": z, "x": x, "y": y, "plan": plan_id}).fetchone()
            times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--per-zoom", type=int, default=30)
    ap.add_argument("--seconds", type=int, default=5, help="wrk duration for the cached rate")
    args = ap.parse_args()
    admin = os.environ.get("GRIDGIS_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
    dbname = f"gridgis_bench_{secrets.token_hex(4)}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname)))
    pg_url = admin.rsplit("/", 1)[0] + "/" + dbname
    try:
        with psycopg.connect(pg_url, autocommit=True) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
        district = generate_district()
        with tempfile.TemporaryDirectory() as tmp:
            gpkg = str(Path(tmp) / "bench.gpkg")
            for url in (gpkg, pg_url):
                with install(open_store(url)) as store:
                    load_district(store, district)
            with open_store(gpkg) as store:
                plan = store.published_plan("community")
                top = store.grids(plan.id, level=1).total_bounds
            rng = random.Random(7)
            tiles, warm = [], []
            for z in ZOOMS:
                cover = tiles_covering(tuple(top), z)
                rng.shuffle(cover)
                tiles += cover[: args.per_zoom]
                warm += cover[args.per_zoom : args.per_zoom + 1] or cover[:1]
            result = {"tiles": len(tiles), "zooms": f"{ZOOMS.start}-{ZOOMS.stop - 1}"}
            for name, db in (("gpkg", gpkg), ("postgis", pg_url)):
                r = measure(db, tiles, warm, args.seconds)
                print(f"{name:8s} uncached median {r['uncached_median_ms']:.1f} ms (p90 {r['uncached_p90_ms']:.1f}), "
                      f"cached {r['cached_rps']:.0f} tiles/s, median tile {r['median_bytes']:.0f} B, /ping {r['ping_median_ms']:.2f} ms")  # fmt: skip
                result[f"tile_uncached_median_ms_{name}"] = round(r["uncached_median_ms"], 2)
                result[f"tile_uncached_p90_ms_{name}"] = round(r["uncached_p90_ms"], 2)
                result[f"tile_cached_rps_{name}"] = round(r["cached_rps"], 1)
                result[f"http_ping_median_ms_{name}"] = round(r["ping_median_ms"], 2)
            direct = st_asmvt_direct(pg_url, plan.id, tiles)
            print(f"bare ST_AsMVT through psycopg: median {direct:.1f} ms")
            result["st_asmvt_direct_median_ms"] = round(direct, 2)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                (dbname,),
            )
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(dbname)))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
