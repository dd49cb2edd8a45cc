"""Writing store frames to files GDAL and QGIS open: one table per file, or several
tables as one GeoPackage replaced whole; private columns dropped unless asked.
"""

from __future__ import annotations

import json
import os
import tempfile
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely

from gis.crs import OFFSET_SYSTEMS, crs_for_file, geoms_from_store, normalize_crs
from gis.errors import InvalidInput
from gis.io.formats import _format_of, _side_files
from gis.io.reports import WriteReport, _both
from gis.io.tables import _spec
from gis.model import TABLES, TableSpec

_OGR_TYPE = {"MULTIPOLYGON": "MultiPolygon", "POINT": "Point", "MULTILINESTRING": "MultiLineString"}

#: every column that some table marks private: dropped on export even when the
#: caller did not say which table a frame holds
_PRIVATE_COLUMNS = frozenset(c.name for t in TABLES.values() for c in t.columns if c.private)


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
