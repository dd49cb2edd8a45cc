"""Assignment of a large point set: in process (streaming chunks) and on Dask.

Generates ``--points`` random points over the sample district's extent into a
Parquet file (row groups of ``--chunk`` rows) in a temporary folder, then assigns
every point to its grid of the chosen layer/levels twice:

- in process: :func:`gis.coverage.assign.parquet_chunks` -> :func:`assign_chunks`
  (the chunk function :func:`locate_chunk`), one chunk in memory at a time;
- on Dask: :func:`gis.coverage.dask.assign_dask` over ``dd.read_parquet`` (one
  partition per row group) on a LocalCluster of ``--workers`` single-threaded
  worker processes (or ``--scheduler ADDRESS``).

Checks both give the same grid for every point. Last line: one JSON object.

    .venv/bin/python bench/assign_bench.py                       # 10 M points, ~1-2 min
    .venv/bin/python bench/assign_bench.py --points 1000000      # quick
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def vm_hwm_mb() -> float:
    """Peak resident set of this process (VmHWM), MB."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")  # pragma: no cover


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")  # pragma: no cover


def reset_hwm() -> bool:
    """Reset this process's VmHWM to its current RSS (Linux /proc/self/clear_refs)."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:  # pragma: no cover
        return False


def write_points(path: Path, n: int, chunk: int, bounds, seed: int) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    minx, miny, maxx, maxy = bounds
    rng = np.random.default_rng(seed)
    schema = pa.schema([("x", pa.float64()), ("y", pa.float64())])
    with pq.ParquetWriter(path, schema, compression="snappy") as w:
        for start in range(0, n, chunk):
            m = min(chunk, n - start)
            t = pa.table({"x": rng.uniform(minx, maxx, m), "y": rng.uniform(miny, maxy, m)}, schema=schema)
            w.write_table(t, row_group_size=chunk)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--points", type=int, default=10_000_000)
    ap.add_argument("--chunk", type=int, default=1_000_000, help="rows per chunk / row group")
    ap.add_argument("--layer", default="community")
    ap.add_argument("--levels", default="finest", help="'finest', 'all' or a comma list, e.g. 3,4")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--scheduler", default=None, help="a running Dask scheduler's address")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--no-dask", action="store_true")
    args = ap.parse_args()

    from gis.coverage.assign import assign_chunks, level_indexes, locate_chunk, parquet_chunks
    from gis.sample import generate_district

    t0 = time.perf_counter()
    district = generate_district()
    grids, _ = district.plans[args.layer]
    indexes = level_indexes(grids)
    if args.levels == "finest":
        levels = [max(indexes)]
    elif args.levels == "all":
        levels = sorted(indexes)
    else:
        levels = [int(v) for v in args.levels.split(",")]
    chosen = [indexes[lv] for lv in levels]
    target = chosen[0] if len(chosen) == 1 else chosen
    ngrids = sum(len(ix) for ix in chosen)
    locate_chunk(target, np.zeros(10), np.zeros(10))  # compiled kernels loaded
    print(f"sample district and indexes: {time.perf_counter() - t0:.1f} s; layer {args.layer} "
          f"levels {levels}: {ngrids} grids")

    with tempfile.TemporaryDirectory(prefix="assign_bench_") as tmp:
        path = Path(tmp) / "points.parquet"
        t0 = time.perf_counter()
        write_points(path, args.points, args.chunk, district.outline.bounds, args.seed)
        gen_s = time.perf_counter() - t0
        size_mb = path.stat().st_size / 2**20
        print(f"wrote {args.points:,} points to Parquet ({size_mb:.0f} MB, row groups of {args.chunk:,}) "
              f"in {gen_s:.1f} s")

        # ---------------------------------------------------------------- in process
        shape = (args.points,) if len(chosen) == 1 else (args.points, len(chosen))
        ours = np.empty(shape, dtype=np.int32)
        ours.fill(-2)  # touch the pages: the kept result is not part of the streaming peak
        hwm_before = vm_hwm_mb()
        rss_before = rss_mb()
        reset_hwm()
        t0 = time.perf_counter()
        at = 0
        locate_s = 0.0
        chunks = parquet_chunks(path, rows=args.chunk)
        for pos in assign_chunks(target, _timed(chunks)):
            ours[at : at + len(pos)] = pos
            at += len(pos)
        inproc_s = time.perf_counter() - t0
        read_s = _timed.read_s
        locate_s = inproc_s - read_s
        assert at == args.points
        inproc_rate = args.points / inproc_s
        stream_hwm = vm_hwm_mb()
        main_hwm = max(hwm_before, stream_hwm)
        outside = float(np.mean((ours if ours.ndim == 1 else ours[:, -1]) < 0))
        print(f"in process: {inproc_s:.2f} s = {inproc_rate / 1e6:.2f} M points/s "
              f"(Parquet read {read_s:.2f} s, lookup {locate_s:.2f} s); outside every grid {outside:.1%}; "
              f"RSS {rss_before:.0f} MB before the stream, peak {stream_hwm:.0f} MB during it "
              f"(+{stream_hwm - rss_before:.0f} MB); process peak so far {main_hwm:.0f} MB")

        result = {
            "points": args.points,
            "grids": ngrids,
            "layer": args.layer,
            "levels": levels,
            "chunk_rows": args.chunk,
            "inprocess_s": round(inproc_s, 3),
            "inprocess_pts_per_s": round(inproc_rate),
            "inprocess_lookup_pts_per_s": round(args.points / max(locate_s, 1e-9)),
            "inprocess_read_s": round(read_s, 3),
            "dask_pts_per_s": None,
            "dask_s": None,
            "dask_cold_s": None,
            "dask_cold_pts_per_s": None,
            "dask_cluster_start_s": None,
            "dask_workers": 0,
            "dask_partitions": None,
            "identical": None,
            "mismatches": None,
            "inprocess_rss_before_mb": round(rss_before, 1),
            "inprocess_stream_peak_rss_mb": round(stream_hwm, 1),
            "main_peak_rss_mb": round(main_hwm, 1),
            "dask_worker_peak_rss_mb": None,
            "peak_rss_mb": round(main_hwm, 1),
            "cpu_count": os.cpu_count(),
        }

        # ---------------------------------------------------------------- Dask
        if not args.no_dask:
            from gis.coverage.dask import GridSpec, assign_dask, dask_client, read_points

            t0 = time.perf_counter()
            with dask_client(args.scheduler, n_workers=args.workers) as client:
                start_s = time.perf_counter() - t0
                nworkers = len(client.scheduler_info()["workers"])
                spec = GridSpec.of(target)
                ddf = read_points(path)
                # cold: workers import gis, load the compiled kernels, build the index
                t0 = time.perf_counter()
                theirs = assign_dask(ddf, spec, client=client)
                cold_s = time.perf_counter() - t0
                # warm: the index is cached in each worker (as the in-process run had it built)
                t0 = time.perf_counter()
                theirs = assign_dask(ddf, spec, client=client)
                dask_s = time.perf_counter() - t0
                hwm = client.run(vm_hwm_mb)
            same = theirs.shape == ours.shape and bool(np.array_equal(theirs, ours))
            mism = int(np.count_nonzero(theirs != ours)) if theirs.shape == ours.shape else None
            worker_peak = max(hwm.values()) if hwm else 0.0
            main_hwm = max(main_hwm, vm_hwm_mb())
            dask_rate = args.points / dask_s
            print(f"dask ({nworkers} workers, {ddf.npartitions} partitions): {dask_s:.2f} s = "
                  f"{dask_rate / 1e6:.2f} M points/s warm, {args.points / cold_s / 1e6:.2f} M points/s cold "
                  f"(cluster start {start_s:.1f} s, not counted); "
                  f"identical: {same}; worker peak RSS {', '.join(f'{v:.0f}' for v in hwm.values())} MB")
            result.update(
                dask_pts_per_s=round(dask_rate),
                dask_s=round(dask_s, 3),
                dask_cold_s=round(cold_s, 3),
                dask_cold_pts_per_s=round(args.points / cold_s),
                dask_cluster_start_s=round(start_s, 2),
                dask_workers=nworkers,
                dask_partitions=int(ddf.npartitions),
                identical=same,
                mismatches=mism,
                main_peak_rss_mb=round(main_hwm, 1),
                dask_worker_peak_rss_mb=round(worker_peak, 1),
                peak_rss_mb=round(max(main_hwm, worker_peak), 1),
            )
    bars = (
        result["inprocess_pts_per_s"] >= 3_000_000
        and result["peak_rss_mb"] < 2048
        and (args.no_dask or result["identical"] is True)
    )
    result["bars_met"] = bool(bars)
    print(json.dumps(result))


class _Timed:
    """Wraps the chunk reader to time the reading apart from the lookup."""

    def __init__(self) -> None:
        self.read_s = 0.0

    def __call__(self, chunks):
        it = iter(chunks)
        while True:
            t0 = time.perf_counter()
            try:
                item = next(it)
            except StopIteration:
                return
            finally:
                self.read_s += time.perf_counter() - t0
            yield item


_timed = _Timed()


if __name__ == "__main__":
    main()
