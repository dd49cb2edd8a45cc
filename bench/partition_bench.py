"""Partition benchmark: ours against METIS, KaHIP, GerryChain, spopt and pygeoda.

Usage::

    .venv/bin/python bench/partition_bench.py --methods ours,metis,kahip --k 8 \
        --inputs sample_cells,jinshan --json partition.json --cap 120

Every (input, k, method) runs in its own subprocess with a time cap (pygeoda crashes
on some inputs). All methods get the same units, adjacency graph (islands joined by
our documented rule) and weights; every result is scored by the same function.
"""

from __future__ import annotations

import argparse
import json
import pickle
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

INPUTS = {
    "georgia": [8, 14],
    "sids2": [4, 8],
    "sample_villages": [8, 12],
    "sample_cells": [8, 50, 200],
    "jinshan": [8, 50],
    "scale30k": [8, 50, 200],
}
METHODS = [
    "ours", "metis", "metis2", "kahip", "gerrychain", "spopt_rkmeans", "spopt_skater",
    "pygeoda_skater", "pygeoda_redcap", "rebalance", "ours_at_metis", "ours_at_bar", "ours_tries",
]
#: solves ``ours_tries`` may make (``partition(..., tries=TRIES)``); its cap is this many
#: times ``--cap-ours``
TRIES = 4
REBALANCE_CASES = {("sample_cells", 8), ("jinshan", 8), ("sample_villages", 8)}
EXTRA: dict = {}  # method-specific numbers a worker passes back (rebalance)
JINSHAN = ROOT.parent / "shared" / "data" / "admin-cn" / "shanghai" / "fences" / "310116.json"


def build_input(name: str):
    """(units GeoDataFrame in metres, weight names)."""
    from gis.partition.units import aggregate_points, cells_frame, project_units

    if name in ("georgia", "sids2"):
        import geopandas as gpd
        import libpysal.examples as ex

        path = ex.get_path("G_utm.shp" if name == "georgia" else "sids2.shp")
        units = gpd.read_file(path)
        if units.crs is None:
            units = units.set_crs(32616 if name == "georgia" else 4326)
        units = project_units(units)
        return units.reset_index(drop=True), ["TotPop90" if name == "georgia" else "BIR74"]
    from gis.sample import generate_district
    from gis.sample.outline import to_projected

    if name == "jinshan":
        d = generate_district(outline=JINSHAN, outline_crs="gcj02")
        size = 300.0
    else:
        d = generate_district(n_enterprises=30_000 if name == "scale30k" else 10_000)
        size = 500.0 if name == "sample_cells" else 135.0
    if name == "sample_villages":
        v = d.admin_units[d.admin_units["level"] == 3].to_crs(d.projected_crs)
        v = v.reset_index(drop=True)
        v["enterprises"] = aggregate_points(v, d.enterprises)
        return v, ["enterprises", "area"]
    area = to_projected(d.outline, d.projected_crs)
    cells = cells_frame(area, size, d.projected_crs)
    cells["enterprises"] = aggregate_points(cells, d.enterprises)
    return cells, ["enterprises", "area"]


def _weights(units, names):
    return {n: (units.geometry.area.to_numpy() if n == "area" and n not in units else
                units[n].to_numpy(dtype=float)) for n in names}


def bar_tolerance(k: int) -> float:
    """The issue's balance bar: 2 % for k <= 50, 5 % at k = 200."""
    return 0.02 if k <= 50 else 0.05


def bar_allowance(units, names, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(weights normalised to a mean of 1 per grid, n x m; per weight, the bar's
    tolerance or the heaviest unit where one alone is heavier: the solver's
    ``allowance``)."""
    from gis.partition.solver import allowance

    w = _weights(units, names)
    wn = np.column_stack([w[n] / w[n].sum() * k for n in names])
    return wn, allowance(wn, bar_tolerance(k))


def metis_devs(units, names, k: int) -> dict[str, float]:
    """Per weight, the worst deviation METIS reaches on this input (as a fraction)."""
    labels = run_method("metis", units, names, k, 0.0)
    w = _weights(units, names)
    return {n: float(np.abs(np.bincount(labels, weights=w[n], minlength=k) / (w[n].sum() / k)
                            - 1).max()) for n in names}


def metis_tolerance(units, names, k: int) -> float:
    """The worst per-weight deviation METIS reaches on this input (as a fraction, at least
    the bench's own tolerance, below 1): ours run at it compares compactness at equal
    balance (``ours_at_metis``)."""
    return float(min(0.95, max(bar_tolerance(k), *metis_devs(units, names, k).values())))


def bar_tolerances(units, names, k: int) -> dict[str, float]:
    """Per weight, the balance the bar accepts (its allowance, :func:`bar_allowance`) but
    no looser than METIS's on this input, nor than the bar's tolerance where METIS is
    tighter: ours asked for it (``ours_at_bar``), one tolerance per weight, is within the
    balance bar and at least as balanced as METIS on every weight, so its roundness is
    judged against METIS's without trading balance for it.

    Why: where a unit alone is heavier than 2 %, the bar accepts that unit's weight, and
    the balance ours reaches beyond it (2 % on the villages, whose heaviest village holds
    21 % of a grid's enterprises) is paid for in roundness."""
    _, allow = bar_allowance(units, names, k)
    metis = metis_devs(units, names, k)
    return {n: round(float(min(0.99, a, max(bar_tolerance(k), metis[n]))), 4)
            for n, a in zip(names, allow, strict=True)}


def run_method(method: str, units, names, k: int, cap: float, tol=None) -> np.ndarray:
    from gis.partition.graph import build_graph

    if method == "rebalance":
        return run_rebalance(units, names, k)
    if method in ("ours", "ours_at_metis", "ours_at_bar", "ours_tries"):
        from gis.partition import partition

        tol = tol or bar_tolerance(k)
        tries = TRIES if method == "ours_tries" else 1
        r = partition(units, k, names, seed=0, tolerance=tol, check_tolerance=False, tries=tries)
        if tries > 1:
            EXTRA.update(tries=tries, seed=r.seed)
        return r.labels_
    g = build_graph(units.geometry.to_numpy())
    w = _weights(units, names)
    norm = np.column_stack([w[n] / w[n].sum() for n in names])
    blend = norm.mean(axis=1)
    iw = np.maximum(1, np.round(blend / blend.sum() * 1e6)).astype(np.int64)
    if method in ("metis", "metis2"):
        import warnings

        import pymetis

        warnings.simplefilter("ignore", DeprecationWarning)
        if method == "metis":  # one constraint: the blend, as integer vertex weights
            vw = iw
        else:  # two constraints (ncon = 2): vweights interleaved per vertex
            vw = np.maximum(1, np.round(norm * 1e6)).astype(np.int64).ravel()
        _, parts = pymetis.part_graph(
            k, xadj=g.indptr, adjncy=g.indices, vweights=vw.tolist(),
            options=pymetis.Options(contig=1),
        )
        return np.asarray(parts)
    if method == "kahip":
        import kahip

        # kaffpa(vwgt, xadj, adjcwgt, adjncy, nblocks, imbalance, suppress_output, seed, mode)
        # plain Python ints; imbalance 3 % (0 makes KaHIP crash); mode 2 = STRONG
        _, parts = kahip.kaffpa(
            [int(x) for x in iw], [int(x) for x in g.indptr], [1] * len(g.indices),
            [int(x) for x in g.indices], int(k), 0.03, True, 0, 2,
        )
        return np.asarray(parts)
    if method == "gerrychain":
        import warnings

        import networkx as nx
        from gerrychain import Graph

        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            from gerrychain.partition import recursive_tree_part
        except ImportError:
            from gerrychain.tree import recursive_tree_part
        G = nx.Graph()
        for v in range(g.n):
            G.add_node(v, pop=float(blend[v] * 1e6))
        i, j, _ = g.edges
        G.add_edges_from(zip(i.tolist(), j.tolist(), strict=True))
        tot = float(blend.sum() * 1e6)
        a = recursive_tree_part(Graph.from_networkx(G), range(k), tot / k, "pop",
                                bar_tolerance(k))
        return np.array([a[v] for v in range(g.n)])
    if method.startswith("spopt"):
        import warnings

        from libpysal.weights import W
        from spopt.region import RegionKMeansHeuristic, Skater

        warnings.simplefilter("ignore")
        nb = {v: g.indices[g.indptr[v]: g.indptr[v + 1]].tolist() for v in range(g.n)}
        wts = W(nb, silence_warnings=True)
        df = units.assign(blend=blend)
        if method == "spopt_rkmeans":
            m = RegionKMeansHeuristic(df[["blend"]].to_numpy(), k, wts)
        else:
            m = Skater(df, wts, ["blend"], n_clusters=k, floor=1, trace=False)
        m.solve()
        return np.asarray(m.labels_)
    if method.startswith("pygeoda"):
        import pygeoda

        gd = pygeoda.open(units.to_crs(4326))
        q = pygeoda.rook_weights(gd)
        bound = [float(x) for x in blend * 1e6]
        minb = 0.9 * sum(bound) / k
        if method == "pygeoda_skater":
            r = pygeoda.skater(k, q, _geoda_data(gd, units, blend),
                               bound_variable=bound, min_bound=minb)
        else:
            r = pygeoda.redcap(k, q, _geoda_data(gd, units, blend), "fullorder-wardlinkage",
                               bound_variable=bound, min_bound=minb)
        return np.asarray(r["Clusters"]) - 1
    raise ValueError(method)


def perturb(units, labels, weight: str, over: float = 0.30) -> np.ndarray:
    """A plan ``over`` off: grid 0 takes neighbouring boundary units (nearest to it
    first, each only if its own grid stays connected) until it holds (1 + over) x the
    mean of ``weight``."""
    from gis.partition.constraints import can_leave
    from gis.partition.graph import build_graph

    g = build_graph(units.geometry.to_numpy())
    lab = np.asarray(labels, dtype=np.int64).copy()
    w = units[weight].to_numpy(dtype=float)
    k = int(lab.max()) + 1
    target = (1.0 + over) * w.sum() / k
    stamp = np.zeros(g.n, dtype=np.int64)
    queue = np.empty(g.n, dtype=np.int64)
    tick = 0
    c0 = g.centroid[lab == 0].mean(axis=0)
    total = w[lab == 0].sum()
    while total < target:
        src = np.repeat(np.arange(g.n), np.diff(g.indptr))
        front = np.unique(src[(lab[g.indices] == 0) & (lab[src] != 0)])
        front = front[np.argsort(((g.centroid[front] - c0) ** 2).sum(axis=1), kind="stable")]
        grew = False
        for v in front:
            tick += 1
            if can_leave(int(v), lab, g.indptr, g.indices, stamp, queue, tick):
                lab[v] = 0
                total += w[v]
                grew = True
                if total >= target:
                    break
        if not grew:
            break
    return lab


def run_rebalance(units, names, k: int) -> np.ndarray:
    """Ours at k, pushed 30 % off on the first weight, then ``rebalance`` to 5 %."""
    from gis.partition import partition, rebalance

    if "area" in names and "area" not in units.columns:
        units = units.assign(area=units.geometry.area.to_numpy())
    base = partition(units, k, names, seed=0, tolerance=0.02, check_tolerance=False)
    plan = units.assign(grid=perturb(units, base.labels_, names[0]))
    t = time.perf_counter()
    r = rebalance(plan, "grid", names, tolerance=0.05)
    EXTRA.update(
        rebalance_seconds=round(time.perf_counter() - t, 3),
        max_dev_pct_before={n: round(v, 2) for n, v in r.max_dev_pct_before.items()},
        enterprises_moved=r.enterprises_moved,
        lower_bound=round(r.lower_bound, 2),
        moved_over_bound=round(r.enterprises_moved / max(r.lower_bound, 1e-9), 3),
        units_moved=len(r.moves),
    )
    return r.labels_


def _geoda_data(gd, units, blend):
    import pandas as pd

    return pd.DataFrame({"blend": blend * 1e6})


#: what each method imports, imported before its timer starts (start-up, not partitioning)
IMPORTS = {
    "ours": ["gis.partition"], "ours_at_metis": ["gis.partition", "pymetis"],
    "ours_at_bar": ["gis.partition", "pymetis"], "ours_tries": ["gis.partition"],
    "rebalance": ["gis.partition"], "metis": ["pymetis"], "metis2": ["pymetis"],
    "kahip": ["kahip"], "gerrychain": ["networkx", "gerrychain", "gerrychain.tree"],
    "spopt_rkmeans": ["libpysal.weights", "spopt.region"],
    "spopt_skater": ["libpysal.weights", "spopt.region"],
    "pygeoda_skater": ["pygeoda"], "pygeoda_redcap": ["pygeoda"],
}


def worker(args) -> None:
    import importlib

    units, names = pickle.loads(Path(args.worker_input).read_bytes())
    for module in IMPORTS.get(args.worker_method, []):
        importlib.import_module(module)
    tol = None
    if args.worker_method == "ours_at_metis":  # METIS first, outside the timing
        tol = metis_tolerance(units, names, args.worker_k)
        EXTRA["tolerance"] = round(tol, 4)
    if args.worker_method == "ours_at_bar":  # METIS first, outside the timing
        tol = bar_tolerances(units, names, args.worker_k)
        EXTRA["tolerance"] = tol
    t = time.perf_counter()
    labels = run_method(args.worker_method, units, names, args.worker_k, args.cap, tol)
    sec = time.perf_counter() - t
    Path(args.worker_out).write_bytes(pickle.dumps((labels, sec, EXTRA)))


def ruled_out(g, units, names, k: int) -> list[dict]:
    """The bar's own targets proven out of reach on this input (every weight within the
    bench's tolerance, or the heaviest unit where one alone is heavier: the solver's
    ``allowance``): the units of :func:`gis.partition.feasibility.crowded_units` at
    those allowances. Empty when nothing is proven (which does not prove the targets
    reachable). ``g`` is the units' graph."""
    from gis.partition.feasibility import crowded_units

    if len(names) < 2:
        return []
    wn, allow = bar_allowance(units, names, k)
    return [{"unit": c.unit, "weight": names[c.weight], "by": names[c.by],
             "by_at_least_pct": round(100 * c.need, 2), "weight_at_least_pct": round(100 * c.least, 1),
             "weight_allowed_pct": round(100 * c.limit, 1)}
            for c in crowded_units(g.indptr, g.indices, wn, allow, k)]


def grids_outside(units, names, k: int, labels: np.ndarray) -> int:
    """How many grids have any weight further from its mean than the bar allows (2 %
    for k <= 50, 5 % at k = 200, or the heaviest unit where one alone is heavier: the
    solver's ``allowance``, :func:`bar_allowance`). Why: the max deviation names the
    worst grid only; a plan with one grid out and one with every grid out have the same
    max."""
    wn, allow = bar_allowance(units, names, k)
    tallies = np.zeros((max(k, int(labels.max()) + 1), len(names)))  # an empty grid is out
    np.add.at(tallies, labels, wn)
    over = np.abs(tallies - 1.0) > allow + 1e-9
    return int(over.any(axis=1).sum())


def score_row(g, name, units, names, k, method, labels, sec, timed_out, error=None):
    """One row of the table, scored on the units' graph ``g`` (built once per input)."""
    from gis.partition.objective import score

    w = _weights(units, names)
    row = {"input": name, "units": len(units), "k": k, "method": method, "weights": names,
           "seconds": round(sec, 3), "timed_out": timed_out,
           "heaviest_unit_pct": {n: round(float(w[n].max() / (w[n].sum() / k) * 100), 2)
                                 for n in names}}
    if labels is None:
        row.update(max_dev_pct=None, noncontiguous=None, pp_mean=None, pp_min=None,
                   cut_edges=None, error=error)
        return row
    labels = np.asarray(labels, dtype=np.int64)
    _, labels = np.unique(labels, return_inverse=True)
    kk = int(labels.max()) + 1
    s = score(g, labels, w, kk)
    mean_dev = {}
    for n in names:  # deviations against the REQUESTED k (a wrong k counts against it)
        sums = np.bincount(labels, weights=w[n], minlength=k)
        mean_dev[n] = round(float(np.abs(sums / (w[n].sum() / k) - 1).max() * 100), 2)
    blend = np.column_stack([w[n] / w[n].sum() for n in names]).mean(axis=1)
    bsum = np.bincount(labels, weights=blend, minlength=k)
    row.update(blend_dev_pct=round(float(np.abs(bsum * k - 1).max() * 100), 2))
    row.update(grids_outside=grids_outside(units, names, k, labels))
    row.update(max_dev_pct=mean_dev, noncontiguous=s.noncontiguous + max(0, k - kk),
               pp_mean=round(s.pp_mean, 4), pp_min=round(s.pp_min, 4), cut_edges=s.cut_edges,
               k_found=kk)
    return row


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--methods", default=",".join(METHODS))
    ap.add_argument("--k", default="")
    ap.add_argument("--inputs", default=",".join(INPUTS))
    ap.add_argument("--json", default="")
    ap.add_argument("--cap", type=float, default=30.0, help="seconds per anchor run")
    ap.add_argument("--cap-ours", type=float, default=120.0, help="seconds per run of ours")
    ap.add_argument("--merge", default="", help="JSON rows of an earlier run to merge in "
                    "(rows of this run replace those with the same input, k, method)")
    ap.add_argument("--worker-input")
    ap.add_argument("--worker-method")
    ap.add_argument("--worker-k", type=int)
    ap.add_argument("--worker-out")
    args = ap.parse_args()
    if args.worker_input:
        worker(args)
        return
    from gis.partition.graph import build_graph

    ks_only = {int(x) for x in args.k.split(",") if x}
    rows = []
    tmp = Path(tempfile.mkdtemp(prefix="partbench_"))
    for name in args.inputs.split(","):
        units, names = build_input(name)
        inp = tmp / f"{name}.pkl"
        inp.write_bytes(pickle.dumps((units, names)))
        g = build_graph(units.geometry.to_numpy())
        for k in INPUTS[name]:
            if (ks_only and k not in ks_only) or k > len(units):
                continue
            proof = ruled_out(g, units, names, k)
            for method in args.methods.split(","):
                if method == "rebalance" and (name, k) not in REBALANCE_CASES:
                    continue
                cap = args.cap_ours if method.startswith("ours") or method == "rebalance" else args.cap
                cap *= TRIES if method == "ours_tries" else 1
                out = tmp / f"{name}_{k}_{method}.pkl"
                cmd = [sys.executable, __file__, "--worker-input", str(inp), "--worker-method",
                       method, "--worker-k", str(k), "--worker-out", str(out),
                       "--cap", str(args.cap)]
                t = time.perf_counter()
                try:
                    p = subprocess.run(cmd, timeout=cap, capture_output=True, text=True)
                    if p.returncode != 0 or not out.exists():
                        err = (p.stderr.strip().splitlines() or [f"exit {p.returncode}"])[-1]
                        row = score_row(g, name, units, names, k, method, None,
                                        time.perf_counter() - t, False, err)
                    else:
                        labels, sec, extra = pickle.loads(out.read_bytes())
                        row = score_row(g, name, units, names, k, method, labels, sec, False)
                        row.update(extra)
                except subprocess.TimeoutExpired:
                    row = score_row(g, name, units, names, k, method, None, cap, True,
                                    f"time cap {cap:g} s")
                row["ruled_out"] = proof
                rows.append(row)
                print(json.dumps(row, ensure_ascii=False), flush=True)
    if args.merge:
        mine = {(r["input"], r["k"], r["method"]) for r in rows}
        old = json.loads(Path(args.merge).read_text())
        rows = [r for r in old if (r["input"], r["k"], r["method"]) not in mine] + rows
        order = {n: i for i, n in enumerate(INPUTS)}
        rows.sort(key=lambda r: (order.get(r["input"], 99), r["k"],
                                 METHODS.index(r["method"]) if r["method"] in METHODS else 99))
    print_table(rows)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, ensure_ascii=False, indent=1))
    print(json.dumps(headline(rows), ensure_ascii=False))


def headline(rows) -> dict:
    """The last line: ours per input and k with the issue's keys, its Polsby-Popper over
    METIS's, whether the bar's balance target is proven out of reach, and rebalance."""
    metis = {(r["input"], r["k"]): r for r in rows if r["method"] == "metis"}
    keys = ("input", "units", "k", "seconds", "weights", "max_dev_pct", "heaviest_unit_pct",
            "noncontiguous", "pp_mean", "pp_min", "cut_edges", "timed_out", "grids_outside")
    ours = []
    for r in rows:
        if r["method"] != "ours":
            continue
        m = metis.get((r["input"], r["k"]))
        ours.append({key: r.get(key) for key in keys} | {
            "pp_over_metis": (round(r["pp_mean"] / m["pp_mean"], 3)
                              if m and m.get("pp_mean") and r.get("pp_mean") else None),
            "ruled_out": bool(r.get("ruled_out")),
        })
    rebalance = [{key: r.get(key) for key in ("input", "k", "max_dev_pct_before", "max_dev_pct",
                                              "enterprises_moved", "lower_bound", "moved_over_bound")}
                 for r in rows if r["method"] == "rebalance"]
    at_bar = []
    for r in rows:
        m = metis.get((r["input"], r["k"]))
        if r["method"] == "ours_at_bar" and r.get("pp_mean") and m and m.get("pp_mean"):
            at_bar.append({key: r.get(key) for key in ("input", "k", "tolerance", "max_dev_pct",
                                                        "grids_outside", "noncontiguous", "pp_mean")}
                          | {"pp_over_metis": round(r["pp_mean"] / m["pp_mean"], 3)})
    tries = [{key: r.get(key) for key in ("input", "k", "tries", "seed", "seconds", "max_dev_pct",
                                          "grids_outside", "noncontiguous", "pp_mean")}
             for r in rows if r["method"] == "ours_tries" and r.get("pp_mean")]
    return {"benchmark": "partition", "ours": ours, "ours_at_bar": at_bar, "ours_tries": tries,
            "rebalance": rebalance,
            "noncontiguous_ours": sum(r["noncontiguous"] or 0 for r in rows if r["method"] == "ours")}


def print_table(rows) -> None:
    """One line per run; anchor lines end with ours / anchor for pp_mean and seconds."""
    print(f"\n{'input':15} {'units':>6} {'k':>4} {'method':15} {'sec':>7} "
          f"{'maxdev% per weight':22} {'blend%':>7} {'out':>4} {'nc':>3} {'pp_mean':>7} "
          f"{'pp_min':>6} {'cut':>6}  ours/anchor: pp  sec")
    ours = {(r["input"], r["k"]): r for r in rows if r["method"] == "ours"}
    metis = {(r["input"], r["k"]): r for r in rows if r["method"] == "metis"}
    for r in rows:
        dev = "-" if r["max_dev_pct"] is None else " ".join(
            f"{v:.2f}" for v in r["max_dev_pct"].values())
        o = ours.get((r["input"], r["k"]))
        ratio = ""
        if o and o.get("pp_mean") and r.get("pp_mean") and r["method"] not in (
                "ours", "rebalance", "ours_at_metis", "ours_at_bar", "ours_tries"):
            ratio = (f"{o['pp_mean'] / r['pp_mean']:.2f}x "
                     f"{o['seconds'] / max(r['seconds'], 1e-3):.1f}x")
        if r["method"] == "rebalance" and "enterprises_moved" in r:
            ratio = (f"before {r['max_dev_pct_before']} moved {r['enterprises_moved']:g} "
                     f"bound {r['lower_bound']:g} ({r['moved_over_bound']:.2f}x)")
        m = metis.get((r["input"], r["k"]))
        if r["method"] == "ours_at_metis" and r.get("pp_mean") and m and m.get("pp_mean"):
            ratio = f"tolerance {r['tolerance']:g}: pp {r['pp_mean'] / m['pp_mean']:.2f}x METIS"
        if r["method"] == "ours_at_bar" and r.get("pp_mean") and m and m.get("pp_mean"):
            tol = " / ".join(f"{100 * v:g} %" for v in r["tolerance"].values())
            ratio = f"tolerance {tol}: pp {r['pp_mean'] / m['pp_mean']:.2f}x METIS"
        if r["method"] == "ours_tries" and "seed" in r:
            ratio = f"best of {r['tries']} seeds from 0: seed {r['seed']} kept"
        if r["method"] == "ours" and r.get("ruled_out"):
            c = r["ruled_out"][0]
            ratio += (f"  target ruled out: unit {c['unit']} takes >= {c['weight_at_least_pct']:g} % "
                      f"{c['weight']} with >= {c['by_at_least_pct']:g} % {c['by']} "
                      f"({c['weight_allowed_pct']:g} % allowed)")
        blend = r.get("blend_dev_pct")
        print(f"{r['input']:15} {r['units']:>6} {r['k']:>4} {r['method']:15} "
              f"{r['seconds']:>7.2f} {dev:22} {str(blend):>7} {str(r.get('grids_outside')):>4} "
              f"{str(r['noncontiguous']):>3} "
              f"{str(r['pp_mean']):>7} {str(r['pp_min']):>6} {str(r['cut_edges']):>6}  {ratio}"
              + ("  TIMEOUT" if r["timed_out"] else "")
              + (f"  {r.get('error')}" if r.get("error") and not r["timed_out"] else ""))


if __name__ == "__main__":
    main()
