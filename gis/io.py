"""Reading and writing the files people bring and take away: GeoJSON, GeoPackage,
Shapefile and CSV.

The edge of the system, and the place where most real-world data goes wrong, so
the rules here are strict and every refusal says what to do:

* The CRS is never guessed. GCJ-02 (Amap), BD-09 (Baidu) and WGS84 cannot be told
  apart by looking at numbers, and GDAL reports EPSG:4326 for every GeoJSON. The
  CRS comes from the ``crs`` argument, a real declaration in the file (.prj,
  GeoPackage srs, a GeoJSON ``crs`` member naming something other than WGS84),
  the deployment's ``default_crs``, or
  WGS84 assumed *and said so* in the report -- in that order, and only formats that
  cannot state a CRS (GeoJSON, CSV) fall through to the last two.
* Coordinates that cannot be right (metres labelled as degrees, swapped latitude
  and longitude, features thousands of km from the district) are refused with the
  rows named, because storing them silently would corrupt every later analysis.
* Text is never turned into mojibake: a Shapefile without ``.cpg`` is read as
  UTF-8 strictly and refused (asking for ``--encoding gbk``) when that fails,
  instead of GDAL's silent ISO-8859-1 fallback.
* Every geometry problem is collected with its feature index, so one import run
  lists everything to fix.

No store access: callers pass the district outline (``area``) and settings.
"""

from __future__ import annotations

import io
import json
import math
import os
import tempfile
import warnings
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely
from pyproj import CRS

from gis.crs import (
    OFFSET_SYSTEMS,
    crs_for_file,
    geoms_from_store,
    geoms_to_store,
    is_geographic,
    normalize_crs,
    projected_crs_for,
)
from gis.errors import CRSError, InvalidInput, Problem
from gis.model import STORE_CRS, TABLES, TableSpec
from gis.validate import as_multi, validate_frame

__all__ = [
    "ImportReport",
    "ImportResult",
    "Repair",
    "WriteReport",
    "read_table",
    "write_table",
    "write_tables",
]

#: China's bounding box for plausibility checks (lon 73-136, lat 3-54)
_CHINA_LON = (73.0, 136.0)
_CHINA_LAT = (3.0, 54.0)

_LON_NAMES = ("lon", "lng", "long", "longitude", "经度", "x坐标")
_LAT_NAMES = ("lat", "latitude", "纬度", "y坐标")
_WKT_NAMES = ("wkt", "geom", "geometry", "the_geom")

_FORMATS = {
    ".geojson": "GeoJSON",
    ".json": "GeoJSON",
    ".gpkg": "GPKG",
    ".shp": "ESRI Shapefile",
    ".csv": "CSV",
}

_OGR_TYPE = {"MULTIPOLYGON": "MultiPolygon", "POINT": "Point", "MULTILINESTRING": "MultiLineString"}

#: every column that some table marks private: dropped on export even when the
#: caller did not say which table a frame holds
_PRIVATE_COLUMNS = frozenset(c.name for t in TABLES.values() for c in t.columns if c.private)

#: GDAL warnings that are reported better per row, or are harmless
_GDAL_NOISE = ("closed ring", "Non-conformant content")


# --------------------------------------------------------------------------- reports


@dataclass
class Repair:
    """One geometry changed by ``make_valid``: where, why, and what it cost in area."""

    row: int
    reason: str
    before: str
    after: str
    area_before_m2: float | None = None
    area_after_m2: float | None = None

    def __str__(self) -> str:
        text = f"row {self.row}: {self.reason}; {self.before} -> {self.after}"
        if self.area_before_m2 is not None and self.area_after_m2 is not None:
            text += f"; area {self.area_before_m2:,.1f} m² -> {self.area_after_m2:,.1f} m²"
        return text


@dataclass
class ImportReport:
    """What an import read and decided, shown to the user before anything is stored."""

    source: str
    format: str
    table: str
    rows: int
    crs_used: str
    crs_source: str  # "argument", "file", "settings-default" or "assumed-wgs84"
    layer: str | None = None
    encoding: str | None = None
    crs_declared: str | None = None  # what the file itself declares, when it does
    warnings: list[str] = field(default_factory=list)
    repairs: list[Repair] = field(default_factory=list)
    dropped_columns: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class ImportResult:
    """A frame in the shape of ``TABLES[table]`` (store CRS, no id) and its report."""

    frame: pd.DataFrame
    report: ImportReport


@dataclass
class WriteReport:
    """What an export wrote; ``crs`` names the coordinates, ``crs_declared`` the label."""

    path: str
    format: str
    layer: str | None
    rows: int
    crs: str
    crs_declared: str | None
    dropped_columns: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _both(en: str, zh: str) -> str:
    """A report warning in both languages, one string (reports are shown as text)."""
    return f"{en} / {zh}"


# --------------------------------------------------------------------------- reading


@dataclass
class _Raw:
    """A file's content before it is shaped: attributes, geometries in the source CRS."""

    attrs: pd.DataFrame
    geoms: np.ndarray | None  # None: the source has no geometry at all
    declared: CRS | None  # a real CRS declaration in the file
    layer: str | None = None
    encoding: str | None = None
    problems: list[Problem] = field(default_factory=list)
    fixed_rows: dict[int, str] = field(default_factory=dict)  # unreadable, closed by make_valid
    warnings: list[str] = field(default_factory=list)
    used_columns: tuple[str, ...] = ()  # CSV lon/lat/wkt columns: not "extra"


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


def _spec(table: str) -> TableSpec:
    if table not in TABLES:
        raise InvalidInput(
            f"Unknown table {table!r}; one of {sorted(TABLES)}", f"未知数据表 {table!r}；可选 {sorted(TABLES)}"
        )
    return TABLES[table]


def _importable(table: str) -> TableSpec:
    spec = _spec(table)
    if not spec.importable:
        raise InvalidInput(
            f"{table} is managed by the system and cannot be imported from a file",
            f"{spec.title_zh}（{table}）由系统维护，不能从文件导入",
        )
    return spec


def _format_of(path: Path, given: str | None = None) -> str:
    """The GDAL driver name for a path, from ``given`` or the file extension."""
    if given:
        key = given.lower().lstrip(".")
        aliases = {"geojson": "GeoJSON", "json": "GeoJSON", "gpkg": "GPKG", "geopackage": "GPKG",
                   "shp": "ESRI Shapefile", "shapefile": "ESRI Shapefile", "csv": "CSV"}
        if key in aliases:
            return aliases[key]
    else:
        fmt = _FORMATS.get(path.suffix.lower())
        if fmt:
            return fmt
    shown = given or path.suffix or path.name
    raise InvalidInput(
        f"Unsupported file format {shown!r}; use .geojson, .gpkg, .shp or .csv",
        f"不支持的文件格式 {shown!r}；请使用 .geojson、.gpkg、.shp 或 .csv",
    )


def _sibling(path: Path, suffix: str) -> Path | None:
    """The Shapefile side-car ``suffix`` next to ``path``, in any letter case."""
    for cand in _side_files(path):
        if cand.suffix.lower() == suffix:
            return cand
    return None


def _side_files(path: Path) -> list[Path]:
    """Files named like ``path`` with any extension (not glob: names may hold ``[``)."""
    if not path.parent.is_dir():
        return []
    return [c for c in path.parent.iterdir() if c.stem == path.stem and c.is_file()]


def _pick_layer(path: Path, fmt: str, table: str, layer: str | None) -> str | None:
    """GeoPackage layer: the named one, the only one, or the one named like the table."""
    if fmt != "GPKG":
        return layer
    names = [str(n) for n in pyogrio.list_layers(path)[:, 0]]
    if layer is not None:
        if layer not in names:
            raise InvalidInput(
                f"Layer {layer!r} is not in {path.name}; layers: {names}",
                f"{path.name} 中没有图层 {layer!r}；现有图层：{names}",
            )
        return layer
    if len(names) == 1:
        return names[0]
    if table in names:
        return table
    raise InvalidInput(
        f"{path.name} has {len(names)} layers {names}; name one with --layer",
        f"{path.name} 有 {len(names)} 个图层 {names}；请用 --layer 指定",
    )


def _shapefile_encoding(path: Path, encoding: str | None) -> tuple[str | None, str | None]:
    """(encoding to pass to pyogrio, encoding to report) for a Shapefile.

    GDAL falls back to ISO-8859-1 when a .dbf has neither a .cpg nor a code page
    byte, which turns GBK into mojibake without a word. In that case read strictly
    as UTF-8 (the caller turns a decode error into a refusal asking for --encoding).
    """
    if encoding:
        return encoding, encoding
    cpg = _sibling(path, ".cpg")
    if cpg is not None:
        return None, cpg.read_text(encoding="ascii", errors="replace").strip() or None
    info_encoding = pyogrio.read_info(path).get("encoding")
    if info_encoding and info_encoding.upper().replace("_", "-") not in ("ISO-8859-1", "LATIN1"):
        return None, info_encoding  # the .dbf's code page byte names it
    return "UTF-8", "UTF-8"


def _decode_refusal(path: Path, exc: UnicodeDecodeError, encoding: str | None) -> InvalidInput:
    """The error for text that does not decode: never read on into mojibake."""
    tried = encoding or "UTF-8"
    return InvalidInput(
        f"Text in {path.name} is not valid {tried} ({exc.reason} at byte {exc.start}); "
        "files from Chinese desktop GIS are often GBK: pass --encoding gbk "
        "(or add a .cpg file containing GBK next to a Shapefile)",
        f"{path.name} 中的文字不是有效的 {tried} 编码（第 {exc.start} 字节）；"
        "国内桌面 GIS 导出的文件常为 GBK 编码：请使用 --encoding gbk"
        "（或在 Shapefile 旁添加内容为 GBK 的 .cpg 文件）",
    )


def _read_vector(
    path: Path, fmt: str, spec: TableSpec, *, layer: str | None, encoding: str | None, make_valid: bool
) -> _Raw:
    """GeoJSON, GeoPackage or Shapefile through pyogrio, geometry parsed row by row.

    Geometries are read as WKB and parsed one by one so that a feature GEOS cannot
    even build (an unclosed ring, a two-point polygon) becomes a problem with its
    index instead of failing the whole file.
    """
    try:
        use_layer = _pick_layer(path, fmt, spec.name, layer)
    except pyogrio.errors.DataSourceError as exc:
        raise InvalidInput(f"Cannot open {path.name}: {exc}", f"无法打开 {path.name}：{exc}") from exc
    read_encoding, report_encoding = encoding, encoding
    if fmt == "ESRI Shapefile":
        read_encoding, report_encoding = _shapefile_encoding(path, encoding)
    gdal_warnings: list[str] = []
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            meta, _fids, wkb, field_data = pyogrio.raw.read(
                path, layer=use_layer, encoding=read_encoding, datetime_as_string=True
            )
        gdal_warnings = [str(w.message) for w in caught if not any(k in str(w.message) for k in _GDAL_NOISE)]
    except UnicodeDecodeError as exc:
        raise _decode_refusal(path, exc, read_encoding) from exc
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError) as exc:
        raise InvalidInput(f"Cannot read {path.name}: {exc}", f"无法读取 {path.name}：{exc}") from exc

    attrs = pd.DataFrame({str(name): values for name, values in zip(meta["fields"], field_data, strict=True)})
    raw = _Raw(attrs=attrs, geoms=None, declared=None, layer=use_layer,
               encoding=report_encoding or meta.get("encoding"))
    raw.warnings += [_both(f"GDAL: {w}", f"GDAL 提示：{w}") for w in gdal_warnings]
    if wkb is not None:
        raw.geoms = _parse_wkb(wkb, spec.name, make_valid, raw)
    file_crs = meta.get("crs")
    if fmt == "ESRI Shapefile":
        file_crs = file_crs if _sibling(path, ".prj") is not None else None
    elif fmt == "GeoJSON":
        # GDAL says EPSG:4326 for every GeoJSON; only a ``crs`` member is a declaration
        file_crs = file_crs if _geojson_declares_crs(file_crs) else None
    if file_crs:
        try:
            raw.declared = CRS.from_user_input(file_crs)
        except Exception:  # pyproj's own CRSError: a .prj it cannot parse
            raw.warnings.append(
                _both(f"the file's CRS declaration could not be parsed: {file_crs[:80]}",
                      f"无法解析文件中的坐标系声明：{file_crs[:80]}")
            )
    return raw


def _parse_wkb(wkb: np.ndarray, table: str, make_valid: bool, raw: _Raw) -> np.ndarray:
    """Shapely geometries from WKB; unreadable rows become problems (or are closed)."""
    geoms = shapely.from_wkb(wkb, on_invalid="ignore")
    unreadable = np.flatnonzero(pd.notna(pd.Series(wkb, dtype=object)).to_numpy() & shapely.is_missing(geoms))
    for i in unreadable:
        if make_valid:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                fixed = shapely.from_wkb(wkb[i], on_invalid="fix")
            if fixed is not None:
                geoms[i] = fixed
                raw.fixed_rows[int(i)] = "unreadable geometry (unclosed ring or too few points) rebuilt"
                continue
        raw.problems.append(
            Problem(
                "geometry cannot be read (unclosed ring or too few points); fix the source or use --make-valid",
                "几何图形无法读取（环未闭合或点数过少）；请修正源数据或使用 --make-valid",
                table,
                int(i),
                "geom",
            )
        )
    return geoms


def _geojson_declares_crs(gdal_crs: str | None) -> bool:
    """Whether a GeoJSON's CRS is a real declaration rather than the WGS84 everyone writes.

    GDAL reports EPSG:4326 for a GeoJSON without a ``crs`` member and itself writes
    a CRS84 member into every GeoJSON it produces -- including GCJ-02 data labelled
    4326. So only a member naming something other than WGS84 says anything.
    """
    return bool(gdal_crs) and _canon_or_none(gdal_crs) != "wgs84"


def _canon_or_none(value: str | CRS) -> str | None:
    """Canonical name of a CRS declaration, or None when it has no EPSG code."""
    try:
        return normalize_crs(value if isinstance(value, CRS) else CRS.from_user_input(value))
    except Exception:
        return None


def _read_csv(
    path: Path, spec: TableSpec, *, encoding: str | None, lon_field: str | None, lat_field: str | None
) -> _Raw:
    """A CSV with lon/lat columns (or a WKT column): every cell read as text.

    Codes must stay text (a 12-digit code read as a float loses its digits), so
    the file is read with ``dtype=str`` and coerced per column later.
    """
    data = path.read_bytes()
    if encoding:
        try:
            text, used = data.decode(encoding), encoding
        except UnicodeDecodeError as exc:
            raise _decode_refusal(path, exc, encoding) from exc
        except LookupError as exc:
            raise InvalidInput(f"Unknown encoding {encoding!r}", f"未知编码 {encoding!r}") from exc
        text = text.removeprefix("\ufeff")
    else:
        try:
            text, used = data.decode("utf-8-sig"), "UTF-8"
        except UnicodeDecodeError:
            try:
                text, used = data.decode("gb18030"), "GB18030"
            except UnicodeDecodeError as exc:
                raise _decode_refusal(path, exc, "UTF-8 or GB18030") from exc
    attrs = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False, na_values=[""], skipinitialspace=True)
    attrs.columns = [str(c).strip() for c in attrs.columns]
    raw = _Raw(attrs=attrs, geoms=None, declared=None, encoding=used)
    if used != "UTF-8" and not encoding:
        raw.warnings.append(_both(f"the CSV is not UTF-8; read as {used} (GBK)", f"CSV 不是 UTF-8 编码，已按 {used}（GBK）读取"))
    if not spec.geometry_type:
        return raw
    lon_col = _find_column(attrs, lon_field, _LON_NAMES)
    lat_col = _find_column(attrs, lat_field, _LAT_NAMES)
    if lon_col and lat_col:
        raw.geoms = _points_from_columns(attrs, lon_col, lat_col, spec.name, raw)
        raw.used_columns = (lon_col, lat_col)
        return raw
    wkt_col = _find_column(attrs, None, _WKT_NAMES)
    if wkt_col:
        raw.geoms = _geoms_from_wkt(attrs[wkt_col], wkt_col, spec.name, raw)
        raw.used_columns = (wkt_col,)
        return raw
    raise InvalidInput(
        f"{path.name} has no longitude/latitude columns (looked for {list(_LON_NAMES)} and "
        f"{list(_LAT_NAMES)}) and no WKT column; name them or pass --lon-field/--lat-field",
        f"{path.name} 中没有经纬度列（查找了 {list(_LON_NAMES)} 和 {list(_LAT_NAMES)}）也没有 WKT 列；"
        "请重命名列或使用 --lon-field/--lat-field 指定",
    )


def _find_column(frame: pd.DataFrame, given: str | None, names: tuple[str, ...]) -> str | None:
    """The column named ``given`` (it must exist), else the first one of ``names``."""
    if given:
        if given not in frame.columns:
            raise InvalidInput(
                f"Column {given!r} is not in the file; columns: {list(frame.columns)}",
                f"文件中没有列 {given!r}；现有列：{list(frame.columns)}",
            )
        return given
    lower = {str(c).lower(): str(c) for c in frame.columns}
    for name in names:
        if name in lower:
            return lower[name]
    return None


def _points_from_columns(frame: pd.DataFrame, lon_col: str, lat_col: str, table: str, raw: _Raw) -> np.ndarray:
    lon = pd.to_numeric(frame[lon_col], errors="coerce").to_numpy(dtype=float)
    lat = pd.to_numeric(frame[lat_col], errors="coerce").to_numpy(dtype=float)
    for col, values, numeric in ((lon_col, frame[lon_col], lon), (lat_col, frame[lat_col], lat)):
        for i in np.flatnonzero(np.isnan(numeric) & values.notna().to_numpy()):
            raw.problems.append(
                Problem(f"{values.iloc[i]!r} is not a number", f"{values.iloc[i]!r} 不是数字", table, int(i), col)
            )
    geoms = shapely.points(lon, lat)
    geoms[np.isnan(lon) | np.isnan(lat)] = None
    return geoms


def _geoms_from_wkt(values: pd.Series, col: str, table: str, raw: _Raw) -> np.ndarray:
    text = values.to_numpy(dtype=object)
    geoms = shapely.from_wkt(np.where(pd.isna(text), None, text), on_invalid="ignore")
    for i in np.flatnonzero(pd.notna(text) & shapely.is_missing(geoms)):
        raw.problems.append(Problem("geometry (WKT) cannot be read", "几何图形（WKT）无法读取", table, int(i), col))
    return geoms


# --------------------------------------------------------------------------- CRS


def _decide_crs(
    path: Path, fmt: str, raw: _Raw, crs: str | None, default_crs: str | None, out: list[str]
) -> tuple[str, str, str | None]:
    """(crs_used, crs_source, declared) following the never-guess rules; warnings to ``out``."""
    declared = _canon_or_none(raw.declared) if raw.declared is not None else None
    declared_text = declared or (raw.declared.name if raw.declared is not None else None)
    if crs:
        named = normalize_crs(crs)
        if raw.declared is not None and not _compatible(declared, named):
            out.append(
                _both(
                    f"the file declares {declared_text} but --crs {named} was given; using {named}",
                    f"文件声明的坐标系为 {declared_text}，但指定了 --crs {named}；按 {named} 处理",
                )
            )
        return named, "argument", declared_text
    if raw.declared is not None:
        if declared is None:
            raise CRSError(
                f"{path.name} declares a CRS without an EPSG code ({declared_text}); pass --crs",
                f"{path.name} 声明的坐标系没有 EPSG 代码（{declared_text}）；请使用 --crs 指定",
            )
        if declared == "wgs84" and default_crs and normalize_crs(default_crs) in OFFSET_SYSTEMS:
            out.append(
                _both(
                    f"the file declares WGS84 and was read as WGS84; if it comes from Amap/Baidu pass --crs {normalize_crs(default_crs)}",
                    f"文件声明为 WGS84 并按 WGS84 读取；如数据来自高德/百度，请使用 --crs {normalize_crs(default_crs)}",
                )
            )
        return declared, "file", declared_text
    if fmt in ("ESRI Shapefile", "GPKG") and raw.geoms is not None:
        # these formats can declare a CRS; one that does not is unknown, not WGS84
        raise CRSError(
            f"{path.name} does not declare its coordinate system (no .prj / srs); pass --crs, "
            "e.g. --crs cgcs2000, --crs gcj02 or --crs EPSG:4547",
            f"{path.name} 未声明坐标系（缺少 .prj 或 srs）；请使用 --crs 指定，"
            "例如 --crs cgcs2000、--crs gcj02 或 --crs EPSG:4547",
        )
    if default_crs:
        return normalize_crs(default_crs), "settings-default", None
    if raw.geoms is not None:
        out.append(
            _both(
                f"{path.name} cannot state its coordinate system; WGS84 was assumed. "
                "If the coordinates come from Amap/Tencent (GCJ-02) or Baidu (BD-09), re-import with --crs gcj02 or --crs bd09",
                f"{path.name} 无法声明坐标系，已假定为 WGS84。"
                "如坐标来自高德/腾讯（GCJ-02）或百度（BD-09），请使用 --crs gcj02 或 --crs bd09 重新导入",
            )
        )
    return "wgs84", "assumed-wgs84", None


def _compatible(declared: str | None, named: str) -> bool:
    """Whether a file's declaration agrees with the named CRS.

    GCJ-02/BD-09 files can only ever declare WGS84, and WGS84 and CGCS2000 are the
    same at map scale, so neither pair is a conflict.
    """
    if declared is None:
        return False
    if declared == named:
        return True
    if named in OFFSET_SYSTEMS:
        return declared == "wgs84"
    return {declared, named} <= {"wgs84", "cgcs2000"}


def _in_china(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    return (lon >= _CHINA_LON[0]) & (lon <= _CHINA_LON[1]) & (lat >= _CHINA_LAT[0]) & (lat <= _CHINA_LAT[1])


def _per_row(flags: np.ndarray, index: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(any, all) of per-vertex ``flags`` for each of ``n`` rows (rows without vertices: False)."""
    counts = np.bincount(index, minlength=n)
    hits = np.bincount(index, weights=flags.astype(float), minlength=n)
    return hits > 0, (hits == counts) & (counts > 0)


def _check_plausible(
    table: str,
    source: np.ndarray,
    store: np.ndarray,
    crs_used: str,
    area: shapely.Geometry | None,
    max_distance_km: float,
    out: list[str],
) -> None:
    """Refuse coordinates that cannot be right for the CRS they were read in.

    Three mistakes account for nearly all bad imports: projected metres labelled
    as degrees, latitude and longitude swapped, and a wrong file or CRS that puts
    features far from the district. Each is named with its rows.
    """
    n = len(store)
    present = ~shapely.is_missing(store)
    if not present.any():
        return
    src_xy, index = shapely.get_coordinates(source, return_index=True)
    xy = shapely.get_coordinates(store)
    lon, lat = xy[:, 0], xy[:, 1]
    finite = np.isfinite(lon) & np.isfinite(lat)
    in_range = finite & (np.abs(lon) <= 180) & (np.abs(lat) <= 90)
    geographic = is_geographic(crs_used)

    _, all_in_range = _per_row(in_range, index, n)
    _, swapped_in = _per_row(_in_china(lat, lon) & ~_in_china(lon, lat), index, n)
    big = np.abs(src_xy).max(axis=1) > 1000.0 if len(src_xy) else np.zeros(0, bool)
    any_big, _ = _per_row(big, index, n)
    _, all_degrees = _per_row((np.abs(src_xy[:, 0]) <= 180) & (np.abs(src_xy[:, 1]) <= 90), index, n)

    swapped = present & swapped_in
    metres = present & ~swapped & ~all_in_range & any_big & geographic
    degrees = present & ~geographic & all_degrees
    out_of_range = present & ~swapped & ~metres & ~degrees & ~all_in_range

    groups: list[tuple[np.ndarray, str, str]] = []
    if swapped.any():
        groups.append((swapped, "latitude and longitude look swapped (put longitude first, or name the columns lon/lat)",
                       "经纬度似乎颠倒（经度应在前，或将列命名为 lon/lat）"))
    if metres.any():
        hint = _projected_hint(src_xy[np.isin(index, np.flatnonzero(metres))])
        groups.append((metres, f"coordinates look like projected metres, not degrees; pass --crs EPSG:xxxx{hint}",
                       f"坐标看起来是投影坐标（米）而不是经纬度；请使用 --crs EPSG:xxxx 指定{hint}"))
    if degrees.any():
        groups.append((degrees, f"coordinates look like degrees but {crs_used} is projected (metres); pass --crs wgs84, cgcs2000 or gcj02",
                       f"坐标看起来是经纬度，但 {crs_used} 是投影坐标系（米）；请使用 --crs wgs84、cgcs2000 或 gcj02"))
    if out_of_range.any():
        groups.append((out_of_range, "coordinates are outside longitude -180..180 / latitude -90..90",
                       "坐标超出经度 -180..180 / 纬度 -90..90 的范围"))
    if not groups:
        groups += _far_groups(store, area, max_distance_km, out)
    if not groups:
        return
    problems: list[Problem] = []
    summary_en, summary_zh = [], []
    for rows, en, zh in groups:
        idx = np.flatnonzero(rows)
        summary_en.append(f"{len(idx)} feature(s): {en}")
        summary_zh.append(f"{len(idx)} 个要素：{zh}")
        problems += [Problem(en, zh, table, int(i), "geom") for i in idx]
    problems.sort(key=lambda p: p.row or 0)
    raise CRSError("; ".join(summary_en) + f" (read as {crs_used})", "；".join(summary_zh) + f"（按 {crs_used} 读取）", problems)


def _far_groups(
    store: np.ndarray, area: shapely.Geometry | None, max_distance_km: float, out: list[str]
) -> list[tuple[np.ndarray, str, str]]:
    """Rows farther than ``max_distance_km`` from ``area``, measured in metres."""
    present = ~shapely.is_missing(store)
    if area is None or shapely.is_empty(area):
        xy, index = shapely.get_coordinates(store, return_index=True)
        _, outside = _per_row(~_in_china(xy[:, 0], xy[:, 1]), index, len(store))
        if (outside & present).any():
            out.append(_both(f"{int((outside & present).sum())} feature(s) lie outside China",
                             f"{int((outside & present).sum())} 个要素位于中国范围以外"))
        return []
    proj = normalize_crs(projected_crs_for(np.array([area], dtype=object)))
    area_m = geoms_from_store(np.array([area], dtype=object), proj)[0]
    dist = np.full(len(store), np.nan)
    with np.errstate(all="ignore"):
        dist[present] = shapely.distance(geoms_from_store(store[present], proj), area_m) / 1000.0
    far = present & ~(dist <= max_distance_km)  # NaN/inf (beyond the projection) is far too
    if not far.any():
        return []
    worst = np.nanmax(np.where(np.isfinite(dist[far]), dist[far], np.nan), initial=0.0)
    if not np.isfinite(worst) or worst >= 1000 or (~np.isfinite(dist[far])).any():
        en = f"features are thousands of km from the district (more than {max_distance_km:g} km); wrong file or wrong --crs?"
        zh = f"要素距辖区数千公里（超过 {max_distance_km:g} 公里）；文件或 --crs 是否有误？"
    else:
        en = f"features are up to {worst:,.0f} km from the district (more than {max_distance_km:g} km); wrong file or wrong --crs?"
        zh = f"要素距辖区最远 {worst:,.0f} 公里（超过 {max_distance_km:g} 公里）；文件或 --crs 是否有误？"
    return [(far, en, zh)]


def _projected_hint(xy: np.ndarray) -> str:
    """A hint for the EPSG code of projected metres, from their magnitude alone.

    Not a guess that is applied: the import is refused either way. CGCS2000
    Gauss-Kruger eastings with the zone number in front (e.g. 39500000) name
    their zone; Web Mercator is recognisable by its size.
    """
    if len(xy) == 0:
        return ""
    x, y = float(np.median(xy[:, 0])), float(np.median(xy[:, 1]))
    zone = int(x // 1_000_000)
    if 25 <= zone <= 45 and 0 < y < 6_500_000:
        return f" (eastings start with {zone}: perhaps EPSG:{4513 + zone - 25}, CGCS2000 3-degree Gauss-Kruger zone {zone})"
    if 13 <= zone <= 23 and 0 < y < 6_500_000:
        return f" (eastings start with {zone}: perhaps EPSG:{4491 + zone - 13}, CGCS2000 6-degree Gauss-Kruger zone {zone})"
    if 7_000_000 < x < 15_200_000 and 300_000 < y < 7_200_000:
        lat = math.degrees(math.atan(math.sinh(y / 6378137.0)))
        if _CHINA_LAT[0] <= lat <= _CHINA_LAT[1]:
            return " (perhaps EPSG:3857, Web Mercator)"
    if 100_000 < x < 900_000:
        return " (perhaps a CGCS2000 Gauss-Kruger zone, EPSG:4534-4554, or UTM)"
    return ""


# --------------------------------------------------------------------------- repair


def _area_m2(geom: shapely.Geometry) -> float | None:
    if geom is None or geom.is_empty or geom.geom_type not in ("Polygon", "MultiPolygon"):
        return None
    proj = normalize_crs(projected_crs_for(np.array([geom], dtype=object)))
    return float(shapely.area(geoms_from_store(np.array([geom], dtype=object), proj)[0]))


def _polygonal(geom: shapely.Geometry) -> shapely.Geometry:
    """The polygonal part of a make_valid result (which may add stray lines or points)."""
    if geom.geom_type in ("Polygon", "MultiPolygon"):
        return geom
    parts = [p for p in shapely.get_parts(geom) if p.geom_type in ("Polygon", "MultiPolygon")]
    polys = [q for p in parts for q in shapely.get_parts(p)]
    return shapely.MultiPolygon(polys) if polys else shapely.MultiPolygon()


def _repair(geoms: np.ndarray, geometry_type: str) -> tuple[np.ndarray, list[Repair]]:
    """Make invalid geometries valid, recording each change with its area cost."""
    out = geoms.copy()
    repairs: list[Repair] = []
    present = ~shapely.is_missing(geoms)
    invalid = np.flatnonzero(present & ~shapely.is_valid(np.where(present, geoms, None)))
    for i in invalid:
        before = geoms[i]
        reason = shapely.is_valid_reason(before)
        fixed = shapely.make_valid(before)
        if geometry_type == "MULTIPOLYGON":
            fixed = _polygonal(fixed)
        out[i] = fixed
        repairs.append(
            Repair(
                int(i),
                f"invalid geometry repaired: {reason}",
                _describe(before),
                _describe(fixed),
                _area_m2(before),
                _area_m2(fixed),
            )
        )
    return out, repairs


def _describe(geom: shapely.Geometry) -> str:
    n = shapely.get_num_geometries(geom)
    return f"{geom.geom_type} ({n} part{'s' if n != 1 else ''})" if geom.geom_type.startswith("Multi") else geom.geom_type


# --------------------------------------------------------------------------- columns


def _shape_columns(
    attrs: pd.DataFrame, spec: TableSpec, *, shapefile: bool, skip: tuple[str, ...] = ()
) -> tuple[pd.DataFrame, list[str]]:
    """Spec columns in spec order (missing optional ones as None), and the dropped names.

    Matching is exact, then case-insensitive, then -- for Shapefiles, whose .dbf
    cuts field names to 10 characters -- by the truncated name.
    """
    by_lower = {str(c).lower(): str(c) for c in attrs.columns}
    used: set[str] = set(skip)
    out = pd.DataFrame(index=pd.RangeIndex(len(attrs)))
    for col in spec.columns:
        src = col.name if col.name in attrs.columns else by_lower.get(col.name.lower())
        if src is None and shapefile and len(col.name) > 10:
            src = by_lower.get(col.name[:10].lower())
        if src is None or src in used:
            if not col.required:
                out[col.name] = pd.Series([None] * len(attrs), dtype=object)
            continue
        used.add(src)
        out[col.name] = _pre_coerce(attrs[src], col.kind)
    dropped = [str(c) for c in attrs.columns if str(c) not in used]
    return out, dropped


def _pre_coerce(values: pd.Series, kind: str) -> pd.Series:
    """Blanks to None and numbers stored in text columns to their text, before validation.

    Codes in .dbf files are often numeric fields; ``110105000000.0`` must become
    ``"110105000000"``. Other kinds stay raw so validation can name bad values.
    """
    out = []
    for v in values.tolist():
        if v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NaT or v is pd.NA:
            out.append(None)
        elif isinstance(v, str):
            s = v.strip()
            out.append(s if s else None)
        elif kind == "text" and isinstance(v, (float, np.floating)) and float(v).is_integer():
            out.append(str(int(v)))
        elif kind == "text":
            out.append(str(v))
        else:
            out.append(v.item() if isinstance(v, np.generic) else v)
    return pd.Series(out, dtype=object, index=values.index)


def _parse_json_columns(frame: pd.DataFrame, spec: TableSpec) -> list[Problem]:
    """JSON columns arrive as JSON text (or GDAL list fields); parse them (bad text is a problem)."""
    problems: list[Problem] = []
    for col in spec.columns:
        if col.kind != "json" or col.name not in frame.columns:
            continue
        parsed = []
        for i, v in enumerate(frame[col.name].tolist()):
            if isinstance(v, np.ndarray):  # GDAL reads JSON arrays as list fields
                v = v.tolist()
            elif isinstance(v, str):
                try:
                    v = json.loads(v)
                except ValueError:
                    problems.append(Problem(f"{v[:40]!r} is not JSON", f"{v[:40]!r} 不是有效的 JSON", spec.name, i, col.name))
            parsed.append(v)
        frame[col.name] = pd.Series(parsed, dtype=object, index=frame.index)
    return problems


def _coerce(frame: pd.DataFrame, spec: TableSpec) -> pd.DataFrame:
    """Final column types once validation passed: Int64, float, ISO timestamps, text."""
    for col in spec.columns:
        values = frame[col.name]
        if col.kind == "int":
            frame[col.name] = pd.array(
                [None if v is None else int(v) if isinstance(v, (int, np.integer)) else int(float(v)) for v in values],
                dtype="Int64",
            )
        elif col.kind == "float":
            frame[col.name] = pd.to_numeric(values, errors="coerce").astype(float)
        elif col.kind == "timestamp":
            frame[col.name] = pd.Series(
                [None if v is None else pd.Timestamp(v).isoformat() for v in values], dtype=object, index=frame.index
            )
    return frame


def _naive_timestamps(frame: pd.DataFrame, spec: TableSpec) -> int:
    """How many timestamps carry no zone: Chinese sources mean Beijing time, the store UTC."""
    count = 0
    for col in spec.columns:
        if col.kind == "timestamp":
            count += sum(1 for v in frame[col.name] if v is not None and pd.Timestamp(v).tzinfo is None)
    return count


# --------------------------------------------------------------------------- writing


def write_table(
    frame: pd.DataFrame,
    path: str | os.PathLike[str],
    *,
    format: str | None = None,
    layer: str | None = None,
    crs: str = "wgs84",
    table: str | None = None,
    include_private: bool = False,
) -> WriteReport:
    """Write a store frame (``geom`` in EPSG:4490) to a file GDAL and QGIS open.

    Coordinates are converted to ``crs``; the file declares
    :func:`gis.crs.crs_for_file` of it (GCJ-02/BD-09 files say EPSG:4326, as every
    tool does, and the report names the real system). ``table`` (default: the
    layer or file name when it is a table) selects the spec; private columns
    (reporter contact) are dropped unless ``include_private``, even when the table
    is unknown. CSV is UTF-8 with BOM so that Excel shows Chinese correctly.
    """
    dst = Path(path)
    fmt = _format_of(dst, format)
    canon = normalize_crs(crs)
    layer_name = layer or table or dst.stem
    spec = _spec(table) if table else TABLES.get(layer_name) or TABLES.get(dst.stem)
    out, dropped, geoms = _export_frame(frame, spec, canon, include_private)
    report = WriteReport(str(dst), fmt, None if fmt in ("CSV",) else layer_name, len(out), canon,
                         None if geoms is None else crs_for_file(canon), dropped)
    if canon in OFFSET_SYSTEMS and geoms is not None and fmt != "CSV":
        report.warnings.append(
            _both(f"coordinates are {canon}; the file declares EPSG:4326 because {canon} has no EPSG code",
                  f"坐标为 {canon}；因其没有 EPSG 代码，文件中声明为 EPSG:4326")
        )
    if fmt == "CSV":
        _write_csv(out, geoms, dst, spec)
        return report
    if fmt == "ESRI Shapefile":
        long_names = [c for c in out.columns if len(c) > 10]
        if long_names:
            report.warnings.append(
                _both(f"Shapefile field names are cut to 10 characters: {long_names}",
                      f"Shapefile 字段名被截断为 10 个字符：{long_names}")
            )
        if dst.exists():
            for side in _side_files(dst):
                if side.suffix.lower() in (".shp", ".shx", ".dbf", ".prj", ".cpg", ".qix", ".sbn", ".sbx"):
                    side.unlink()
    _write_vector(out, geoms, dst, fmt, layer_name, spec, canon)
    return report


def write_tables(
    frames: Mapping[str, pd.DataFrame],
    path: str | os.PathLike[str],
    *,
    crs: str = "wgs84",
    include_private: bool = False,
) -> list[WriteReport]:
    """Several tables into one GeoPackage, one layer per table, replacing the file whole.

    Written to a temporary file next to the target and moved into place, so a
    failure half-way never leaves a bundle with some layers old and some new.
    """
    dst = Path(path)
    if dst.suffix.lower() != ".gpkg":
        raise InvalidInput(f"A bundle is a GeoPackage (.gpkg), not {dst.name}", f"数据包须为 GeoPackage（.gpkg），而非 {dst.name}")
    fd, tmp_name = tempfile.mkstemp(suffix=".gpkg", dir=dst.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    tmp.unlink()
    try:
        reports = [
            write_table(f, tmp, format="gpkg", layer=name, crs=crs, table=name, include_private=include_private)
            for name, f in frames.items()
        ]
        os.replace(tmp, dst)
    finally:
        if tmp.exists():
            tmp.unlink()
    for r in reports:
        r.path = str(dst)
    return reports


def _export_frame(
    frame: pd.DataFrame, spec: TableSpec | None, canon: str, include_private: bool
) -> tuple[pd.DataFrame, list[str], np.ndarray | None]:
    """Attribute columns ready for a file, dropped names, geometries in ``canon``."""
    private = {c.name for c in spec.columns if c.private} if spec else set(_PRIVATE_COLUMNS)
    json_cols = {c.name for c in spec.columns if c.kind == "json"} if spec else set()
    dropped = [c for c in frame.columns if c in private and not include_private]
    geoms = None
    if "geom" in frame.columns:
        geoms = geoms_from_store(np.asarray(frame["geom"].to_numpy(), dtype=object), canon)
    out = pd.DataFrame(
        {c: frame[c].to_numpy() for c in frame.columns if c != "geom" and c not in dropped}, index=pd.RangeIndex(len(frame))
    )
    for c in out.columns:
        if c in json_cols or out[c].map(lambda v: isinstance(v, (list, dict))).any():
            out[c] = pd.Series(
                [v if v is None or isinstance(v, str) else json.dumps(v, ensure_ascii=False) for v in out[c]],
                dtype=object,
            )
    return out, dropped, geoms


def _write_csv(out: pd.DataFrame, geoms: np.ndarray | None, dst: Path, spec: TableSpec | None) -> None:
    """UTF-8 with BOM; lon/lat columns for points, a WKT column for other geometries."""
    table = out.copy()
    if geoms is not None:
        points = spec.geometry_type == "POINT" if spec else bool(
            (shapely.get_type_id(geoms[~shapely.is_missing(geoms)]) == shapely.GeometryType.POINT).all()
        )
        if points:
            present = ~shapely.is_missing(geoms)
            lon = np.full(len(geoms), np.nan)
            lat = np.full(len(geoms), np.nan)
            lon[present] = shapely.get_x(geoms[present])
            lat[present] = shapely.get_y(geoms[present])
            table["lon"], table["lat"] = lon, lat
        else:
            table["wkt"] = shapely.to_wkt(geoms, rounding_precision=-1)
    for c in table.columns:
        if pd.api.types.is_datetime64_any_dtype(table[c]):
            table[c] = table[c].map(lambda v: None if pd.isna(v) else v.isoformat())
    table.to_csv(dst, index=False, encoding="utf-8-sig", float_format="%.15g")


def _write_vector(
    out: pd.DataFrame, geoms: np.ndarray | None, dst: Path, fmt: str, layer: str, spec: TableSpec | None, canon: str
) -> None:
    table = out.copy()
    if fmt == "ESRI Shapefile":
        # .dbf dates have no time of day: keep timestamps as ISO text
        for c in table.columns:
            if pd.api.types.is_datetime64_any_dtype(table[c]):
                table[c] = table[c].map(lambda v: None if pd.isna(v) else v.isoformat())
    kwargs: dict[str, Any] = {"driver": fmt}
    if fmt == "ESRI Shapefile":
        kwargs["encoding"] = "UTF-8"  # also writes the .cpg
    else:
        kwargs["layer"] = layer
    if fmt == "GPKG" and canon in OFFSET_SYSTEMS:
        kwargs["layer_options"] = {"DESCRIPTION": f"coordinates in {canon} (declared as EPSG:4326)"}
    if geoms is None:
        pyogrio.write_dataframe(table, dst, **kwargs)
        return
    gdf = gpd.GeoDataFrame(table, geometry=gpd.GeoSeries(geoms, index=table.index), crs=crs_for_file(canon))
    geometry_type = _OGR_TYPE.get(spec.geometry_type or "") if spec else None
    if geometry_type is None:
        kinds = {g.geom_type for g in geoms if g is not None}
        geometry_type = kinds.pop() if len(kinds) == 1 else "Unknown"
    with warnings.catch_warnings():
        # field names cut to 10 characters: already a warning in the report
        warnings.filterwarnings("ignore", "Normalized/laundered field name", RuntimeWarning)
        pyogrio.write_dataframe(
            gdf, dst, geometry_type=geometry_type, promote_to_multi=geometry_type.startswith("Multi"), **kwargs
        )
