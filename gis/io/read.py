"""Reading a file into a table: :func:`read_table` runs the readers, the CRS decision,
the plausibility checks, repairs and validation, and refuses with every problem.
"""

from __future__ import annotations

import os
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gis.crs import geoms_to_store
from gis.errors import InvalidInput, Problem
from gis.io.columns import _coerce, _naive_timestamps, _parse_json_columns, _shape_columns
from gis.io.crs_decision import _decide_crs
from gis.io.formats import _format_of
from gis.io.geometry_repair import _repair
from gis.io.plausibility import _check_plausible
from gis.io.raw import _Raw
from gis.io.read_csv import _read_csv
from gis.io.read_vector import _read_vector
from gis.io.reports import ImportReport, ImportResult, Repair, _both
from gis.io.tables import _importable
from gis.model import STORE_CRS, TableSpec
from gis.validate import as_multi, validate_frame


def read_table(
    path: str | os.PathLike[str],
    table: str,
    *,
    crs: str | None = None,
    default_crs: str | None = None,
    layer: str | None = None,
    encoding: str | None = None,
    make_valid: bool = False,
    area: shapely.Geometry | None = None,
    max_distance_km: float = 100.0,
    lon_field: str | None = None,
    lat_field: str | None = None,
) -> ImportResult:
    """Read a file into a frame for ``table`` in the store CRS, or raise with every problem.

    ``crs`` names the coordinates and overrides the file's declaration (a conflict
    is a warning); ``default_crs`` is the deployment setting for files that cannot
    state a CRS. ``area`` (EPSG:4490) is the district outline: features farther
    than ``max_distance_km`` from it are refused. Raises :class:`CRSError` for a
    missing or implausible CRS, :class:`InvalidInput` for anything else, each with
    problems naming the row (0-based feature index) and field.
    """
    spec = _importable(table)
    src = Path(path)
    if not src.exists():
        raise InvalidInput(f"File not found: {src}", f"文件不存在：{src}")
    fmt = _format_of(src)
    if fmt == "CSV":
        raw = _read_csv(src, spec, encoding=encoding, lon_field=lon_field, lat_field=lat_field)
    else:
        raw = _read_vector(src, fmt, spec, layer=layer, encoding=encoding, make_valid=make_valid)

    warnings_out = list(raw.warnings)
    crs_used, crs_source, declared = _decide_crs(src, fmt, raw, crs, default_crs, warnings_out)

    frame, dropped = _shape_columns(raw.attrs, spec, shapefile=(fmt == "ESRI Shapefile"), skip=raw.used_columns)
    repairs: list[Repair] = []
    if spec.geometry_type:
        frame["geom"], repairs = _store_geometries(
            raw, spec, crs_used, area=area, max_distance_km=max_distance_km, make_valid=make_valid, out=warnings_out
        )
    elif raw.geoms is not None and (~shapely.is_missing(raw.geoms)).any():
        warnings_out.append(
            _both(f"{table} has no geometry; the file's geometries were ignored", f"{table} 表没有几何字段，已忽略文件中的几何图形")
        )
    frame, problems = _check_rows(frame, spec, raw)
    if problems:
        raise InvalidInput(
            f"{len(problems)} problem(s) in {src.name}; nothing was stored",
            f"{src.name} 中有 {len(problems)} 个问题，未写入任何数据",
            problems,
        )

    frame = _coerce(frame[[*spec.column_names, *(["geom"] if spec.geometry_type else [])]].copy(), spec)
    naive = _naive_timestamps(frame, spec)
    if naive:
        warnings_out.append(
            _both(
                f"{naive} timestamp(s) have no time zone; the store reads them as UTC (write +08:00 for Beijing time)",
                f"{naive} 个时间没有时区，系统按 UTC 处理（北京时间请写 +08:00）",
            )
        )
    if spec.geometry_type:
        frame = gpd.GeoDataFrame(frame, geometry="geom", crs=STORE_CRS)
    if len(frame) == 0:
        warnings_out.append(_both("the file has no features", "文件中没有要素"))
    report = ImportReport(
        source=str(src),
        format=fmt,
        table=table,
        rows=len(frame),
        crs_used=crs_used,
        crs_source=crs_source,
        layer=raw.layer,
        encoding=raw.encoding,
        crs_declared=declared,
        warnings=warnings_out,
        repairs=repairs,
        dropped_columns=dropped,
    )
    return ImportResult(frame=frame, report=report)


def _store_geometries(
    raw: _Raw,
    spec: TableSpec,
    crs_used: str,
    *,
    area: shapely.Geometry | None,
    max_distance_km: float,
    make_valid: bool,
    out: list[str],
) -> tuple[np.ndarray, list[Repair]]:
    """The file's geometries in the store CRS, checked for plausibility, repaired if asked.

    The plausibility check runs on the converted coordinates (and the source ones,
    to recognise metres); it raises before anything else is reported because a
    wrong CRS makes every other geometry message meaningless.
    """
    n = len(raw.attrs)
    geoms = raw.geoms if raw.geoms is not None else np.full(n, None, dtype=object)
    if shapely.has_z(geoms[~shapely.is_missing(geoms)]).any():
        out.append(_both("Z coordinates were dropped", "已去除 Z 坐标（高程）"))
        geoms = shapely.force_2d(geoms)
    stored = geoms_to_store(geoms, crs_used)
    _check_plausible(spec.name, geoms, stored, crs_used, area, max_distance_km, out)
    repairs = [
        Repair(row, what, "unreadable", "None" if stored[row] is None else stored[row].geom_type)
        for row, what in raw.fixed_rows.items()
    ]
    if make_valid:
        stored, more = _repair(stored, spec.geometry_type or "")
        repairs = sorted(repairs + more, key=lambda r: r.row)
    if (spec.geometry_type or "").startswith("MULTI"):
        stored = as_multi(stored)
    return stored, repairs


def _check_rows(frame: pd.DataFrame, spec: TableSpec, raw: _Raw) -> tuple[pd.DataFrame, list[Problem]]:
    """Every problem of the shaped frame, sorted by row, one per row and field.

    Rows whose geometry could not be read at all already carry a problem; the
    validator's "geometry is missing" for them would only repeat it.
    """
    problems = list(raw.problems) + _parse_json_columns(frame, spec)
    if len(frame) == 0:
        # an empty file (GeoJSON without features has no fields either): nothing to check
        for col in spec.columns:
            if col.name not in frame.columns:
                frame[col.name] = pd.Series([], dtype=object)
        return frame[[*spec.column_names, *(["geom"] if spec.geometry_type else [])]], problems
    if spec.plan_scoped and "plan_id" not in frame.columns:
        frame["plan_id"] = pd.Series([None] * len(frame), dtype=object)
    bad_geom_rows = {p.row for p in problems if p.field in ("geom", *raw.used_columns)}
    problems += [
        p for p in validate_frame(spec.name, _plan_placeholder(frame, spec)) if not (p.field == "geom" and p.row in bad_geom_rows)
    ]
    problems.sort(key=lambda p: (-1 if p.row is None else p.row, p.field or ""))
    return frame, problems


def _plan_placeholder(frame: pd.DataFrame, spec: TableSpec) -> pd.DataFrame:
    """The frame to validate: a blank ``plan_id`` of a plan-scoped table is not an error.

    The store sets ``plan_id`` from the plan the caller imports into (``--plan`` or
    ``--new-plan``), so files never need to carry it; a value that is present
    must still be an integer.
    """
    if not spec.plan_scoped:
        return frame
    check = frame.copy()
    check["plan_id"] = [0 if v is None else v for v in check["plan_id"]]
    return check
