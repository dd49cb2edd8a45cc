"""Repair of a plan's coverage, on request and never silently.

Built on GEOS ``coverage_clean`` (shapely >= 2.2). Level by level, top down, in
metres (the projected CRS of the plan):

1. invalid geometries are made valid (polygonal parts kept);
2. a grid is clipped to its (already repaired) parent: what lies outside the
   parent is cut off; the parent's own children get it back in step 4;
3. ``coverage_clean`` of the level: vertices closer than ``snap_m`` are snapped
   together, gaps narrower than ``gap_width_m`` go to the neighbour with the
   longest shared edge, and **overlaps go to the grid with the lowest code**
   (``merge_strategy="min_index"`` over the grids sorted by code). The rule is the
   lookup engine's boundary rule (a point on or in two grids belongs to the lowest
   code), so a repair never changes which grid a point already resolved to;
4. the level is clipped to the parents again (so a cleaned gap cannot be given
   across a parent boundary) and every piece of a parent that its children leave
   uncovered goes to the child of that parent with the longest shared edge.

Refused (``gis.errors.Conflict`` listing the findings): any gap, overlap or
crossing piece wider than ``gap_width_m`` (twice its largest inscribed radius).
A real gap between towns is a planning question, not a sliver. Level 1 is never
moved against the administrative outline; codes and people are not touched.
Every change is reported per grid with the area gained and lost (m^2).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry.base import BaseGeometry

from gis.coverage.check import (
    CoverageReport,
    Finding,
    Thresholds,
    _Ctx,
    _pieces,
    _polygonal,
    _prepare,
    check_coverage,
)
from gis.errors import Conflict, Problem
from gis.validate import as_multi

#: finding kinds repair can fix when their pieces are narrow enough
REPAIRABLE = ("gap", "overlap", "crosses_parent", "sliver", "invalid_geometry")


@dataclass
class Change:
    """One grid whose geometry the repair changed."""

    code: str
    level: int
    area_before_m2: float
    area_after_m2: float
    gained_m2: float
    lost_m2: float
    steps: tuple[str, ...]

    def to_dict(self) -> dict:
        d = asdict(self)
        d["steps"] = list(self.steps)
        return d

    def __str__(self) -> str:
        return (
            f"{self.code} (level {self.level}): {self.area_before_m2:.1f} -> {self.area_after_m2:.1f} m^2, "
            f"+{self.gained_m2:.2f} / -{self.lost_m2:.2f} m^2 ({', '.join(self.steps)})"
        )


@dataclass
class RepairResult:
    grids: gpd.GeoDataFrame
    changes: list[Change]
    before: CoverageReport
    after: CoverageReport


def repair_coverage(
    grids: gpd.GeoDataFrame,
    people: pd.DataFrame | None = None,
    outline: BaseGeometry | None = None,
    *,
    gap_width_m: float = 1.0,
    snap_m: float = 0.05,
    thresholds: Thresholds | None = None,
) -> RepairResult:
    """Repair gaps, overlaps, slivers, crossings and invalid geometries of a plan.

    Returns the repaired grids (same rows and columns, geometry in the store CRS),
    every change, and the check before and after. Raises Conflict, changing
    nothing, when a defect is wider than ``gap_width_m``.
    """
    th = thresholds or Thresholds()
    before = check_coverage(grids, people, outline, thresholds=th)
    too_wide = [
        f
        for f in before.findings
        if f.kind in ("gap", "overlap", "crosses_parent", "sliver")
        and f.detail.get("against") != "outline"
        and (f.width_m or 0.0) > gap_width_m
    ]
    if too_wide:
        raise Conflict(
            f"Repair refused: {len(too_wide)} defect(s) wider than the gap width {gap_width_m} m "
            "are planning questions; fix them by hand",
            f"拒绝修复：{len(too_wide)} 处缺陷宽于 {gap_width_m} 米，属于规划问题，请人工处理",
            [_problem(f) for f in too_wide],
        )

    if not before.projected_crs:
        return RepairResult(grids.copy(), [], before, before)
    grids, removed = _drop_exact_duplicates(grids)
    frame = _prepare(grids)
    ctx = _Ctx(frame, before.projected_crs, th)
    new = ctx.work.copy()
    steps: dict[int, list[str]] = {}
    for i in np.flatnonzero(
        ctx.work_ok & ~shapely.is_valid(np.where(ctx.work_ok, np.asarray(frame["geom"].to_numpy(), dtype=object), None))
    ):
        steps.setdefault(int(i), []).append("made valid")

    levels = sorted({int(v) for v in ctx.levels[ctx.work_ok]})
    for n, lv in enumerate(levels):
        rows = np.flatnonzero(ctx.work_ok & (ctx.levels == lv))
        order = rows[np.argsort(ctx.codes[rows], kind="stable")]
        parent = _parent_rows(ctx, order, lv) if n else np.full(len(order), -1)
        has = parent >= 0
        if has.any():
            new[order[has]] = shapely.intersection(new[order[has]], new[parent[has]])
        if len(order) > 1:
            new[order] = shapely.coverage_clean(
                new[order],
                gap_width=gap_width_m * ctx.deg_per_m,  # the overlay runs in the store CRS
                snapping_distance=snap_m * ctx.deg_per_m,
                merge_strategy="min_index",
            )
        if has.any():
            new[order[has]] = shapely.intersection(new[order[has]], new[parent[has]])
            _fill_parents(ctx, new, order[has], parent[has])
        new[order] = _polygonal(new[order])

    changes: list[Change] = list(removed)
    for i in np.flatnonzero(ctx.work_ok):
        old_v, cur = ctx.work[i], new[i]
        gained = float(ctx.area(shapely.difference(cur, old_v))[0])
        lost = float(ctx.area(shapely.difference(old_v, cur))[0])
        s = steps.get(int(i), [])
        if gained > th.noise_area_m2 or lost > th.noise_area_m2:
            s = [*s, "coverage repaired"]
        if s:
            changes.append(
                Change(
                    str(ctx.codes[i]),
                    int(ctx.levels[i]),
                    round(float(ctx.area(old_v)[0]), 3),
                    round(float(ctx.area(cur)[0]), 3),
                    round(gained, 3),
                    round(lost, 3),
                    tuple(s),
                )
            )

    out = grids.copy()
    if out.geometry.name != "geom":
        out = out.rename_geometry("geom")
    geoms = np.asarray(out["geom"].to_numpy(), dtype=object).copy()
    ok = ctx.work_ok
    geoms[ok] = as_multi(new[ok])
    out["geom"] = geoms
    after = check_coverage(out, people, outline, thresholds=th)
    return RepairResult(out, changes, before, after)


def _problem(f: Finding) -> Problem:
    size = f" ({f.width_m} m wide, {f.area_m2} m^2)" if f.width_m is not None else ""
    return Problem(
        f"{f.kind}: {f.message}{size}", f"{f.kind}：{f.message_zh}{size}", "grids", None, "geom"
    )


def _drop_exact_duplicates(grids: gpd.GeoDataFrame) -> tuple[gpd.GeoDataFrame, list[Change]]:
    """Rows repeating an earlier row's code AND geometry (a double import) are dropped;
    duplicates with different geometry are a planning question and stay."""
    codes = grids["code"].astype(str).to_numpy()
    geoms = np.asarray(grids.geometry.to_numpy(), dtype=object)
    drop = np.zeros(len(grids), dtype=bool)
    first: dict[str, int] = {}
    changes = []
    for i, c in enumerate(codes):
        if c not in first:
            first[c] = i
        elif (
            geoms[i] is not None
            and geoms[first[c]] is not None
            and bool(shapely.equals(geoms[i], geoms[first[c]]))
        ):
            drop[i] = True
            changes.append(
                Change(
                    c,
                    int(grids["level"].iloc[i]),
                    0.0,
                    0.0,
                    0.0,
                    0.0,
                    ("removed exact duplicate row",),
                )
            )
    if not drop.any():
        return grids, []
    return grids[~drop].reset_index(drop=True), changes


def _parent_rows(ctx: _Ctx, rows: np.ndarray, lv: int) -> np.ndarray:
    pr = np.array([ctx.row_of.get(p, -1) if p else -1 for p in ctx.parents[rows]], dtype=np.int64)
    ok = pr >= 0
    ok[ok] = ctx.work_ok[pr[ok]] & (ctx.levels[pr[ok]] == lv - 1)
    return np.where(ok, pr, -1)


def _fill_parents(ctx: _Ctx, new: np.ndarray, children: np.ndarray, parents: np.ndarray) -> None:
    """Give every piece of a parent its children leave uncovered to the child of that
    parent with the longest shared edge (in place)."""
    th = ctx.th
    for p in np.unique(parents):
        kids = children[parents == p]
        residual = shapely.difference(new[p], shapely.union_all(new[kids]))
        pieces = _pieces(ctx, residual, th.noise_area_m2 / 10)
        if not len(pieces):
            continue
        boundaries = shapely.boundary(new[kids])
        for piece in pieces:
            shared = shapely.length(shapely.intersection(shapely.boundary(piece), boundaries))
            if not (shared > 0).any():
                # touching only at points (or not at all): the nearest child
                shared = -shapely.distance(piece, new[kids])
            k = kids[int(np.argmax(shared))]
            new[k] = shapely.union(new[k], piece)
