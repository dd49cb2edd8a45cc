"""File formats and the files around them: the GDAL driver for a path, Shapefile
side-car files, the GeoPackage layer to read, and text encodings.

Shared by reading and writing; the encoding rules live here because a wrong
guess turns Chinese text into mojibake without a word (see the package docstring).
"""

from __future__ import annotations

from pathlib import Path

import pyogrio

from gis.errors import InvalidInput

_FORMATS = {
    ".geojson": "GeoJSON",
    ".json": "GeoJSON",
    ".gpkg": "GPKG",
    ".shp": "ESRI Shapefile",
    ".csv": "CSV",
}


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
