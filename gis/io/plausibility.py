"""Refusing coordinates that cannot be right for the CRS they were read in: metres
labelled as degrees, swapped latitude and longitude, features far from the district.

Separate from the CRS decision because it checks the coordinates, not the labels,
and its refusals name the rows.
"""

from __future__ import annotations

import math

import numpy as np
import shapely

from gis.crs import geoms_from_store, is_geographic, normalize_crs, projected_crs_for
from gis.errors import CRSError, Problem
from gis.io.reports import _both

#: China's bounding box for plausibility checks (lon 73-136, lat 3-54)
_CHINA_LON = (73.0, 136.0)
_CHINA_LAT = (3.0, 54.0)


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
