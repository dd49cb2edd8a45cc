"""Reading CSV: every cell as text (codes must keep their digits), geometry from
lon/lat columns or a WKT column, each unreadable cell a problem with its row.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd
import shapely

from gis.errors import InvalidInput, Problem
from gis.io.formats import _decode_refusal
from gis.io.raw import _Raw
from gis.io.reports import _both
from gis.model import TableSpec

_LON_NAMES = ("lon", "lng", "long", "longitude", "经度", "x坐标")
_LAT_NAMES = ("lat", "latitude", "纬度", "y坐标")
_WKT_NAMES = ("wkt", "geom", "geometry", "the_geom")


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
