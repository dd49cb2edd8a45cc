"""Coverage check of a grid plan: full, seamless, nested coverage (全覆盖、无盲区).

Pure: GeoDataFrames in (a plan's grids, its people, the area outline), a
:class:`CoverageReport` out. The overlays run in the store CRS (EPSG:4490), where
the coverage is defined: an edge is straight in longitude/latitude, and projecting
first would bend long edges differently on either side of a neighbour with more
vertices, inventing metre-wide gaps. Only the measuring (areas, widths) happens in
metres, on the pieces found, in the projected CRS of :func:`gis.crs.projected_crs_for`.

What is checked, per level of the plan (every level must cover the area):

- each level against its **area**: level 1 against the administrative outline
  (when given), level L >= 2 against the union of level L-1: ``gap`` pieces;
- ``overlap`` pieces between two grids of the same level (pairs found through the
  GEOS coverage validator: ``coverage_invalid_edges`` flags every polygon with an
  edge that does not match its neighbour; only flagged polygons are intersected);
- ``crosses_parent``: the part of a grid outside its parent grid;
- ``parent_not_covered``: a parent that has no child at all while its child level
  is in use (a village without unit grids); a parent partly uncovered shows as
  ``gap`` findings naming the parent;
- ``sliver``: a gap, overlap or crossing piece thinner than ``sliver_width_m``
  (twice the radius of its largest inscribed circle) or smaller than
  ``sliver_area_m2``; digitising noise that ``repair`` removes safely;
- ``outside_area``: level-1 grids beyond the administrative outline by more than
  ``outline_tolerance_m`` (pieces of level 1 vs outline narrower than that are the
  two sources disagreeing, and are ignored both ways);
- ``invalid_geometry`` (with the GEOS reason and its location), ``duplicate_code``,
  ``malformed_code`` (digits, length per level), ``code_not_extending_parent``
  (also a missing parent, or a parent not one level up);
- people: ``missing_grid_leader``, ``missing_responsible_officer``.

``coverage_union`` is used only when ``coverage_is_valid`` has passed for the
level (on overlapping input it silently returns a wrong area); otherwise the
robust ``union_all``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry.base import BaseGeometry

from gis.crs import geoms_from_store, projected_crs_for
from gis.model import GRID_CODE_LENGTH, GRID_LEVELS, STORE_CRS

ERROR = "error"
WARNING = "warning"

#: kind -> (severity, English title, Chinese title). ``missing_responsible_officer``
#: is an error at levels 1-3 and a warning at level 4 (see ``_people_findings``).
KINDS: dict[str, tuple[str, str, str]] = {
    "invalid_geometry": (ERROR, "invalid geometry", "几何图形无效"),
    "duplicate_code": (ERROR, "duplicate grid code", "网格编码重复"),
    "malformed_code": (ERROR, "malformed grid code", "网格编码格式错误"),
    "code_not_extending_parent": (
        ERROR,
        "code does not extend the parent's code",
        "编码未延续上级网格编码",
    ),
    "gap": (ERROR, "gap (area covered by no grid)", "空隙（无网格覆盖）"),
    "overlap": (ERROR, "overlap between grids", "网格重叠"),
    "crosses_parent": (ERROR, "grid crosses its parent's boundary", "网格越出上级网格边界"),
    "parent_not_covered": (ERROR, "parent grid has no child grids", "上级网格未被下级网格覆盖"),
    "sliver": (WARNING, "sliver (thin gap, overlap or crossing)", "细碎缝隙或重叠"),
    "outside_area": (WARNING, "grid outside the administrative outline", "网格超出行政区划边界"),
    "missing_grid_leader": (ERROR, "grid without a grid leader", "网格缺少网格长"),
    "missing_responsible_officer": (
        ERROR,
        "grid without a responsible officer",
        "网格缺少监管责任人",
    ),
}


@dataclass(frozen=True)
class Thresholds:
    """Sizes in metres / square metres that decide what is noise, a sliver, or a defect."""

    #: gap/overlap/crossing pieces thinner than this (2 x inscribed radius) are slivers
    sliver_width_m: float = 1.0
    #: ... or smaller than this
    sliver_area_m2: float = 1.0
    #: pieces smaller than this are floating-point noise of the overlay and ignored
    noise_area_m2: float = 1e-3
    #: level 1 vs the administrative outline: pieces narrower than this are ignored
    outline_tolerance_m: float = 5.0


@dataclass
class Finding:
    """One defect: what, how bad, which grids, how big, where (store CRS)."""

    kind: str
    severity: str
    grids: tuple[str, ...]
    geom: BaseGeometry | None
    level: int | None = None
    area_m2: float | None = None
    length_m: float | None = None
    width_m: float | None = None
    message: str = ""
    message_zh: str = ""
    detail: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("geom")
        d["grids"] = list(self.grids)
        return d


@dataclass
class CoverageReport:
    """The result of :func:`check_coverage`."""

    findings: list[Finding]
    grids: int
    levels: list[int]
    area_m2: float
    projected_crs: str
    thresholds: Thresholds

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == ERROR]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == WARNING]

    @property
    def ok(self) -> bool:
        """No errors (warnings may remain)."""
        return not self.errors

    def of_kind(self, kind: str) -> list[Finding]:
        return [f for f in self.findings if f.kind == kind]

    def counts(self) -> dict[str, dict[str, int]]:
        """{severity: {kind: n}}."""
        out: dict[str, dict[str, int]] = {ERROR: {}, WARNING: {}}
        for f in self.findings:
            out[f.severity][f.kind] = out[f.severity].get(f.kind, 0) + 1
        return out

    def to_frame(self) -> gpd.GeoDataFrame:
        """Findings as a GeoDataFrame (geometry ``geom``, store CRS; grids joined by commas)."""
        rows = []
        for f in self.findings:
            d = f.to_dict()
            d["grids"] = ",".join(f.grids)
            d["detail"] = "" if not f.detail else repr(f.detail)
            rows.append(d)
        cols = [
            "kind",
            "severity",
            "level",
            "grids",
            "area_m2",
            "length_m",
            "width_m",
            "message",
            "message_zh",
            "detail",
        ]
        frame = pd.DataFrame(rows, columns=cols)
        geoms = np.array([f.geom for f in self.findings], dtype=object)
        return gpd.GeoDataFrame(
            frame, geometry=gpd.GeoSeries(geoms, crs=STORE_CRS), crs=STORE_CRS
        ).rename_geometry("geom")


# ---------------------------------------------------------------------- the check


def check_coverage(
    grids: gpd.GeoDataFrame,
    people: pd.DataFrame | None = None,
    outline: BaseGeometry | None = None,
    *,
    thresholds: Thresholds | None = None,
) -> CoverageReport:
    """Check a plan's grids (all levels of one layer) for full, seamless, nested coverage.

    ``grids``: columns code, level, parent_code and geometry ``geom`` (store CRS).
    ``people``: columns grid_code, role; None skips the people checks.
    ``outline``: the administrative outline of the area (store CRS); None means the
    union of the level-1 grids is the area (no gap/outside check at level 1).
    """
    th = thresholds or Thresholds()
    frame = _prepare(grids)
    geoms = np.asarray(frame["geom"].to_numpy(), dtype=object)
    present = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    if not present.any():
        return CoverageReport([], len(frame), [], 0.0, "", th)
    crs = projected_crs_for(geoms[present]).to_string()
    ctx = _Ctx(frame, crs, th)
    findings: list[Finding] = []
    findings += _code_findings(ctx)
    findings += _geometry_findings(ctx, geoms, present)
    findings += _coverage_findings(ctx, outline)
    if people is not None:
        findings += _people_findings(ctx, people)
    order = {k: i for i, k in enumerate(KINDS)}
    findings.sort(key=lambda f: (f.level or 0, order.get(f.kind, 99), f.grids))
    area = (
        float(ctx.area(shapely.union_all(ctx.work[ctx.work_ok & (ctx.levels == ctx.top)]))[0])
        if ctx.top
        else 0.0
    )
    return CoverageReport(findings, len(frame), sorted(set(ctx.levels.tolist())), area, crs, th)


# ---------------------------------------------------------------------- preparation


def _prepare(grids: gpd.GeoDataFrame) -> pd.DataFrame:
    g = grids.rename_geometry("geom") if grids.geometry.name != "geom" else grids
    out = pd.DataFrame(
        {
            "code": g["code"].map(
                lambda v: "" if v is None or (isinstance(v, float) and np.isnan(v)) else str(v)
            ),
            "level": pd.to_numeric(g["level"], errors="coerce").fillna(0).astype(int),
            "parent_code": [_text(v) for v in g["parent_code"]]
            if "parent_code" in g
            else [None] * len(g),
            "geom": np.asarray(g.geometry.to_numpy(), dtype=object),
        }
    ).reset_index(drop=True)
    out["parent_code"] = out["parent_code"].astype(object).where(out["parent_code"].notna(), None)
    return out


def _text(v: Any) -> str | None:
    if v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NA:
        return None
    s = str(v).strip()
    return s or None


class _Ctx:
    """The plan in metres, with working (made-valid) geometries and index helpers."""

    def __init__(self, frame: pd.DataFrame, crs: str, th: Thresholds) -> None:
        self.frame = frame
        self.crs = crs
        self.th = th
        self.codes = frame["code"].to_numpy(dtype=object)
        self.levels = frame["level"].to_numpy()
        self.parents = frame["parent_code"].to_numpy(dtype=object)
        geoms = np.asarray(frame["geom"].to_numpy(), dtype=object)
        ok = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
        work = np.full(len(geoms), None, dtype=object)
        work[ok] = geoms[ok]
        bad = ok & ~shapely.is_valid(work)
        if bad.any():
            work[bad] = _polygonal(shapely.make_valid(work[bad]))
        # a duplicate code takes part in the coverage once (its first row)
        first = ~pd.Series(self.codes).duplicated().to_numpy()
        self.work = work
        nonempty = ok.copy()
        nonempty[ok] = ~shapely.is_empty(work[ok])
        self.work_ok = nonempty & first
        self.top = int(self.levels[self.work_ok].min()) if self.work_ok.any() else 0
        #: first row of each code
        self.row_of: dict[str, int] = {}
        for i, c in enumerate(self.codes):
            self.row_of.setdefault(c, i)

        lat = float(np.mean(shapely.total_bounds(work[ok])[[1, 3]])) if ok.any() else 0.0
        #: a length in metres as degrees of longitude (the larger of the two) for GEOS tolerances
        self.deg_per_m = 1.0 / (111_320.0 * max(np.cos(np.radians(lat)), 0.1))

    def m(self, geoms) -> np.ndarray:
        """Store geometries in metres (for measuring only)."""
        arr = np.atleast_1d(np.asarray(geoms, dtype=object))
        out = np.full(len(arr), None, dtype=object)
        ok = ~shapely.is_missing(arr)
        if ok.any():
            out[ok] = geoms_from_store(arr[ok], self.crs)
        return out

    def area(self, geoms) -> np.ndarray:
        return shapely.area(self.m(geoms))


def _polygonal(geoms: np.ndarray) -> np.ndarray:
    """Only the polygonal parts of each geometry (make_valid may add lines and points)."""
    out = np.empty(len(geoms), dtype=object)
    for i, g in enumerate(geoms):
        parts = shapely.get_parts(g)
        polys = parts[shapely.get_type_id(parts) == shapely.GeometryType.POLYGON]
        multi = parts[shapely.get_type_id(parts) == shapely.GeometryType.MULTIPOLYGON]
        if len(multi):
            polys = np.concatenate([polys, shapely.get_parts(multi)])
        out[i] = shapely.union_all(polys) if len(polys) else shapely.Polygon()
    return out


# ---------------------------------------------------------------------- codes


def _finding(
    kind: str,
    grids: Iterable[str],
    geom: BaseGeometry | None,
    level: int | None,
    en: str,
    zh: str,
    *,
    severity: str | None = None,
    area_m2: float | None = None,
    length_m: float | None = None,
    width_m: float | None = None,
    detail: dict | None = None,
) -> Finding:
    return Finding(
        kind=kind,
        severity=severity or KINDS[kind][0],
        grids=tuple(dict.fromkeys(grids)),
        geom=geom,
        level=level,
        area_m2=None if area_m2 is None else round(float(area_m2), 3),
        length_m=None if length_m is None else round(float(length_m), 3),
        width_m=None if width_m is None else round(float(width_m), 3),
        message=en,
        message_zh=zh,
        detail=detail or {},
    )


def _code_findings(ctx: _Ctx) -> list[Finding]:
    out: list[Finding] = []
    frame = ctx.frame
    counts = frame["code"].value_counts()
    for code in sorted(counts[counts > 1].index):
        rows = np.flatnonzero(ctx.codes == code)
        gs = [g for g in ctx.work[rows] if g is not None]
        union = shapely.union_all(np.array(gs, dtype=object)) if gs else None
        out.append(
            _finding(
                "duplicate_code",
                [code],
                union,
                int(ctx.levels[rows[0]]),
                f"grid code {code} is used by {len(rows)} grids",
                f"网格编码 {code} 被 {len(rows)} 个网格使用",
                area_m2=None if union is None else ctx.area(union)[0],
                detail={"rows": rows.tolist()},
            )
        )
    level_of = {c: int(ctx.levels[i]) for c, i in ctx.row_of.items()}
    for i, (code, level, parent) in enumerate(zip(ctx.codes, ctx.levels, ctx.parents, strict=True)):
        geom = frame["geom"].iloc[i]
        loc = None if geom is None or shapely.is_empty(geom) else shapely.point_on_surface(geom)
        lv = int(level)
        if lv not in GRID_LEVELS or not code.isdigit() or len(code) != GRID_CODE_LENGTH[lv]:
            want = GRID_CODE_LENGTH.get(lv)
            out.append(
                _finding(
                    "malformed_code",
                    [code],
                    loc,
                    lv,
                    f"grid code {code!r} at level {lv} must be {want} digits"
                    if want
                    else f"level {lv} is not 1-4",
                    f"第 {lv} 级网格编码 {code!r} 应为 {want} 位数字"
                    if want
                    else f"层级 {lv} 不在 1-4 之间",
                )
            )
            continue
        problem = None
        if lv == 1 and parent:
            problem = (
                f"level-1 grid {code} has a parent {parent}",
                f"一级网格 {code} 不应有上级 {parent}",
            )
        elif lv > 1 and not parent:
            problem = (
                f"grid {code} at level {lv} has no parent",
                f"第 {lv} 级网格 {code} 没有上级网格",
            )
        elif lv > 1 and parent not in level_of:
            problem = (
                f"parent {parent} of grid {code} is not in the plan",
                f"网格 {code} 的上级 {parent} 不在本方案中",
            )
        elif lv > 1 and level_of[parent] != lv - 1:
            problem = (
                f"parent {parent} of grid {code} is at level {level_of[parent]}, not {lv - 1}",
                f"网格 {code} 的上级 {parent} 为第 {level_of[parent]} 级，而非第 {lv - 1} 级",
            )
        elif lv > 1 and not code.startswith(parent):
            problem = (
                f"code {code} does not extend its parent's code {parent}",
                f"编码 {code} 未延续上级编码 {parent}",
            )
        if problem:
            out.append(
                _finding(
                    "code_not_extending_parent",
                    [code] + ([parent] if parent else []),
                    loc,
                    lv,
                    *problem,
                )
            )
    return out


# ---------------------------------------------------------------------- geometry validity

_REASON_XY = re.compile(r"\[\s*(-?[\d.eE+-]+)\s+(-?[\d.eE+-]+)\s*\]")


def _geometry_findings(ctx: _Ctx, geoms: np.ndarray, present: np.ndarray) -> list[Finding]:
    out: list[Finding] = []
    for i in np.flatnonzero(~present):
        code = ctx.codes[i]
        out.append(
            _finding(
                "invalid_geometry",
                [code],
                None,
                int(ctx.levels[i]),
                f"grid {code} has no geometry",
                f"网格 {code} 没有几何图形",
                detail={"reason": "empty"},
            )
        )
    idx = np.flatnonzero(present)
    types = shapely.get_type_id(geoms[idx])
    polygonal = np.isin(types, [shapely.GeometryType.POLYGON, shapely.GeometryType.MULTIPOLYGON])
    valid = shapely.is_valid(geoms[idx])
    for j in np.flatnonzero(~polygonal | ~valid):
        i = idx[j]
        code = ctx.codes[i]
        g = geoms[i]
        if not polygonal[j]:
            reason = f"{g.geom_type} is not a polygon"
            reason_zh = f"{g.geom_type} 不是面"
            loc = shapely.point_on_surface(g)
        else:
            reason = shapely.is_valid_reason(g)
            reason_zh = reason
            m = _REASON_XY.search(reason)
            loc = (
                shapely.Point(float(m.group(1)), float(m.group(2)))
                if m
                else shapely.point_on_surface(g)
            )
        area = ctx.area(ctx.work[i])[0] if ctx.work[i] is not None else None
        out.append(
            _finding(
                "invalid_geometry",
                [code],
                loc,
                int(ctx.levels[i]),
                f"grid {code}: {reason}",
                f"网格 {code}：{reason_zh}",
                area_m2=area,
                detail={"reason": reason},
            )
        )
    return out


# ---------------------------------------------------------------------- coverage


def _widths(parts: np.ndarray) -> np.ndarray:
    """Twice the radius of the largest inscribed circle of each piece, in metres."""
    if not len(parts):
        return np.zeros(0)
    lines = shapely.maximum_inscribed_circle(parts, tolerance=0.01)
    return 2.0 * shapely.length(lines)


def _pieces(ctx: _Ctx, geom: BaseGeometry | np.ndarray, min_area: float) -> np.ndarray:
    """The polygon pieces of ``geom`` (store CRS) larger than ``min_area`` square metres."""
    parts = shapely.get_parts(_polygonal(np.atleast_1d(np.asarray(geom, dtype=object))))
    return parts[ctx.area(parts) > min_area] if len(parts) else parts


def _is_sliver(th: Thresholds, area: np.ndarray, width: np.ndarray) -> np.ndarray:
    return (width < th.sliver_width_m) | (area < th.sliver_area_m2)


def _union(geoms: np.ndarray) -> BaseGeometry:
    """coverage_union only on a valid coverage, the robust overlay union otherwise."""
    if len(geoms) and bool(shapely.coverage_is_valid(geoms)):
        return shapely.coverage_union_all(geoms)
    return shapely.union_all(geoms)


def _coverage_findings(ctx: _Ctx, outline: BaseGeometry | None) -> list[Finding]:
    out: list[Finding] = []
    levels = sorted({int(v) for v in ctx.levels[ctx.work_ok]})
    unions: dict[int, BaseGeometry] = {}
    rows_at: dict[int, np.ndarray] = {
        lv: np.flatnonzero(ctx.work_ok & (ctx.levels == lv)) for lv in levels
    }
    for n, lv in enumerate(levels):
        rows = rows_at[lv]
        g = ctx.work[rows]
        unions[lv] = _union(g)
        out += _overlaps(ctx, lv, rows)
        if n == 0:
            if outline is not None and not shapely.is_empty(outline):
                out += _against_outline(ctx, lv, rows, unions[lv], outline)
            continue
        above = levels[n - 1]
        out += _gaps_in_parents(ctx, lv, rows, above, rows_at[above], unions)
        out += _crossings(ctx, lv, rows)
    return out


def _overlaps(ctx: _Ctx, lv: int, rows: np.ndarray) -> list[Finding]:
    th = ctx.th
    g = ctx.work[rows]
    edges = shapely.coverage_invalid_edges(g, gap_width=th.sliver_width_m * ctx.deg_per_m)
    suspects = np.flatnonzero(~shapely.is_empty(edges))
    if not len(suspects):
        return []
    tree = shapely.STRtree(g)
    qi, qj = tree.query(g[suspects], predicate="intersects")
    a, b = suspects[qi], qj
    keep = a != b
    pairs = np.unique(np.sort(np.column_stack([a[keep], b[keep]]), axis=1), axis=0)
    if not len(pairs):
        return []
    inter = shapely.intersection(g[pairs[:, 0]], g[pairs[:, 1]])
    out: list[Finding] = []
    for (i, j), geom in zip(pairs, inter, strict=True):
        parts = _pieces(ctx, geom, th.noise_area_m2)
        if not len(parts):
            continue
        ci, cj = ctx.codes[rows[i]], ctx.codes[rows[j]]
        out += _piece_findings(
            ctx,
            "overlap",
            parts,
            [ci, cj],
            lv,
            (f"grids {ci} and {cj} overlap", f"网格 {ci} 与 {cj} 重叠"),
        )
    return out


def _piece_findings(
    ctx: _Ctx,
    kind: str,
    parts: np.ndarray,
    grids: list[str],
    lv: int,
    text: tuple[str, str],
    extra: dict | None = None,
) -> list[Finding]:
    """One finding for the proper pieces and one ``sliver`` finding for the thin ones."""
    th = ctx.th
    metric = ctx.m(parts)
    areas = shapely.area(metric)
    widths = _widths(metric)
    thin = _is_sliver(th, areas, widths)
    out = []
    for mask, k in ((~thin, kind), (thin, "sliver")):
        if not mask.any():
            continue
        geom = shapely.union_all(parts[mask]) if mask.sum() > 1 else parts[mask][0]
        en, zh = text
        if k == "sliver":
            en, zh = f"thin {kind.replace('_', ' ')}: {en}", f"细碎{KINDS[kind][2]}：{zh}"
        out.append(
            _finding(
                k,
                grids,
                geom,
                lv,
                en,
                zh,
                area_m2=areas[mask].sum(),
                width_m=widths[mask].max(),
                detail={"of": kind, "pieces": int(mask.sum()), **(extra or {})},
            )
        )
    return out


def _neighbours(
    ctx: _Ctx, tree: shapely.STRtree, rows: np.ndarray, piece: BaseGeometry
) -> list[str]:
    hit = tree.query(piece, predicate="dwithin", distance=0.01 * ctx.deg_per_m)
    return sorted(ctx.codes[rows[hit]].tolist())


def _gaps_in_parents(
    ctx: _Ctx,
    lv: int,
    rows: np.ndarray,
    above: int,
    parent_rows: np.ndarray,
    unions: dict[int, BaseGeometry],
) -> list[Finding]:
    th = ctx.th
    out: list[Finding] = []
    child_parents = set(ctx.parents[rows].tolist())
    childless = [r for r in parent_rows if ctx.codes[r] not in child_parents]
    for r in childless:
        code = ctx.codes[r]
        uncovered = shapely.difference(ctx.work[r], unions[lv])
        area = ctx.area(uncovered)[0]
        if area <= th.noise_area_m2:
            continue
        out.append(
            _finding(
                "parent_not_covered",
                [code],
                uncovered,
                above,
                f"grid {code} (level {above}) has no child grids at level {lv}",
                f"网格 {code}（第 {above} 级）没有第 {lv} 级下级网格",
                area_m2=area,
            )
        )
    area_l = unions[above]
    if childless:
        area_l = shapely.difference(area_l, shapely.union_all(ctx.work[np.array(childless)]))
    gaps = _pieces(ctx, shapely.difference(area_l, unions[lv]), th.noise_area_m2)
    if not len(gaps):
        return out
    tree = shapely.STRtree(ctx.work[rows])
    ptree = shapely.STRtree(ctx.work[parent_rows])
    for piece in gaps:
        inside = ptree.query(shapely.point_on_surface(piece), predicate="intersects")
        parents = sorted(ctx.codes[parent_rows[inside]].tolist())
        grids = parents + _neighbours(ctx, tree, rows, piece)
        where = f" in {', '.join(parents)}" if parents else ""
        out += _piece_findings(
            ctx,
            "gap",
            np.array([piece], dtype=object),
            grids,
            lv,
            (
                f"gap at level {lv}{where}",
                f"第 {lv} 级网格空隙{('（' + '、'.join(parents) + '）') if parents else ''}",
            ),
            {"parents": parents},
        )
    return out


def _crossings(ctx: _Ctx, lv: int, rows: np.ndarray) -> list[Finding]:
    th = ctx.th
    pr = np.array([ctx.row_of.get(p, -1) if p else -1 for p in ctx.parents[rows]])
    has = pr >= 0
    has[has] = ctx.work_ok[pr[has]] & (ctx.levels[pr[has]] == lv - 1)
    if not has.any():
        return []
    child, parent = rows[has], pr[has]
    outside = shapely.difference(ctx.work[child], ctx.work[parent])
    big = ctx.area(outside) > th.noise_area_m2
    out: list[Finding] = []
    for c, p, geom in zip(child[big], parent[big], outside[big], strict=True):
        parts = _pieces(ctx, geom, th.noise_area_m2)
        if not len(parts):
            continue
        cc, pc = ctx.codes[c], ctx.codes[p]
        out += _piece_findings(
            ctx,
            "crosses_parent",
            parts,
            [cc, pc],
            lv,
            (f"grid {cc} extends beyond its parent {pc}", f"网格 {cc} 越出上级网格 {pc} 的边界"),
            {"parent": pc},
        )
    return out


def _against_outline(
    ctx: _Ctx, lv: int, rows: np.ndarray, union: BaseGeometry, outline: BaseGeometry
) -> list[Finding]:
    th = ctx.th
    area = outline
    if not shapely.is_valid(area):
        area = _polygonal(shapely.make_valid(np.array([area], dtype=object)))[0]
    out: list[Finding] = []
    tree = shapely.STRtree(ctx.work[rows])
    for kind, geom in (
        ("gap", shapely.difference(area, union)),
        ("outside_area", shapely.difference(union, area)),
    ):
        parts = _pieces(ctx, geom, th.noise_area_m2)
        if not len(parts):
            continue
        widths = _widths(ctx.m(parts))
        parts, widths = parts[widths >= th.outline_tolerance_m], widths[widths >= th.outline_tolerance_m]
        for piece, width in zip(parts, widths, strict=True):
            grids = _neighbours(ctx, tree, rows, piece)
            a = ctx.area(piece)[0]
            if kind == "gap":
                text = (
                    "part of the administrative area is covered by no level-1 grid",
                    "行政区域有部分未被一级网格覆盖",
                )
            else:
                text = (
                    f"grid {', '.join(grids)} extends beyond the administrative outline",
                    f"网格 {'、'.join(grids)} 超出行政区划边界",
                )
            out.append(
                _finding(
                    kind,
                    grids,
                    piece,
                    lv,
                    *text,
                    area_m2=a,
                    width_m=width,
                    detail={"against": "outline"},
                )
            )
    return out


# ---------------------------------------------------------------------- people


def _people_findings(ctx: _Ctx, people: pd.DataFrame) -> list[Finding]:
    """Every grid needs a grid leader (网格长) and a responsible officer (监管责任人).

    Severity: a missing leader is an error at every level; a missing responsible
    officer is an error at levels 1-3 and, at level 4 (unit grids, run by a grid
    worker under the village's officer), only a warning, and none at all when the
    unit grid has a grid worker (网格员).
    """
    roles: dict[str, set[str]] = {}
    for code, role in zip(people["grid_code"].astype(str), people["role"].astype(str), strict=True):
        roles.setdefault(code, set()).add(role)
    out: list[Finding] = []
    for code, i in ctx.row_of.items():
        have = roles.get(code, set())
        lv = int(ctx.levels[i])
        geom = ctx.frame["geom"].iloc[i]
        loc = None if geom is None or shapely.is_empty(geom) else geom
        area = None if ctx.work[i] is None else ctx.area(ctx.work[i])[0]
        if "grid_leader" not in have:
            out.append(
                _finding(
                    "missing_grid_leader",
                    [code],
                    loc,
                    lv,
                    f"grid {code} has no grid leader",
                    f"网格 {code} 没有网格长",
                    area_m2=area,
                )
            )
        if "responsible_officer" not in have:
            if lv >= 4 and "grid_worker" in have:
                continue
            sev = WARNING if lv >= 4 else ERROR
            out.append(
                _finding(
                    "missing_responsible_officer",
                    [code],
                    loc,
                    lv,
                    f"grid {code} has no responsible officer"
                    + (" nor grid worker" if lv >= 4 else ""),
                    f"网格 {code} 没有监管责任人" + ("和网格员" if lv >= 4 else ""),
                    severity=sev,
                    area_m2=area,
                )
            )
    return out
