"""Maps benchmark: vector tiles over HTTP on loopback (both backends), notice boards, atlas.

    .venv/bin/python bench/maps_bench.py            # ~2-3 min on the 2-core machine
    .venv/bin/python bench/maps_bench.py --rounds 1 --seconds 3 --no-atlas   # quick

The sample district is loaded (through the coverage gate, so ``grid_simplified`` is
written at publish) into a temporary GeoPackage and a throwaway PostGIS database
(``GRIDGIS_BENCH_PG``, default postgresql://postgres@127.0.0.1:5432/postgres; ANALYZEd
after loading), and ``gridgis serve`` (1 worker) runs on each. The tile set: the
community layer's grids at zooms 10-16, up to ``--per-zoom`` tiles a zoom over the
district.

Tiles, side by side in each of ``--rounds`` rounds (a fresh server per backend and
round, so every tile is uncached once a round; times pooled over the rounds):

- ``tile_uncached_median_ms_<backend>``: each tile requested once, one at a time, on
  one keep-alive connection (stdlib ``http.client``: a light client, so the time is
  the server's); the per-band frames of the embedded store are loaded by a warm-up
  request on other tiles first.
- ``http_ping_median_ms_<backend>``: ``/ping`` the same way: what HTTP itself costs.
- ``tile_cached_rps_<backend>``: wrk, 16 connections, the same tiles again (all cached),
  in the last round.
- ``st_asmvt_direct_median_ms``: the floor. The same tiles made by bare ``ST_AsMVT``
  statements through psycopg on one autocommit connection (prepared, no HTTP, no
  pool), right after each round's HTTP passes, doing the same work as the service:
  the same rows (the plan's grids up to the zoom's level) with the same geometries
  (the zoom band's ``grid_simplified`` rows). Two ways of writing it are timed,
  interleaved tile by tile: ``st_asmvt_join_median_ms``, the straight join of
  ``grid_simplified`` (its GiST index) to ``grids``, and ``st_asmvt_store_sql_median_ms``,
  the statement the store itself runs; the floor is the faster of the two medians.
  Every tile of the join is decoded and must hold exactly the features and
  attributes the service served. ``st_asmvt_stored_median_ms``: the earlier yardstick
  (stored grids of every level, no simplified geometries: not the same work), for
  comparison only.

Boards (on the GeoPackage, the sample's community plan; :func:`load_board` and
:func:`render_atlas` as the CLI calls them):

- ``board_s_per_page``: median of ``--boards`` renders of the notice board of a
  community (village level, with its unit grids), A4 landscape, to PDF bytes, after
  one warm-up render (``board_first_s``, which also loads matplotlib's fonts).
- ``atlas_pages``, ``atlas_s``: ``render_atlas`` of a town: one board page per village.

Ends with one JSON line.
"""

from __future__ import annotations

import argparse
import http.client
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
import mapbox_vector_tile
import psycopg
from psycopg import sql

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gis.coverage.gate import install  # noqa: E402
from gis.sample import generate_district, load_district  # noqa: E402
from gis.store import open_store  # noqa: E402
from gis.store.postgis import mvt_statement  # noqa: E402
from gis.tiles.layers import band_slack_deg, max_grid_level, zoom_band  # noqa: E402
from gis.tiles.mercator import BUFFER, EXTENT, tiles_covering  # noqa: E402

ZOOMS = range(10, 17)
LAYER = "community"
COMMUNITY = "310199001001"  # 金湾居委会 of the sample (48 unit grids), as the board tests use


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(db: str) -> tuple[subprocess.Popen, int]:
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "gis", "serve", "--port", str(port), "--workers", "1", "--db", db],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=ROOT,
    )
    for _ in range(600):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return proc, port
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


class _Client:
    """One keep-alive HTTP/1.1 connection (stdlib): GET -> body bytes."""

    def __init__(self, port: int) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def get(self, path: str) -> bytes:
        self.conn.request("GET", path)
        resp = self.conn.getresponse()
        body = resp.read()
        if resp.status != 200:
            raise SystemExit(f"GET {path}: {resp.status} {body[:300]!r}")
        return body

    def close(self) -> None:
        self.conn.close()


def _path(z: int, x: int, y: int) -> str:
    return f"/tiles/{LAYER}/{z}/{x}/{y}.mvt"


def measure_http(
    db: str, tiles: list[tuple[int, int, int]], warm: list[tuple[int, int, int]], wrk_seconds: int
) -> dict:
    """One fresh server: pings, every tile once (uncached), then wrk on the cached tiles."""
    proc, port = _serve(db)
    try:
        client = _Client(port)
        for z, x, y in warm:
            client.get(_path(z, x, y))
        for _ in range(50):
            client.get("/ping")
        pings = []
        for _ in range(200):  # the fixed cost of one request over loopback (client and framework)
            t = time.perf_counter()
            client.get("/ping")
            pings.append((time.perf_counter() - t) * 1000)
        times, bodies = [], []
        for z, x, y in tiles:
            t = time.perf_counter()
            body = client.get(_path(z, x, y))
            times.append((time.perf_counter() - t) * 1000)
            bodies.append(body)
        client.close()
        rps = (
            _wrk_rps(f"http://127.0.0.1:{port}", [_path(*t) for t in tiles], wrk_seconds)
            if wrk_seconds
            else None
        )
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    return {"times": times, "bodies": bodies, "pings": pings, "rps": rps}


# ---------------------------------------------------------------------- the floor

#: the bare statement doing the service's work: the zoom band's simplified geometry of
#: each of the plan's grids drawn at the zoom, by grid_simplified's GiST index
JOIN_SQL = (
    "SELECT ST_AsMVT(t.*, 'community', 4096, 'geom', 'id') FROM ("
    " SELECT g.id, g.code, g.name, g.level, g.parent_code,"
    " ST_AsMVTGeom(ST_Transform(s.geom, 3857), ST_TileEnvelope(%(z)s, %(x)s, %(y)s), 4096, 64, true) AS geom"
    " FROM grid_simplified s JOIN grids g ON g.plan_id = s.plan_id AND g.code = s.code"
    " WHERE s.plan_id = %(plan)s AND s.zoom_band = %(band)s AND g.level <= %(max_level)s"
    " AND s.geom && ST_Transform(ST_TileEnvelope(%(z)s, %(x)s, %(y)s, margin => %(margin)s), 4490)) t"
)

#: the earlier yardstick: stored grids of every level (other features than the service's)
STORED_SQL = (
    "SELECT ST_AsMVT(t.*, 'community', 4096, 'geom', 'id') FROM ("
    " SELECT g.id, g.code, g.name, g.level, g.parent_code,"
    " ST_AsMVTGeom(ST_Transform(g.geom, 3857), ST_TileEnvelope(%(z)s, %(x)s, %(y)s), 4096, 64, true) AS geom"
    " FROM grids g WHERE g.plan_id = %(plan)s"
    " AND g.geom && ST_Transform(ST_TileEnvelope(%(z)s, %(x)s, %(y)s, margin => %(margin)s), 4490)) t"
)


def _store_statement(plan_id: int, z: int, x: int, y: int) -> tuple[str, dict]:
    """The statement (and parameters) the PostGIS store runs for this tile."""
    band = zoom_band(z)
    return mvt_statement(
        "grids", LAYER, z, x, y, plan_id=plan_id, zoom_band=band, max_level=max_grid_level(z),
        slack=band_slack_deg(band), extent=EXTENT, buffer=BUFFER,
    )  # fmt: skip


def _bare_params(plan_id: int, z: int, x: int, y: int) -> dict:
    band = zoom_band(z)
    return {
        "z": z, "x": x, "y": y, "plan": plan_id, "band": -1 if band is None else band,
        "max_level": max_grid_level(z), "margin": (BUFFER + 1) / EXTENT,
    }  # fmt: skip


def _features(tile: bytes) -> dict:
    if not tile:
        return {}
    layer = mapbox_vector_tile.decode(bytes(tile)).get(LAYER, {"features": []})
    return {f["id"]: f["properties"] for f in layer["features"]}


def measure_bare(
    pg_url: str, plan_id: int, tiles: list[tuple[int, int, int]], warm: list[tuple[int, int, int]]
) -> dict:
    """Per tile, interleaved in a shuffled order: the join, the store's statement, the stored grids."""
    stmts = {
        "join": lambda t: (JOIN_SQL, _bare_params(plan_id, *t)),
        "store_sql": lambda t: _store_statement(plan_id, *t),
        "stored": lambda t: (STORED_SQL, _bare_params(plan_id, *t)),
    }
    times: dict[str, list[float]] = {k: [] for k in stmts}
    tiles_of_join = []
    rng = random.Random(11)
    with psycopg.connect(pg_url, autocommit=True, prepare_threshold=0) as conn:
        for t in warm:
            for make in stmts.values():
                query, params = make(t)
                conn.execute(query, params, binary=True).fetchone()
        for t in tiles:
            order = list(stmts)
            rng.shuffle(order)
            for name in order:
                query, params = stmts[name](t)
                start = time.perf_counter()
                row = conn.execute(query, params, binary=True).fetchone()
                times[name].append((time.perf_counter() - start) * 1000)
                if name == "join":
                    tiles_of_join.append(row[0] or b"")
    return {"times": times, "join_tiles": tiles_of_join}


# ---------------------------------------------------------------------- boards


def measure_boards(gpkg: str, plan_id: int, boards: int, atlas: bool) -> dict:
    try:  # the print functions' home (the CLI used to hold load_board)
        from gis.maps.prints import load_board
    except ImportError:
        from gis.cli_maps import load_board
    from gis.maps.atlas import render_atlas

    out: dict = {}
    with open_store(gpkg) as store:
        grids = store.grids(plan_id)
        community = (
            COMMUNITY
            if COMMUNITY in set(grids["code"])
            else sorted(grids.loc[grids["level"] == 3, "code"])[0]
        )
        town = str(grids.loc[grids["code"] == community, "parent_code"].iloc[0])

        def board_s() -> tuple[float, int]:
            """Seconds and pages of one board (its people table may continue on more pages)."""
            import matplotlib.pyplot as plt

            t = time.perf_counter()
            board = load_board(store, plan_id, community, paper="A4", orientation="landscape")
            pdf = board.pdf_bytes()
            took = time.perf_counter() - t
            assert pdf.startswith(b"%PDF")
            for figure in getattr(board, "figures", None) or [board.figure]:
                plt.close(figure)
            pages = getattr(board, "pages", 1)
            return took, (pages if isinstance(pages, int) and pages > 0 else 1)

        out["board_first_s"] = round(board_s()[0], 3)
        runs = [board_s() for _ in range(boards)]
        took, pages = statistics.median(t for t, _ in runs), runs[0][1]
        out["board_s"] = round(took, 3)
        out["board_pages"] = pages
        out["board_s_per_page"] = round(took / pages, 3)
        out["board_grid"] = community
        children = int((grids["parent_code"] == community).sum())
        print(f"board of {community} ({children} unit grids, A4 landscape, PDF): {pages} page(s), "
              f"median {took:.2f} s of {boards} = {out['board_s_per_page']:.2f} s/page "
              f"(first {out['board_first_s']:.2f} s)")  # fmt: skip
        if atlas:
            t = time.perf_counter()
            result = render_atlas(store, plan_id, town, paper="A4", orientation="landscape")
            took = time.perf_counter() - t
            out["atlas_grid"] = town
            pages = getattr(result, "page_count", None) or len(result.pages)
            out["atlas_pages"] = pages
            out["atlas_s"] = round(took, 2)
            out["atlas_s_per_page"] = round(took / max(1, pages), 3)
            out["atlas_pdf_mb"] = round(len(result.pdf) / 1e6, 2)
            print(f"atlas of town {town} ({result.parent_name}): {pages} pages in "
                  f"{took:.1f} s ({out['atlas_s_per_page']:.2f} s/page), {out['atlas_pdf_mb']} MB")  # fmt: skip
    return out


# ---------------------------------------------------------------------- main


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--per-zoom", type=int, default=30)
    ap.add_argument(
        "--rounds", type=int, default=3, help="fresh servers per backend (uncached passes)"
    )
    ap.add_argument("--seconds", type=int, default=5, help="wrk duration for the cached rate")
    ap.add_argument("--boards", type=int, default=3, help="timed board renders (after one warm-up)")
    ap.add_argument("--no-atlas", action="store_true", help="skip the atlas (about a minute)")
    ap.add_argument("--no-boards", action="store_true", help="tiles only")
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
            with psycopg.connect(pg_url, autocommit=True) as conn:
                conn.execute("ANALYZE")  # as autovacuum would soon: both sides plan with statistics
            with open_store(gpkg) as store:
                plan = store.published_plan(LAYER)
                top = store.grids(plan.id, level=1).total_bounds
            with open_store(pg_url) as store:
                pg_plan = store.published_plan(LAYER)
            rng = random.Random(7)
            tiles, warm = [], []
            for z in ZOOMS:
                cover = tiles_covering(tuple(top), z)
                rng.shuffle(cover)
                tiles += cover[: args.per_zoom]
                warm += cover[args.per_zoom : args.per_zoom + 1] or cover[:1]
            result: dict = {"tiles": len(tiles), "zooms": f"{ZOOMS.start}-{ZOOMS.stop - 1}",
                            "rounds": args.rounds}  # fmt: skip
            http_times: dict[str, list[float]] = {"gpkg": [], "postgis": []}
            pings: dict[str, list[float]] = {"gpkg": [], "postgis": []}
            rps: dict[str, float] = {}
            bare: dict[str, list[float]] = {"join": [], "store_sql": [], "stored": []}
            sizes: list[int] = []
            for r in range(args.rounds):
                last = r == args.rounds - 1
                served = {}
                for name, db in (("gpkg", gpkg), ("postgis", pg_url)):
                    m = measure_http(db, tiles, warm, args.seconds if last else 0)
                    http_times[name] += m["times"]
                    pings[name] += m["pings"]
                    served[name] = m["bodies"]
                    if m["rps"] is not None:
                        rps[name] = m["rps"]
                b = measure_bare(pg_url, pg_plan.id, tiles, warm)
                for k, v in b["times"].items():
                    bare[k] += v
                for t, ours_pg, ours_gpkg, floor in zip(
                    tiles, served["postgis"], served["gpkg"], b["join_tiles"], strict=True
                ):  # the same work: identical features and attributes in all three
                    f = _features(floor)
                    if not (_features(ours_pg) == f == _features(ours_gpkg)):
                        raise SystemExit(
                            f"tile {t}: the floor's features differ from the service's"
                        )
                sizes += [len(x) for x in served["postgis"]]
                print(f"round {r + 1}: postgis {statistics.median(http_times['postgis'][-len(tiles):]):.2f} ms, "
                      f"floor {min(statistics.median(b['times']['join']), statistics.median(b['times']['store_sql'])):.2f} ms, "
                      f"gpkg {statistics.median(http_times['gpkg'][-len(tiles):]):.2f} ms", flush=True)  # fmt: skip
            floor = {k: statistics.median(v) for k, v in bare.items()}
            direct = min(floor["join"], floor["store_sql"])
            for name in ("gpkg", "postgis"):
                t = http_times[name]
                med = statistics.median(t)
                print(f"{name:8s} uncached median {med:.2f} ms (p90 {statistics.quantiles(t, n=10)[-1]:.1f}), "
                      f"cached {rps[name]:.0f} tiles/s, /ping {statistics.median(pings[name]):.2f} ms")  # fmt: skip
                result[f"tile_uncached_median_ms_{name}"] = round(med, 3)
                result[f"tile_uncached_p90_ms_{name}"] = round(statistics.quantiles(t, n=10)[-1], 2)
                result[f"tile_cached_rps_{name}"] = round(rps[name], 1)
                result[f"http_ping_median_ms_{name}"] = round(statistics.median(pings[name]), 3)
            print(f"bare ST_AsMVT through psycopg (same tiles, same features): join {floor['join']:.2f} ms, "
                  f"the store's statement {floor['store_sql']:.2f} ms; stored grids (other features) "
                  f"{floor['stored']:.2f} ms")  # fmt: skip
            result["st_asmvt_direct_median_ms"] = round(direct, 3)
            result["st_asmvt_join_median_ms"] = round(floor["join"], 3)
            result["st_asmvt_store_sql_median_ms"] = round(floor["store_sql"], 3)
            result["st_asmvt_stored_median_ms"] = round(floor["stored"], 3)
            ratio = result["tile_uncached_median_ms_postgis"] / direct
            result["tile_uncached_ratio_postgis"] = round(ratio, 2)
            result["tile_median_bytes"] = statistics.median(sizes)
            print(f"postgis uncached / floor = {ratio:.2f}")
            if not args.no_boards:
                result.update(measure_boards(gpkg, plan.id, args.boards, not args.no_atlas))
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                (dbname,),
            )
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(dbname)))
    uncached = [result[f"tile_uncached_median_ms_{b}"] for b in ("gpkg", "postgis")]
    cached = [result[f"tile_cached_rps_{b}"] for b in ("gpkg", "postgis")]
    result["bars_met"] = {
        "board_le_3s_per_page": result.get("board_s_per_page", 99) <= 3,
        "tile_uncached_lt_50ms": max(uncached) < 50,
        "postgis_within_2x_of_bare": result["tile_uncached_ratio_postgis"] <= 2,
        "cached_ge_1000_rps": min(cached) >= 1000,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
