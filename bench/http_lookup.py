"""The service-level part of the lookup benchmark: full answers in process and over HTTP.

Runs on the sample district (two published layers, people, 10,000 enterprises), the
data the README's `serve` starts with:
- ``full_answer_median_us``: ``gis.lookup.engine.answer`` for every layer, GCJ-02 input;
- over HTTP: `gridgis serve --workers 2`, loaded by Debian's `wrk -t1 -c16` on
  loopback, 5 interleaved rounds of 6 s per endpoint (medians): full answers at random points vs the app's no-op `/noop` (a sync FastAPI
  endpoint returning `{}`, the usual way endpoints are written) and vs the floor
  `/ping` (async plain text, the cheapest response possible), measured in the same
  run; p99 latency; a 100,000-point JSON batch; the extra resident memory of the
  worker processes while they answer a 1,000,000-point batch;
- p99 of `/lookup` at a dispatcher's load (wrk -c4) idle, then while a partition job
  (POST /plans/community/partition, the whole district as ~200 m cells, k = 50) runs
  and while a town atlas renders (GET .../atlas.pdf): both run in separate processes,
  so the lookup p99 should barely move (on 2 cores the job takes one of them).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parent.parent


def sample_store(folder: Path) -> Path:
    """A GeoPackage store with the sample district (generated once into ``folder``)."""
    path = folder / "bench_sample.gpkg"
    if not path.exists():
        subprocess.run([sys.executable, "-m", "gis", "sample", "--db", str(path)], check=True, capture_output=True)
    return path


def _points_in_district(store_path: Path, n: int, seed: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """GCJ-02 coordinates of random points inside the district (as a dispatcher sends them)."""
    import shapely

    from gis.crs import wgs84_to_gcj02
    from gis.store import open_store

    with open_store(str(store_path)) as store:
        outline = shapely.union_all(store.read("admin_units", {"level": 1}).geometry.to_numpy())
    rng = np.random.default_rng(seed)
    minx, miny, maxx, maxy = outline.bounds
    xs, ys = [], []
    while sum(len(x) for x in xs) < n:
        x = rng.uniform(minx, maxx, n)
        y = rng.uniform(miny, maxy, n)
        inside = shapely.contains_xy(outline, x, y)
        xs.append(x[inside])
        ys.append(y[inside])
    x = np.concatenate(xs)[:n]
    y = np.concatenate(ys)[:n]
    return wgs84_to_gcj02(x, y)


def measure_full_answer(store_path: Path, calls: int = 5000) -> float:
    from gis.live import load_snapshot
    from gis.lookup.engine import answer
    from gis.store import open_store

    with open_store(str(store_path)) as store:
        snap = load_snapshot(store)
    gx, gy = _points_in_district(store_path, calls)
    for i in range(200):
        answer(snap, float(gx[i]), float(gy[i]), "gcj02")
    times = []
    for i in range(calls):
        t = time.perf_counter_ns()
        answer(snap, float(gx[i]), float(gy[i]), "gcj02")
        times.append(time.perf_counter_ns() - t)
    return statistics.median(times) / 1000.0


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wrk(url: str, seconds: int, connections: int, script: Path | None) -> dict:
    cmd = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency"]
    if script:
        cmd += ["-s", str(script)]
    out = subprocess.run([*cmd, url], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    scale = {"us": 1e-3, "ms": 1.0, "s": 1e3}[p99.group(2)]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"rps": rps, "p99_ms": float(p99.group(1)) * scale, "non2xx": int(errors.group(1)) if errors else 0}


def _median_run(runs: list[dict]) -> dict:
    """The run of median throughput (its p99 with it); errors summed over all runs."""
    ordered = sorted(runs, key=lambda r: r["rps"])
    mid = dict(ordered[len(ordered) // 2])
    mid["non2xx"] = sum(r["non2xx"] for r in runs)
    return mid


def _worker_rss_mb(server_pid: int) -> float:
    """Resident memory of the server's processes (uvicorn's supervisor and workers)."""
    pids = [server_pid]
    try:
        out = subprocess.run(["pgrep", "-P", str(server_pid)], capture_output=True, text=True).stdout
        pids += [int(p) for p in out.split()]
    except FileNotFoundError:
        pass
    total = 0.0
    for pid in pids:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        m = re.search(r"VmRSS:\s+(\d+) kB", status)
        if m:
            total += int(m.group(1)) / 1024
    return total


@contextmanager
def _serving(store_path: Path, workers: int) -> Iterator[tuple[str, subprocess.Popen]]:
    """`gridgis serve --workers N` on ``store_path`` until the block ends: (base URL, process)."""
    port = _free_port()
    env = dict(os.environ, GRIDGIS_DATABASE_URL=str(store_path))
    server = subprocess.Popen(
        [sys.executable, "-m", "gis", "serve", "--port", str(port), "--workers", str(workers)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if httpx.get(base + "/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        yield base, server
    finally:
        server.terminate()
        server.wait(timeout=10)


def measure_http(store_path: Path, seconds: int = 30, workers: int = 2) -> dict:
    if shutil.which("wrk") is None:
        raise SystemExit("the HTTP part needs Debian's wrk: apt-get install wrk (or pass --no-http)")
    with _serving(store_path, workers) as (base, server), tempfile.TemporaryDirectory() as tmp:
        script = _lookup_script(store_path, Path(tmp))
        _wrk(base + "/ping", 3, 16, None)  # warm both workers
        _wrk(base + "/", 3, 16, script)
        # wrk keeps its 16 connections for a whole run and the kernel spreads them over
        # the 2 workers as it likes (all on one halves the rate): interleaved short
        # rounds, each with new connections, and the median of each endpoint
        rounds = 5
        runs: dict[str, list[dict]] = {"noop": [], "floor": [], "full": []}
        for _ in range(rounds):
            runs["noop"].append(_wrk(base + "/noop", max(2, seconds // rounds), 16, None))
            runs["floor"].append(_wrk(base + "/ping", max(2, seconds // rounds), 16, None))
            runs["full"].append(_wrk(base + "/", max(2, seconds // rounds), 16, script))
        noop, floor, full = (_median_run(runs[k]) for k in ("noop", "floor", "full"))
        bx, by = _points_in_district(store_path, 100_000, seed=5)
        body = json.dumps({"crs": "gcj02", "lon": bx.tolist(), "lat": by.tolist()})
        headers = {"content-type": "application/json"}
        httpx.post(base + "/lookup/batch", content=body, headers=headers, timeout=60)
        t = time.perf_counter()
        r = httpx.post(base + "/lookup/batch", content=body, headers=headers, timeout=60)
        batch_100k = time.perf_counter() - t
        assert r.status_code == 200 and r.json()["count"] == 100_000
        # a 1,000,000-point batch: the workers' extra resident memory while answering it
        mx, my = _points_in_district(store_path, 1_000_000, seed=6)
        big = json.dumps({"crs": "gcj02", "lon": mx.tolist(), "lat": my.tolist()})
        before = _worker_rss_mb(server.pid)
        peak = [before]
        done = threading.Event()

        def sample() -> None:
            while not done.is_set():
                peak.append(_worker_rss_mb(server.pid))
                time.sleep(0.02)

        sampler = threading.Thread(target=sample)
        sampler.start()
        r = httpx.post(base + "/lookup/batch", content=big, headers=headers, timeout=120)
        done.set()
        sampler.join()
        assert r.status_code == 200 and r.json()["count"] == 1_000_000
    return {
        "http_rps": full["rps"],
        "http_noop_rps": noop["rps"],
        "http_ratio_vs_noop": full["rps"] / noop["rps"],
        "http_floor_rps": floor["rps"],
        "http_ratio_vs_floor": full["rps"] / floor["rps"],
        "http_p99_ms": full["p99_ms"],
        "http_non2xx": full["non2xx"],
        "http_batch_100k_s": batch_100k,
        "batch_1m_peak_rss_mb": max(peak) - before,
    }


def _lookup_script(store_path: Path, folder: Path) -> Path:
    gx, gy = _points_in_district(store_path, 1000)
    script = folder / "points.lua"
    pts = ",".join(f"{{{x:.7f},{y:.7f}}}" for x, y in zip(gx, gy, strict=True))
    script.write_text(
        "local pts = {" + pts + "}\n"
        "request = function()\n"
        "  local p = pts[math.random(#pts)]\n"
        "  return wrk.format('GET', string.format('/lookup?lon=%.7f&lat=%.7f&crs=gcj02', p[1], p[2]))\n"
        "end\n"
    )
    return script


def measure_during_jobs(store_path: Path, seconds: int = 8, workers: int = 2) -> dict:
    """Lookup p99 idle, during a partition job and during an atlas render (see the module doc)."""
    if shutil.which("wrk") is None:
        raise SystemExit("the HTTP part needs Debian's wrk: apt-get install wrk (or pass --no-http)")
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "jobs.gpkg"
        shutil.copy(store_path, db)  # the job writes a draft plan: keep the shared sample clean
        with _serving(db, workers) as (base, _):
            script = _lookup_script(store_path, Path(tmp))
            _wrk(base + "/", 3, 4, script)  # warm both workers
            idle = _wrk(base + "/", seconds, 4, script)
            # a partition job: started, then measured while its process works
            job = httpx.post(base + "/plans/community/partition", json={
                "parent_code": "310199", "k": 50, "units": "cells", "cell_size": 200.0}, timeout=30).json()  # fmt: skip
            time.sleep(2.0)  # past the spawn, into the solver
            during_job = _wrk(base + "/", seconds, 4, script)
            state = httpx.get(base + job["href"], timeout=30).json()
            job_ran_throughout = state["status"] == "running"
            while state["status"] == "running":
                time.sleep(1.0)
                state = httpx.get(base + job["href"], timeout=30).json()
            # an atlas render in the print process (11 town boards of the district)
            result: dict = {}

            def atlas() -> None:
                t = time.perf_counter()
                r = httpx.get(base + "/plans/1/grids/310199/atlas.pdf", timeout=600)
                result.update(status=r.status_code, seconds=time.perf_counter() - t)

            thread = threading.Thread(target=atlas)
            thread.start()
            time.sleep(4.0)  # past the print process's start
            during_atlas = _wrk(base + "/", seconds, 4, script)
            atlas_ran_throughout = thread.is_alive()
            thread.join()
    return {
        "p99_idle_ms": idle["p99_ms"],
        "p99_during_partition_ms": during_job["p99_ms"],
        "p99_during_atlas_ms": during_atlas["p99_ms"],
        "partition_job_status": state["status"],
        "partition_job_s": state.get("seconds"),
        "partition_ran_throughout": job_ran_throughout,
        "atlas_status": result.get("status"),
        "atlas_s": result.get("seconds"),
        "atlas_ran_throughout": atlas_ran_throughout,
        "non2xx": idle["non2xx"] + during_job["non2xx"] + during_atlas["non2xx"],
    }

