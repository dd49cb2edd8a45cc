"""Deciding which CRS a file's coordinates are in, by the never-guess rules of the
package docstring: the argument, the file's declaration, the deployment default,
or WGS84 assumed and said so.
"""

from __future__ import annotations

from pathlib import Path

from pyproj import CRS

from gis.crs import OFFSET_SYSTEMS, normalize_crs
from gis.errors import CRSError
from gis.io.raw import _Raw
from gis.io.reports import _both


def _canon_or_none(value: str | CRS) -> str | None:
    """Canonical name of a CRS declaration, or None when it has no EPSG code."""
    try:
        return normalize_crs(value if isinstance(value, CRS) else CRS.from_user_input(value))
    except Exception:
        return None


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
