"""Reading GeoJSON, GeoPackage and Shapefile through pyogrio, geometry by geometry,
so one unreadable feature is a problem with its index rather than a failed file.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pyogrio
import shapely
from pyproj import CRS

from gis.errors import InvalidInput, Problem
from gis.io.crs_decision import _canon_or_none
from gis.io.formats import _decode_refusal, _pick_layer, _shapefile_encoding, _sibling
from gis.io.raw import _Raw
from gis.io.reports import _both
from gis.model import TableSpec

#: GDAL warnings that are reported better per row, or are harmless
_GDAL_NOISE = ("closed ring", "Non-conformant content")


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
