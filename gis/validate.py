"""Checks at the edge: geometries, codes, credit codes, required fields.

Each function returns a list of :class:`~gis.errors.Problem` (table, row, field,
message in English and Chinese) and raises nothing half-way, so an import can
report every problem at once and store nothing.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import shapely

from gis.errors import Problem
from gis.model import GRID_CODE_LENGTH, TABLES, TableSpec

# GB 32100-2015: unified social credit code (统一社会信用代码)
_USCC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_USCC_RE = re.compile(r"^[0-9A-HJ-NPQRTUWXY]{2}\d{6}[0-9A-HJ-NPQRTUWXY]{10}$")
_PHONE_RE = re.compile(r"^\+?[0-9][0-9\- ]{4,19}$")
_ADMIN_CODE_RE = re.compile(r"^\d{12}$")
_GRID_CODE_RE = re.compile(r"^\d{6,24}$")

_GEOM_FAMILY = {
    "MULTIPOLYGON": {"Polygon", "MultiPolygon"},
    "POINT": {"Point"},
    "MULTILINESTRING": {"LineString", "MultiLineString"},
}


def uscc_check_char(first17: str) -> str:
    """The 18th character of a unified social credit code, from the first 17."""
    total = sum(_USCC_CHARS.index(c) * w for c, w in zip(first17, _USCC_WEIGHTS, strict=True))
    return _USCC_CHARS[(31 - total % 31) % 31]


def uscc_problem(code: str) -> str | None:
    """Why ``code`` is not a valid unified social credit code, or None when it is."""
    if not isinstance(code, str) or len(code) != 18:
        return "must be 18 characters"
    if not _USCC_RE.match(code):
        return "contains characters outside the code alphabet (digits and A-Y without I, O, S, V, Z)"
    if uscc_check_char(code[:17]) != code[17]:
        return f"check digit is {code[17]}, expected {uscc_check_char(code[:17])}"
    return None


def _blank(value) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and np.isnan(value):
        return True
    if value is pd.NaT or (not isinstance(value, (str, bytes)) and pd.api.types.is_scalar(value) and pd.isna(value)):
        return True
    return isinstance(value, str) and value.strip() == ""


def as_multi(geoms: np.ndarray) -> np.ndarray:
    """Polygon -> MultiPolygon and LineString -> MultiLineString; others unchanged."""
    geoms = np.asarray(geoms, dtype=object)
    out = geoms.copy()
    types = shapely.get_type_id(geoms)
    poly = types == shapely.GeometryType.POLYGON
    line = types == shapely.GeometryType.LINESTRING
    if poly.any():
        out[poly] = [shapely.MultiPolygon([g]) for g in geoms[poly]]
    if line.any():
        out[line] = [shapely.MultiLineString([g]) for g in geoms[line]]
    return out


def validate_geometries(table: str, geoms, expected: str) -> list[Problem]:
    """Missing, empty, wrong-type, invalid and out-of-range geometries, by row."""
    problems: list[Problem] = []
    geoms = np.asarray(geoms, dtype=object)
    family = _GEOM_FAMILY[expected]
    missing = shapely.is_missing(geoms)
    for i, g in enumerate(geoms):
        if missing[i] or g is None:
            problems.append(Problem("geometry is missing", "缺少几何图形", table, i, "geom"))
            continue
        if g.geom_type not in family:
            problems.append(
                Problem(
                    f"geometry is {g.geom_type}, expected {expected.title()}",
                    f"几何类型为 {g.geom_type}，应为 {expected.title()}",
                    table,
                    i,
                    "geom",
                )
            )
            continue
        if g.is_empty:
            problems.append(Problem("geometry is empty", "几何图形为空", table, i, "geom"))
            continue
        coords = shapely.get_coordinates(g)
        if not np.all(np.isfinite(coords)):
            problems.append(Problem("coordinates contain NaN or infinity", "坐标包含 NaN 或无穷大", table, i, "geom"))
            continue
        if (np.abs(coords[:, 0]) > 180).any() or (np.abs(coords[:, 1]) > 90).any():
            problems.append(
                Problem(
                    "coordinates are outside longitude -180..180 / latitude -90..90",
                    "坐标超出经度 -180..180 / 纬度 -90..90 的范围",
                    table,
                    i,
                    "geom",
                )
            )
            continue
        if not shapely.is_valid(g):
            reason = shapely.is_valid_reason(g)
            problems.append(
                Problem(
                    f"invalid geometry: {reason} (repair with --make-valid)",
                    f"几何图形无效：{reason}（可使用 --make-valid 修复）",
                    table,
                    i,
                    "geom",
                )
            )
    return problems


def validate_frame(table: str, frame: pd.DataFrame) -> list[Problem]:
    """Every problem of ``frame`` as rows for ``table``; empty when it may be stored."""
    spec: TableSpec = TABLES[table]
    problems: list[Problem] = []
    for col in spec.columns:
        if col.required and col.name not in frame.columns:
            problems.append(
                Problem(
                    f"required field {col.name!r} is missing",
                    f"缺少必填字段 {col.name!r}",
                    table,
                    None,
                    col.name,
                )
            )
    if problems:
        return problems
    for col in spec.columns:
        if col.name not in frame.columns:
            continue
        values = frame[col.name].tolist()
        for i, v in enumerate(values):
            if _blank(v):
                if col.required:
                    problems.append(
                        Problem(f"required field {col.name!r} is empty", f"必填字段 {col.name!r} 为空", table, i, col.name)
                    )
                continue
            if col.choices and str(v) not in col.choices:
                problems.append(
                    Problem(
                        f"{v!r} is not one of {list(col.choices)}",
                        f"{v!r} 不是允许的取值 {list(col.choices)}",
                        table,
                        i,
                        col.name,
                    )
                )
            elif col.kind == "int":
                try:
                    if float(v) != int(float(v)):
                        raise ValueError
                except (TypeError, ValueError):
                    problems.append(Problem(f"{v!r} is not an integer", f"{v!r} 不是整数", table, i, col.name))
            elif col.kind == "timestamp":
                try:
                    pd.Timestamp(v)
                except (TypeError, ValueError):
                    problems.append(
                        Problem(f"{v!r} is not a date/time", f"{v!r} 不是有效的日期时间", table, i, col.name)
                    )
    for cols in spec.unique:
        present = [c for c in cols if c in frame.columns]
        if len(present) != len(cols) or frame.empty:
            continue
        first_row: dict[tuple, int] = {}
        for i, key in enumerate(frame[list(cols)].astype(str).itertuples(index=False, name=None)):
            if key not in first_row:
                first_row[key] = i
                continue
            shown = "/".join(key)
            problems.append(
                Problem(
                    f"duplicate {'/'.join(cols)} {shown} (first at row {first_row[key]})",
                    f"重复的 {'/'.join(cols)} {shown}（首次出现在第 {first_row[key]} 行）",
                    table,
                    i,
                    cols[-1],
                )
            )
    problems += _table_rules(table, frame)
    if spec.geometry_type:
        if "geom" not in frame.columns:
            problems.append(Problem("geometry is missing", "缺少几何图形", table, None, "geom"))
        else:
            problems += validate_geometries(table, frame["geom"].to_numpy(), spec.geometry_type)
    return problems


def _table_rules(table: str, frame: pd.DataFrame) -> list[Problem]:
    """Rules of one table beyond types: code formats, check digits, phone numbers."""
    problems: list[Problem] = []
    rows = frame.to_dict("records")
    for i, row in enumerate(rows):
        if table == "admin_units":
            code = row.get("code")
            if not _blank(code) and not _ADMIN_CODE_RE.match(str(code)):
                problems.append(
                    Problem(f"code {code!r} is not a 12-digit division code", f"代码 {code!r} 不是 12 位区划代码", table, i, "code")
                )
            level = row.get("level")
            if not _blank(level) and str(level) not in ("1", "2", "3", "1.0", "2.0", "3.0"):
                problems.append(Problem(f"level {level!r} must be 1, 2 or 3", f"层级 {level!r} 必须为 1、2 或 3", table, i, "level"))
        elif table == "grids":
            code, level, parent = row.get("code"), row.get("level"), row.get("parent_code")
            try:
                lv = int(float(level))
            except (TypeError, ValueError):
                lv = None
            if lv is not None and lv not in GRID_CODE_LENGTH:
                problems.append(Problem(f"level {level!r} must be 1-4", f"层级 {level!r} 必须为 1-4", table, i, "level"))
            if not _blank(code) and not _GRID_CODE_RE.match(str(code)):
                problems.append(
                    Problem(f"grid code {code!r} must be 6-24 digits", f"网格编码 {code!r} 必须为 6-24 位数字", table, i, "code")
                )
            if not _blank(parent) and not _blank(code) and not str(code).startswith(str(parent)):
                problems.append(
                    Problem(
                        f"grid code {code} does not extend its parent's code {parent}",
                        f"网格编码 {code} 未以上级网格编码 {parent} 开头",
                        table,
                        i,
                        "code",
                    )
                )
            if lv is not None and lv > 1 and _blank(parent):
                problems.append(
                    Problem(f"a level-{lv} grid needs a parent_code", f"{lv} 级网格必须有上级网格编码", table, i, "parent_code")
                )
        elif table == "enterprises":
            code = row.get("credit_code")
            if not _blank(code):
                why = uscc_problem(str(code))
                if why:
                    problems.append(
                        Problem(
                            f"unified social credit code {code!r} {why}",
                            f"统一社会信用代码 {code!r} 无效（{_zh_uscc(why)}）",
                            table,
                            i,
                            "credit_code",
                        )
                    )
        elif table == "people":
            phone = row.get("phone")
            if not _blank(phone) and not _PHONE_RE.match(str(phone)):
                problems.append(Problem(f"phone {phone!r} is not a phone number", f"电话 {phone!r} 不是有效号码", table, i, "phone"))
    return problems


def _zh_uscc(why: str) -> str:
    if why.startswith("must be 18"):
        return "必须为 18 位"
    if why.startswith("check digit"):
        return "校验码错误"
    return "含有不允许的字符"
