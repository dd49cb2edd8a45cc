"""Partition job: from a store area to a draft plan, the glue the CLI, the API and notebooks share.

``run_partition(store, request, progress)``:

1. the parent grid (``request.parent_code``, e.g. the town ``310199104``) is looked up in
   the layer's published plan, else among the admin units (a 9-digit town code means the
   admin unit ``310199104000``);
2. units: the admin units one level below the parent (``villages``), or square/hex
   ``cells`` of ``cell_size`` metres cut by the parent's outline;
3. weights on units: ``enterprises`` and ``incidents`` are point counts from the store,
   ``area`` is m^2 (computed by the solver in a projected CRS);
4. :func:`gis.partition.partition` gives k contiguous grids balanced on every weight;
5. the grids are dissolved from the store-CRS units (so they share the parent's
   boundary exactly), coded ``parent code + 3 digits`` and named ``<parent>第N网格``;
6. the draft plan: the published plan with the parent's descendants replaced by the new
   grids (people of the kept grids kept), or, without a published plan, the parent's
   admin chain plus the new grids; written in ONE ``store.write`` at the very end, so a
   job stopped before that leaves nothing behind.

``run_in_process`` is the entry point of a separate (spawned) process: it opens the
store by URL and writes progress and the outcome into the job's record in the store
(:mod:`gis.jobs`), which every API worker reads.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gis.errors import GridGisError, InvalidInput, NotFound, Problem
from gis.model import RISK_CLASSES, STORE_CRS, SupervisionLevel, admin_code_to_grid_code
from gis.partition.constraints import check_tries, tolerances
from gis.partition.diagnose import shortfall_notes
from gis.partition.output import barrier_share, dissolve, grids_frame
from gis.partition.solver import PartitionResult, partition
from gis.partition.units import aggregate_points, cells_frame, line_blocks

Progress = Callable[[float, str], None]

UNIT_KINDS = ("villages", "cells", "blocks")
#: the most solves one job may ask for (``tries``): each is a whole solve
MAX_TRIES = 20
#: how near a grid boundary must run to a road or river to count as following it (m):
#: blocks are cut by the lines themselves; village outlines are digitised apart from
#: road centre lines; cells get half a cell side (their staircase can come no closer)
BARRIER_NEAR_M = {"villages": 25.0, "blocks": 1.0}
POINT_WEIGHTS = {"enterprises": "enterprises", "incidents": "incidents"}
#: enterprises counted with a weight per risk class or supervision level
#: (``PartitionRequest.enterprise_weights``)
WEIGHTED_ENTERPRISES = "weighted_enterprises"
#: the enterprise columns a weighted count can go by, and their values
ENTERPRISE_WEIGHT_BY = {"risk_class": RISK_CLASSES, "supervision_level": tuple(s.value for s in SupervisionLevel)}
BY_ZH = {"risk_class": "风险等级", "supervision_level": "监管级别"}
#: per-grid table columns shown by the CLI and returned by the API (weights are added)
TABLE_BASE = ["code", "name", "units"]
TABLE_TAIL = ["area_km2", "polsby_popper", "neighbours"]


def missing_enterprise_weights() -> InvalidInput:
    """The refusal of ``weighted_enterprises`` without ``enterprise_weights``."""
    return InvalidInput(
        f"The weight {WEIGHTED_ENTERPRISES} needs enterprise_weights (a weight per risk class or "
        "supervision level, e.g. major=4, high=3, medium=2, low=1)",
        f"权重 {WEIGHTED_ENTERPRISES}（加权企业数）需要 enterprise_weights（按风险等级或监管级别的权重，"
        "如 major=4, high=3, medium=2, low=1）",
        [Problem("missing", "缺少", field="enterprise_weights")],
    )


@dataclass
class PartitionRequest:
    """What a planner asks for (the CLI options and the API body)."""

    layer: str
    parent_code: str
    #: number of grids; or leave it out and give ``grid_workload``
    k: int | None = None
    units: str = "villages"
    cell_size: float = 300.0
    #: cells sized from the workload instead: about this much of the first point weight
    #: (enterprises or incidents) per cell on average; overrides ``cell_size``
    cell_workload: float | None = None
    cell_shape: str = "square"
    weights: list[str] = field(default_factory=lambda: ["enterprises", "area"])
    seed: int = 0
    #: solve again from seed + 1, ... while a grid is outside its allowance, up to this
    #: many solves; the best kept (:func:`gis.partition.solver.partition`)
    tries: int = 1
    #: allowed deviation from the mean, for every weight (0.02 = 2 %) or one per weight
    #: naming each of ``weights`` ({"enterprises": 0.02, "area": 0.1})
    tolerance: float | dict[str, float] = 0.02
    plan_name: str | None = None
    #: units (village codes, or cell ids c0, c1, ...) to grow grids from, one grid each
    seed_units: list[str] = field(default_factory=list)
    #: unit -> group: units of one group end in the same grid and never move
    locked: dict[str, str] = field(default_factory=dict)
    #: partition even when the tolerance is provably out of reach (a unit heavier than
    #: it, or a cluster too dense for it), within the allowances, saying so in the notes;
    #: by default such a request is refused with the units that rule it out
    best_effort: bool = False
    #: grids of a target workload instead of k: about this much of ``workload_weight``
    #: per grid (enterprises, incidents: a count; area: km^2); k is the total over it,
    #: rounded (:func:`gis.partition.solver.k_for_workload`)
    grid_workload: float | None = None
    #: the weight ``grid_workload`` is counted in; default the first of ``weights``
    workload_weight: str | None = None
    #: the weight ``weighted_enterprises`` gives each enterprise by its
    #: ``enterprise_weight_by`` (``risk_class`` or ``supervision_level``), e.g.
    #: {"major": 4, "high": 3, "medium": 2, "low": 1}; an enterprise whose value is
    #: empty or not listed counts 1
    enterprise_weights: dict[str, float] | None = None
    enterprise_weight_by: str = "risk_class"

    def check(self) -> None:
        if (self.k is None) == (self.grid_workload is None):
            raise InvalidInput(
                "Give either k (the number of grids) or grid_workload (about how much work per grid), not "
                + ("both" if self.k is not None else "neither"),
                "请指定网格数 k 或每格工作量 grid_workload 之一" + ("，不能同时指定" if self.k is not None else ""),
                [Problem("exactly one of k, grid_workload", "k 与 grid_workload 只能指定其一", field="k")],
            )
        if self.k is not None and not (isinstance(self.k, int | np.integer) and self.k >= 1):
            raise InvalidInput(f"k must be a whole number of at least 1, got {self.k!r}",
                               f"网格数 k 必须为不小于 1 的整数，收到 {self.k!r}",
                               [Problem("not a whole number >= 1", "不是不小于 1 的整数", field="k")])  # fmt: skip
        check_tries(self.tries, MAX_TRIES)
        if self.grid_workload is not None:
            if not (isinstance(self.grid_workload, int | float) and self.grid_workload > 0):
                raise InvalidInput(
                    f"grid_workload must be a positive number, got {self.grid_workload!r}",
                    f"每格工作量 grid_workload 必须为正数，收到 {self.grid_workload!r}",
                    [Problem("not positive", "不是正数", field="grid_workload")],
                )
            if self.weights and self.workload_of() not in self.weights:
                raise InvalidInput(
                    f"workload_weight {self.workload_weight!r} is not among the weights {self.weights}",
                    f"工作量权重 {self.workload_weight!r} 不在均衡权重 {self.weights} 中",
                    [Problem("not a balanced weight", "不是均衡权重", field="workload_weight")],
                )
        if self.units not in UNIT_KINDS:
            raise InvalidInput(
                f"units must be one of {UNIT_KINDS}, got {self.units!r}",
                f"单元类型必须为 {UNIT_KINDS} 之一，收到 {self.units!r}",
            )
        if not self.weights:
            raise InvalidInput("Name at least one weight", "请至少指定一个权重")
        tolerances(self.tolerance, list(self.weights))
        if self.cell_workload is not None:
            if self.units == "villages":
                raise InvalidInput(
                    "cell_workload sizes generated cells; use it with units=cells or blocks",
                    "cell_workload 用于确定方格单元大小，请与 units=cells 或 blocks 一起使用",
                )
            if not self.cell_workload > 0:
                raise InvalidInput(
                    f"cell_workload must be positive, got {self.cell_workload}",
                    f"cell_workload 必须为正数，收到 {self.cell_workload}",
                )
            if not any(w in POINT_WEIGHTS for w in self.weights):
                raise InvalidInput(
                    "cell_workload needs a point weight (enterprises or incidents) among the weights",
                    "cell_workload 需要在权重中包含点权重（enterprises 或 incidents）",
                )
        self._check_enterprise_weights()
        if not str(self.parent_code).isdigit():
            raise InvalidInput(
                f"parent code {self.parent_code!r} must be digits",
                f"上级编码 {self.parent_code!r} 必须为数字",
            )

    def _check_enterprise_weights(self) -> None:
        wanted = WEIGHTED_ENTERPRISES in self.weights
        if not wanted and not self.enterprise_weights:
            return
        if wanted and not self.enterprise_weights:
            raise missing_enterprise_weights()
        if not wanted:
            raise InvalidInput(
                f"enterprise_weights are used by the weight {WEIGHTED_ENTERPRISES}; add it to the weights",
                f"enterprise_weights 用于权重 {WEIGHTED_ENTERPRISES}（加权企业数），请将其加入均衡权重",
                [Problem(f"{WEIGHTED_ENTERPRISES} not among the weights", f"均衡权重中没有 {WEIGHTED_ENTERPRISES}",
                         field="weights")],
            )
        values = ENTERPRISE_WEIGHT_BY.get(self.enterprise_weight_by)
        if values is None:
            raise InvalidInput(
                f"enterprise_weight_by must be one of {tuple(ENTERPRISE_WEIGHT_BY)}, got {self.enterprise_weight_by!r}",
                f"enterprise_weight_by 必须为 {tuple(ENTERPRISE_WEIGHT_BY)} 之一，收到 {self.enterprise_weight_by!r}",
                [Problem("unknown column", "未知字段", field="enterprise_weight_by")],
            )
        problems = []
        for key, value in self.enterprise_weights.items():
            if key not in values:
                problems.append(Problem(f"unknown {self.enterprise_weight_by} {key!r}; use {', '.join(values)}",
                                        f"未知的 {self.enterprise_weight_by} 取值 {key!r}；可用 {'、'.join(values)}",
                                        field="enterprise_weights"))  # fmt: skip
            elif not (isinstance(value, int | float) and np.isfinite(value) and value >= 0):
                problems.append(Problem(f"{key}: weight {value!r} is not a number >= 0",
                                        f"{key}：权重 {value!r} 不是不小于 0 的数", field="enterprise_weights"))
        if problems:
            raise InvalidInput("enterprise_weights has values it cannot use", "enterprise_weights 中有无法使用的取值",
                               problems)  # fmt: skip

    def workload_of(self) -> str:
        """The weight ``grid_workload`` is counted in."""
        return self.workload_weight or self.weights[0]


@dataclass
class Parent:
    code: str  # grid code
    level: int  # grid level
    name: str
    admin_code: str
    geom: Any  # shapely geometry in the store CRS
    base_grids: gpd.GeoDataFrame  # the grids of the plan the draft starts from
    base_people: pd.DataFrame
    base_plan_id: int | None


@dataclass
class PartitionOutcome:
    """The draft plan id (None when not written), the new grids and the per-grid table."""

    plan_id: int | None
    grids: gpd.GeoDataFrame  # new grids, store CRS, with the table columns
    table: pd.DataFrame
    result: PartitionResult
    units: gpd.GeoDataFrame  # the units (store CRS) with weights and ``grid`` (code)
    frames: dict[str, pd.DataFrame]  # what is (or would be) written
    parent: Parent
    #: share of the grids' inner boundary along roads or rivers and the distance that
    #: counts as along (m); None when the store has no lines there
    barrier: dict[str, float] | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "plan_id": self.plan_id,
            "parent_code": self.parent.code,
            "k": self.result.k,
            "units": len(self.units),
            "weights": list(self.result.weights),
            "max_dev_pct": {k: round(float(v), 3) for k, v in self.result.max_dev_pct.items()},
            "tolerance": dict(self.result.tolerance),  # per weight, as asked (0.02 = 2 %)
            "within_tolerance": self.result.within_tolerance(),
            "seed": self.result.seed,  # the seed whose grids these are (``tries``)
            "notes": [{"message": en, "message_zh": zh} for en, zh in self.result.notes],
            "seconds": round(float(self.result.seconds), 3),
            "barrier_share": self.barrier,
            "table": json.loads(self.table.to_json(orient="records", force_ascii=False, double_precision=4)),
        }


def _noop(_f: float, _m: str) -> None:
    return None


# ---------------------------------------------------------------------- the parent


def _admin_code(code: str) -> str:
    return code.ljust(12, "0") if len(code) <= 12 else code


def resolve_parent(store, layer: str, parent_code: str) -> Parent:
    """The parent grid and the plan the draft starts from (see the module doc)."""
    parent_code = str(parent_code)
    store._check_layer(layer)
    published = store.published_plan(layer)
    admin = store.read("admin_units")
    if published is not None:
        grids = store.grids(published.id)
        row = grids[grids["code"].astype(str) == parent_code]
        if len(row):
            r = row.iloc[0]
            ac = r.get("admin_code")
            return Parent(
                parent_code, int(r["level"]), str(r["name"]),
                str(ac) if isinstance(ac, str) and ac else _admin_code(parent_code),
                r["geom"], grids, store.people(published.id), published.id,
            )
    # no published plan holding it: the admin unit and its chain
    ac = _admin_code(parent_code)
    hit = admin[admin["code"].astype(str) == ac]
    if hit.empty:
        raise NotFound(
            f"No grid {parent_code} in the published {layer} plan and no admin unit {ac}",
            f"已发布的 {layer} 方案中没有网格 {parent_code}，也没有行政区划 {ac}",
        )
    chain = []
    cur = hit.iloc[0]
    while True:
        lv = int(cur["level"])
        chain.append(
            {
                "code": admin_code_to_grid_code(str(cur["code"]), lv),
                "name": str(cur["name"]),
                "level": lv,
                "admin_code": str(cur["code"]),
                "geom": cur["geom"],
            }
        )
        pc = cur.get("parent_code")
        up = admin[admin["code"].astype(str) == str(pc)] if isinstance(pc, str) and pc else admin.iloc[:0]
        if up.empty:
            break
        cur = up.iloc[0]
    chain.reverse()
    for i, c in enumerate(chain):
        c["parent_code"] = chain[i - 1]["code"] if i else None
    base = gpd.GeoDataFrame(chain, geometry="geom", crs=STORE_CRS)
    top = chain[-1]
    if top["code"] != parent_code:
        raise InvalidInput(
            f"parent code {parent_code} is not a grid code of admin unit {ac} (expected {top['code']})",
            f"上级编码 {parent_code} 与行政区划 {ac} 的网格编码 {top['code']} 不符",
        )
    people = pd.DataFrame(columns=["grid_code", "role", "name", "phone", "department"])
    return Parent(parent_code, top["level"], top["name"], ac, top["geom"], base, people, None)


# ---------------------------------------------------------------------- units


def load_units(store, parent: Parent, kind: str, cell_size: float = 300.0, shape: str = "square",
               lines: gpd.GeoDataFrame | None = None) -> gpd.GeoDataFrame:
    """Units of the parent in the store CRS with ``unit`` (a code, or a cell or block
    number); blocks are cut by ``lines`` (the parent's roads and rivers, read from the
    store when not given)."""
    if kind == "villages":
        admin = store.read("admin_units")
        sub = admin[admin["parent_code"].astype(str) == parent.admin_code]
        if sub.empty:
            raise InvalidInput(
                f"Admin unit {parent.admin_code} has no units below it; use --units cells",
                f"行政区划 {parent.admin_code} 没有下级单元；请使用 --units cells",
            )
        units = gpd.GeoDataFrame(
            {"unit": sub["code"].astype(str).to_numpy(), "unit_name": sub["name"].astype(str).to_numpy()},
            geometry=sub.geometry.to_numpy(), crs=STORE_CRS,
        )
        return units
    crs, area = _projected_area(parent)
    if kind == "blocks":
        lines = (_lines(store, parent) if lines is None else lines).to_crs(crs)
        if len(lines) == 0:
            raise InvalidInput(
                f"No roads or rivers in the store cross {parent.code}: blocks are cut by them; "
                "import lines (gridgis import lines ...) or use --units cells",
                f"库中没有穿过 {parent.code} 的道路或河流，无法按道路河流切分地块；"
                "请先导入线数据，或使用 --units cells",
            )
        geoms = line_blocks(area, lines.geometry.to_numpy(), float(cell_size), shape=shape)
        prefix = "b"
    else:
        geoms = cells_frame(area, float(cell_size), crs, shape=shape).geometry.to_numpy()
        prefix = "c"
    return gpd.GeoDataFrame(
        {"unit": [f"{prefix}{i}" for i in range(len(geoms))], "unit_name": ""},
        geometry=gpd.GeoSeries(geoms, crs=crs).to_crs(STORE_CRS).to_numpy(), crs=STORE_CRS,
    )


def _projected_area(parent: Parent):
    """The parent's projected CRS and its outline in it (metres)."""
    from gis.crs import projected_crs_for

    crs = projected_crs_for(np.array([parent.geom], dtype=object))
    return crs, gpd.GeoSeries([parent.geom], crs=STORE_CRS).to_crs(crs).iloc[0]


def _barrier(lines: gpd.GeoDataFrame, grids: gpd.GeoDataFrame, kind: str, cell_size: float) -> dict | None:
    """How much of the boundary between the new grids follows the roads and rivers
    (:func:`gis.partition.output.barrier_share`): the issue asks for it with cells,
    where the staircase of cell edges can only run within half a cell of a line."""
    if len(lines) == 0 or len(grids) < 2:
        return None
    near = 0.5 * cell_size if kind == "cells" else BARRIER_NEAR_M[kind]
    share = barrier_share(grids, lines.to_crs(grids.crs).geometry.to_numpy(), near)
    return {"share": round(share, 4), "within_m": round(near, 1)}


def _lines(store, parent: Parent) -> gpd.GeoDataFrame:
    """The store's roads and rivers crossing the parent (store CRS)."""
    lines = store.read("lines")
    return lines[shapely.intersects(lines.geometry.values, parent.geom)] if len(lines) else lines


def workload_cell_size(store, parent: Parent, weight: str, per_cell: float) -> float:
    """The cell side (m) giving about ``per_cell`` of the point weight ``weight`` per cell
    on average over the parent (:func:`gis.partition.units.cell_size_for`)."""
    from gis.partition.units import cell_size_for

    pts = store.read(POINT_WEIGHTS[weight])
    inside = int(shapely.contains_xy(parent.geom, *shapely.get_coordinates(pts.geometry.values).T).sum()) \
        if len(pts) else 0
    if inside == 0:
        raise InvalidInput(
            f"No {weight} inside {parent.code}: cells cannot be sized from that workload; give a cell size",
            f"{parent.code} 内没有 {weight}，无法按工作量确定单元大小；请指定单元边长",
        )
    _, area = _projected_area(parent)
    return cell_size_for(area, float(inside), per_cell)


def add_weights(store, units: gpd.GeoDataFrame, weights: list[str], enterprise_weights: dict | None = None,
                by: str = "risk_class") -> gpd.GeoDataFrame:
    """Point counts from the store for ``enterprises`` / ``incidents``, and for
    ``weighted_enterprises`` the enterprises' weights by their ``by`` column
    (:func:`enterprise_point_weights`); ``area`` is left to the solver."""
    out = units.copy()
    for w in weights:
        if w in POINT_WEIGHTS:
            pts = store.read(POINT_WEIGHTS[w])
            out[w] = aggregate_points(out, pts) if len(pts) else np.zeros(len(out))
        elif w == WEIGHTED_ENTERPRISES:
            if not enterprise_weights:
                raise missing_enterprise_weights()
            pts = store.read("enterprises")
            each = enterprise_point_weights(pts, enterprise_weights, by)
            out[w] = aggregate_points(out, pts, weights=each) if len(pts) else np.zeros(len(out))
        elif w != "area" and w not in out.columns:
            raise InvalidInput(
                f"Unknown weight {w!r}; use enterprises, {WEIGHTED_ENTERPRISES}, incidents or area",
                f"未知权重 {w!r}；可用 enterprises、{WEIGHTED_ENTERPRISES}、incidents 或 area",
            )
    return out


def enterprise_point_weights(enterprises: pd.DataFrame, weights: dict[str, float], by: str) -> np.ndarray:
    """Each enterprise's weight from its ``by`` value (risk class, supervision level):
    ``weights[value]``, 1 where the value is empty or not listed.

    Why 1: an enterprise not yet classed is still one to supervise; counting it 0 would
    let a grid of unclassed enterprises look empty.
    """
    values = enterprises[by].astype(object).where(enterprises[by].notna(), None)
    return np.array([float(weights.get(v, 1.0)) if v is not None else 1.0 for v in values], dtype=float)


def _weighted_note(store, request: PartitionRequest, units: gpd.GeoDataFrame) -> tuple[str, str]:
    """What ``weighted_enterprises`` counted: the weights and how many enterprises of
    the area were counted 1 for an empty or unlisted value."""
    pts = store.read("enterprises")
    by = request.enterprise_weight_by
    weights = request.enterprise_weights or {}
    inside = aggregate_points(units, pts).sum() if len(pts) else 0.0
    unlisted = ~pts[by].isin(list(weights)) if len(pts) else pd.Series(dtype=bool)
    other = aggregate_points(units, pts, weights=unlisted.to_numpy(float)).sum() if len(pts) else 0.0
    listed = ", ".join(f"{k} {v:g}" for k, v in weights.items())
    return (
        f"{WEIGHTED_ENTERPRISES}: enterprises counted by {by} ({listed}); {other:,.0f} of the "
        f"{inside:,.0f} here have no listed {by} and count 1 each",
        f"加权企业数按{BY_ZH[by]}（{by}）计（{listed}）；本区域 {inside:,.0f} 家企业中 {other:,.0f} 家无所列取值，各计 1",
    )


# ---------------------------------------------------------------------- the job


def _seeds_and_locks(units: gpd.GeoDataFrame, request: PartitionRequest) -> tuple[list | None, str | None]:
    """Seed units as row labels and a lock column, from unit ids; unknown ids refused by name."""
    ids = units["unit"].astype(str)
    known = set(ids)
    problems = [Problem(f"unknown unit {u!r}", f"未知单元 {u!r}", field="seed_units")
                for u in request.seed_units if str(u) not in known]
    problems += [Problem(f"unknown unit {u!r}", f"未知单元 {u!r}", field="locked")
                 for u in request.locked if str(u) not in known]  # fmt: skip
    if problems:
        raise InvalidInput(
            "Seed or locked units are not units of this area (village codes, or cell ids c0, c1, ...)",
            "种子或锁定单元不是本区域的单元（村居编码，或单元格编号 c0、c1……）",
            problems,
        )
    position = {u: i for i, u in enumerate(ids)}
    seeds = [units.index[position[str(u)]] for u in request.seed_units] or None
    locked_col = None
    if request.locked:
        units["locked_group"] = ids.map({str(k): str(v) for k, v in request.locked.items()})
        locked_col = "locked_group"
    return seeds, locked_col


def workload_total(units: gpd.GeoDataFrame, weight: str) -> float:
    """The whole of ``weight`` over the units, in the unit ``grid_workload`` is given in
    (area: km^2 in the units' projected CRS; any other weight: its column's sum)."""
    if weight == "area" and "area" not in units.columns:
        from gis.partition.units import project_units

        return float(project_units(units).geometry.area.sum()) / 1e6
    return float(units[weight].sum())


def _k_of(request: PartitionRequest, units: gpd.GeoDataFrame, parent: Parent):
    """k, given or from ``grid_workload``; with the latter also a function making the
    note that says what k it gave and the mean per grid (None with a given k)."""
    if request.grid_workload is None:
        return int(request.k), None
    from gis.partition.diagnose import WEIGHT_ZH
    from gis.partition.solver import amount, k_for_workload

    weight = request.workload_of()
    what, what_zh = ("km2", "面积（平方公里）") if weight == "area" else (weight, WEIGHT_ZH.get(weight, weight))
    total = workload_total(units, weight)
    try:
        k = k_for_workload(total, float(request.grid_workload), len(units), what, what_zh)
    except InvalidInput as exc:
        raise InvalidInput(f"{parent.code}: {exc.message}", f"{parent.code}：{exc.message_zh}", exc.problems) from None
    asked = float(request.grid_workload)

    def note(result: PartitionResult) -> tuple[str, str]:
        mean = total / result.k
        return (
            f"k = {result.k} grids from about {asked:g} {what} per grid: {amount(total)} in all, "
            f"{amount(mean)} per grid on average",
            f"按每格{what_zh}约 {asked:g} 划分：共 {amount(total)}，{result.k} 个网格，平均每格 {amount(mean)}",
        )

    return k, note


def run_partition(store, request: PartitionRequest, progress: Progress | None = None, *, write: bool = True) -> PartitionOutcome:
    """Partition the parent's units into k grids and write them into a new draft plan."""
    progress = progress or _noop
    request.check()
    progress(0.02, "parent")
    parent = resolve_parent(store, request.layer, request.parent_code)
    progress(0.08, "units")
    size = request.cell_size
    if request.cell_workload is not None:
        first = next(w for w in request.weights if w in POINT_WEIGHTS)
        size = workload_cell_size(store, parent, first, float(request.cell_workload))
    lines = _lines(store, parent)  # read once: blocks, the preference for them, the share
    units = load_units(store, parent, request.units, size, request.cell_shape, lines)
    units = add_weights(store, units, list(request.weights), request.enterprise_weights,
                        request.enterprise_weight_by)
    units.index = pd.Index(units["unit"].astype(str).to_numpy(), name="unit_id")  # errors name units
    seeds, locked_col = _seeds_and_locks(units, request)
    k, per_grid_note = _k_of(request, units, parent)
    progress(0.2, "partition")
    result = partition(units, k, list(request.weights), seed=request.seed, tries=request.tries,
                       tolerance=request.tolerance,
                       seeds=seeds, locked_col=locked_col, check_tolerance=not request.best_effort,
                       barriers=lines if request.units == "blocks" else None,
                       barrier_near=BARRIER_NEAR_M["blocks"],
                       progress=lambda f: progress(0.2 + 0.65 * f, "partition"))
    progress(0.85, "output")
    if request.cell_workload is not None:
        result.notes.insert(0, (
            f"Cells of {size:,.0f} m a side: about {request.cell_workload:g} {first} per cell on average",
            f"单元边长 {size:,.0f} 米：平均每格约 {request.cell_workload:g} 个 {first}",
        ))
    if per_grid_note is not None:
        result.notes.insert(0, per_grid_note(result))
    if WEIGHTED_ENTERPRISES in request.weights:
        result.notes.insert(0, _weighted_note(store, request, units))
    table = grids_frame(result, prefix=parent.code)
    result.notes.extend(shortfall_notes(result.shortfalls, list(table["code"]), result.k))
    barrier = _barrier(lines, table, request.units, size)
    if barrier is not None:
        pct, near = 100.0 * barrier["share"], barrier["within_m"]
        result.notes.append((
            f"{pct:.0f} % of the boundary between grids runs along roads or rivers (within {near:g} m)",
            f"网格之间的边界有 {pct:.0f} % 沿道路或河流（{near:g} 米以内）",
        ))
    geoms = dissolve(units.geometry.values, result.labels_, result.k)
    seq = [int(c[len(parent.code):]) for c in table["code"]]
    names = [f"{parent.name}第{n}网格" for n in seq]
    level = parent.level + 1
    new = gpd.GeoDataFrame(
        {
            "code": table["code"].to_numpy(),
            "name": names,
            "level": level,
            "parent_code": parent.code,
            "admin_code": None,
        },
        geometry=gpd.GeoSeries(geoms, crs=STORE_CRS).to_numpy(),
        crs=STORE_CRS,
    ).rename_geometry("geom")
    table = pd.DataFrame(table.drop(columns="geometry")).assign(name=names)
    cols = TABLE_BASE + [c for w in result.weights for c in (w, f"{w}_dev_pct")] + TABLE_TAIL
    table = table[cols]
    units = units.assign(grid=table["code"].to_numpy()[result.labels_])
    if "area" in result.units.columns and "area" not in units.columns:
        units["area"] = result.units["area"].to_numpy()  # m^2, as balanced
    table = table.sort_values("code", ignore_index=True)
    new = new.sort_values("code", ignore_index=True)

    base = parent.base_grids
    codes = base["code"].astype(str)
    below = codes.str.startswith(parent.code) & (base["level"].astype(int) > parent.level)
    kept = base.loc[~below, ["code", "name", "level", "parent_code", "admin_code", "geom"]]
    grids = pd.concat([kept, new], ignore_index=True)
    grids = gpd.GeoDataFrame(grids, geometry="geom", crs=STORE_CRS)
    people = parent.base_people
    if len(people):
        people = people[people["grid_code"].astype(str).isin(set(kept["code"].astype(str)))]
        people = people.drop(columns=[c for c in ("id", "plan_id") if c in people.columns])
    frames = {"grids": grids, "people": people}
    plan_id = None
    if write:
        progress(0.92, "write")
        from gis.store.base import NewPlan

        name = request.plan_name or f"{parent.name} {result.k} 网格（草稿）"
        note = json.dumps(
            {"partition": asdict(request), "base_plan": parent.base_plan_id,
             "max_dev_pct": {k: round(float(v), 3) for k, v in result.max_dev_pct.items()}},
            ensure_ascii=False,
        )
        written = store.write(frames, plan=NewPlan(request.layer, name, note))
        plan_id = written.plan_id
    progress(1.0, "done")
    return PartitionOutcome(plan_id, new, table, result, units, frames, parent, barrier)


def error_payload(exc: BaseException) -> dict[str, Any]:
    """An error as problem fields; ``classes`` (the exception's class names) let the API pick the status."""
    if isinstance(exc, GridGisError):
        return {
            "classes": [c.__name__ for c in type(exc).__mro__],
            "detail": exc.message,
            "detail_zh": exc.message_zh,
            "problems": [p.to_dict() for p in exc.problems],
        }
    return {"classes": [], "detail": f"{type(exc).__name__}: {exc}", "detail_zh": "内部错误", "problems": []}


def run_in_process(url: str, request: dict[str, Any], job_id: str, kind: str = "partition") -> None:
    """Entry point of a spawned job process: progress, then the result or the error, go
    into the job's record in the store (:mod:`gis.jobs`), which every API worker reads.
    ``kind``: ``partition`` (a :class:`PartitionRequest`) or ``rebalance`` (the keyword
    arguments of :func:`gis.partition.plan_rebalance.run_rebalance`).

    The error keeps ``classes`` (the exception's class names) so the API can pick the
    status without this process knowing HTTP. Stops quietly once the record says the
    job was cancelled.
    """
    from gis.jobs import JobStopped, background_priority, report
    from gis.store import open_store

    background_priority()
    store = open_store(url, init=False)
    try:
        last = {"stage": "", "at": 0.0}

        def progress(f: float, stage: str) -> None:
            """Into the store when the stage changes, else at most twice a second."""
            now = time.monotonic()
            if stage != last["stage"] or now - last["at"] >= 0.5:
                report(store, job_id, progress=float(f), stage=stage)
                last.update(stage=stage, at=now)

        try:
            report(store, job_id, pid=os.getpid())  # lets any worker on this host see it die
            if kind == "rebalance":
                from gis.partition.plan_rebalance import run_rebalance

                progress(0.1, "rebalance")
                outcome = run_rebalance(store, **request)
            else:
                outcome = run_partition(store, PartitionRequest(**request), progress)
            report(store, job_id, status="done", progress=1.0, stage="done", result=outcome.to_json())
        except JobStopped:
            return
        except BaseException as exc:  # noqa: BLE001 - every failure is reported
            try:
                report(store, job_id, status="failed", error=error_payload(exc))
            except JobStopped:
                return
    finally:
        store.close()
