"""Coordinate systems: names, GCJ-02 and BD-09, and the projected CRS for an area.

The only module that converts coordinates. Everything is vectorised over numpy
arrays. GCJ-02 (Amap, Tencent) and BD-09 (Baidu) are not EPSG systems: their
forward formulas are the published ones; the inverses are iterated until the
forward image of the answer is within 1e-10 degrees (about 0.01 mm) of the input,
so a round trip is exact to far below 1 cm.

Inside China's bounding box the offset is applied; outside it the systems equal
WGS84, as in every implementation of the formula (Amap does the same).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import lru_cache

import numpy as np
import shapely
from pyproj import CRS, Transformer

from gis.errors import CRSError
from gis.model import STORE_SRID

# GCJ-02 uses the Krasovsky 1940 ellipsoid in its formula.
_A = 6378245.0
_EE = 0.00669342162296594323
_X_PI = np.pi * 3000.0 / 180.0
_TOL_DEG = 1e-10
_MAX_ITER = 50

#: names a user may give, mapped to the canonical name; anything else goes to pyproj
_ALIASES = {
    "wgs84": "wgs84",
    "wgs-84": "wgs84",
    "epsg:4326": "wgs84",
    "4326": "wgs84",
    "cgcs2000": "cgcs2000",
    "epsg:4490": "cgcs2000",
    "4490": "cgcs2000",
    "gcj02": "gcj02",
    "gcj-02": "gcj02",
    "gcj": "gcj02",
    "amap": "gcj02",
    "bd09": "bd09",
    "bd-09": "bd09",
    "baidu": "bd09",
}

OFFSET_SYSTEMS = ("gcj02", "bd09")


def normalize_crs(name: str | int | CRS) -> str:
    """Canonical CRS name: ``wgs84``, ``cgcs2000``, ``gcj02``, ``bd09`` or ``EPSG:n``.

    Raises CRSError for anything pyproj does not know either.
    """
    if isinstance(name, CRS):
        epsg = name.to_epsg()
        if epsg is None:
            raise CRSError(
                f"CRS has no EPSG code: {name.name}",
                f"坐标系没有 EPSG 代码：{name.name}",
            )
        return normalize_crs(epsg)
    text = str(name).strip()
    if text.lower() in _ALIASES:
        return _ALIASES[text.lower()]
    if text.isdigit():
        text = f"EPSG:{text}"
    try:
        crs = CRS.from_user_input(text)
    except Exception as exc:  # pyproj raises CRSError of its own, with a long text
        raise CRSError(
            f"Unknown coordinate system {name!r}; use wgs84, cgcs2000, gcj02, bd09 or an EPSG code",
            f"未知坐标系 {name!r}；请使用 wgs84、cgcs2000、gcj02、bd09 或 EPSG 代码",
        ) from exc
    epsg = crs.to_epsg()
    if epsg is None:
        raise CRSError(
            f"Coordinate system {name!r} has no EPSG code",
            f"坐标系 {name!r} 没有 EPSG 代码",
        )
    return _ALIASES.get(f"epsg:{epsg}", f"EPSG:{epsg}")


def is_geographic(name: str) -> bool:
    """True when coordinates in this CRS are longitude/latitude degrees."""
    canon = normalize_crs(name)
    if canon in ("wgs84", "cgcs2000", "gcj02", "bd09"):
        return True
    return CRS.from_user_input(canon).is_geographic


# ---------------------------------------------------------------- GCJ-02 / BD-09


def in_china(lon, lat):
    """The bounding box inside which GCJ-02 applies its offset."""
    return (lon > 73.66) & (lon < 135.05) & (lat > 3.86) & (lat < 53.55)


class _Scalar:
    """math functions under numpy's names: the formulas below run on floats ~30x faster
    than on one-element arrays (a dispatcher's single point)."""

    sin = staticmethod(math.sin)
    cos = staticmethod(math.cos)
    sqrt = staticmethod(math.sqrt)
    abs = staticmethod(abs)
    arctan2 = staticmethod(math.atan2)
    pi = math.pi


def _gcj_delta(lon, lat, m=np):
    """The GCJ-02 offset at (lon, lat); ``m`` is numpy (arrays) or _Scalar (floats)."""
    x = lon - 105.0
    y = lat - 35.0
    pi = m.pi
    sx = m.sqrt(m.abs(x))
    common = (20.0 * m.sin(6.0 * x * pi) + 20.0 * m.sin(2.0 * x * pi)) * 2.0 / 3.0
    dlat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * sx + common
    dlat += (20.0 * m.sin(y * pi) + 40.0 * m.sin(y / 3.0 * pi)) * 2.0 / 3.0
    dlat += (160.0 * m.sin(y / 12.0 * pi) + 320.0 * m.sin(y * pi / 30.0)) * 2.0 / 3.0
    dlon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * sx + common
    dlon += (20.0 * m.sin(x * pi) + 40.0 * m.sin(x / 3.0 * pi)) * 2.0 / 3.0
    dlon += (150.0 * m.sin(x / 12.0 * pi) + 300.0 * m.sin(x / 30.0 * pi)) * 2.0 / 3.0
    radlat = lat / 180.0 * pi
    magic = 1.0 - _EE * m.sin(radlat) ** 2
    sqrtmagic = m.sqrt(magic)
    dlat = (dlat * 180.0) / ((_A * (1.0 - _EE)) / (magic * sqrtmagic) * pi)
    dlon = (dlon * 180.0) / (_A / sqrtmagic * m.cos(radlat) * pi)
    inside = in_china(lon, lat)
    if m is np:
        return np.where(inside, dlon, 0.0), np.where(inside, dlat, 0.0)
    return (dlon, dlat) if inside else (0.0, 0.0)


def _scalar(lon, lat) -> bool:
    return isinstance(lon, float | int) and isinstance(lat, float | int)


def wgs84_to_gcj02(lon, lat):
    """The published GCJ-02 forward formula (arrays, or floats for one point)."""
    if _scalar(lon, lat):
        dlon, dlat = _gcj_delta(float(lon), float(lat), _Scalar)
        return lon + dlon, lat + dlat
    lon = np.asarray(lon, dtype=float)
    lat = np.asarray(lat, dtype=float)
    dlon, dlat = _gcj_delta(lon, lat)
    return lon + dlon, lat + dlat


def gcj02_to_bd09(lon, lat):
    """The published BD-09 forward formula (from GCJ-02)."""
    m = _Scalar if _scalar(lon, lat) else np
    x = lon if m is _Scalar else np.asarray(lon, dtype=float)
    y = lat if m is _Scalar else np.asarray(lat, dtype=float)
    z = m.sqrt(x * x + y * y) + 0.00002 * m.sin(y * _X_PI)
    theta = m.arctan2(y, x) + 0.000003 * m.cos(x * _X_PI)
    return z * m.cos(theta) + 0.0065, z * m.sin(theta) + 0.006


def _invert(forward: Callable, lon, lat):
    """Solve forward(x) = target by fixed-point iteration (the offsets vary slowly)."""
    if _scalar(lon, lat):
        x, y = float(lon), float(lat)
        for _ in range(_MAX_ITER):
            fx, fy = forward(x, y)
            ex, ey = fx - lon, fy - lat
            x, y = x - ex, y - ey
            if abs(ex) <= _TOL_DEG and abs(ey) <= _TOL_DEG:
                break
        return x, y
    tx = np.asarray(lon, dtype=float)
    ty = np.asarray(lat, dtype=float)
    x, y = tx.copy(), ty.copy()
    for _ in range(_MAX_ITER):
        fx, fy = forward(x, y)
        ex, ey = fx - tx, fy - ty
        x = x - ex
        y = y - ey
        if not (np.nanmax(np.abs(ex), initial=0.0) > _TOL_DEG or np.nanmax(np.abs(ey), initial=0.0) > _TOL_DEG):
            break
    return x, y


def gcj02_to_wgs84(lon, lat) -> tuple[np.ndarray, np.ndarray]:
    return _invert(wgs84_to_gcj02, lon, lat)


def bd09_to_gcj02(lon, lat) -> tuple[np.ndarray, np.ndarray]:
    return _invert(gcj02_to_bd09, lon, lat)


def wgs84_to_bd09(lon, lat) -> tuple[np.ndarray, np.ndarray]:
    return gcj02_to_bd09(*wgs84_to_gcj02(lon, lat))


def bd09_to_wgs84(lon, lat) -> tuple[np.ndarray, np.ndarray]:
    return _invert(wgs84_to_bd09, lon, lat)


# ---------------------------------------------------------------- to and from the store


@lru_cache(maxsize=64)
def _transformer(src: str, dst: str) -> Transformer:
    return Transformer.from_crs(src, dst, always_xy=True)


def to_store(x, y, crs: str | int) -> tuple[np.ndarray, np.ndarray]:
    """Coordinates in ``crs`` to the store's CGCS2000 longitude/latitude."""
    canon = normalize_crs(crs)
    if canon in OFFSET_SYSTEMS and _scalar(x, y):  # one point: the float path
        return gcj02_to_wgs84(x, y) if canon == "gcj02" else bd09_to_wgs84(x, y)
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    if canon in ("wgs84", "cgcs2000"):
        return x.copy(), y.copy()
    if canon == "gcj02":
        return gcj02_to_wgs84(x, y)
    if canon == "bd09":
        return bd09_to_wgs84(x, y)
    return _transformer(canon, f"EPSG:{STORE_SRID}").transform(x, y)


def from_store(lon, lat, crs: str | int) -> tuple[np.ndarray, np.ndarray]:
    """The store's CGCS2000 longitude/latitude to coordinates in ``crs``."""
    canon = normalize_crs(crs)
    lon = np.asarray(lon, dtype=float)
    lat = np.asarray(lat, dtype=float)
    if canon in ("wgs84", "cgcs2000"):
        return lon.copy(), lat.copy()
    if canon == "gcj02":
        return wgs84_to_gcj02(lon, lat)
    if canon == "bd09":
        return wgs84_to_bd09(lon, lat)
    return _transformer(f"EPSG:{STORE_SRID}", canon).transform(lon, lat)


def _transform_geoms(geoms, fn) -> np.ndarray:
    def apply(coords: np.ndarray) -> np.ndarray:
        x, y = fn(coords[:, 0], coords[:, 1])
        return np.column_stack([x, y])

    return shapely.transform(np.asarray(geoms, dtype=object), apply)


def geoms_to_store(geoms, crs: str | int) -> np.ndarray:
    """Shapely geometries in ``crs`` to the store CRS (vectorised over all vertices)."""
    return _transform_geoms(geoms, lambda x, y: to_store(x, y, crs))


def geoms_from_store(geoms, crs: str | int) -> np.ndarray:
    return _transform_geoms(geoms, lambda x, y: from_store(x, y, crs))


def crs_for_file(canon: str) -> str:
    """The CRS to declare in a file holding coordinates of ``canon``.

    GCJ-02 and BD-09 have no EPSG code: files carrying them declare WGS84 (what
    every tool does) and the name travels in the export report.
    """
    if canon in ("wgs84", "gcj02", "bd09"):
        return "EPSG:4326"
    if canon == "cgcs2000":
        return "EPSG:4490"
    return canon


# ---------------------------------------------------------------- local metric


_GRS80_A = 6378137.0  # CGCS2000 and WGS84 share this semi-major axis
_GRS80_E2 = 0.00669438002290  # first eccentricity squared (CGCS2000's differs by 1e-12)


def metres_per_degree(lat: float) -> tuple[float, float]:
    """Metres per degree of longitude and of latitude at ``lat`` on the ellipsoid.

    The local tangent plane: distances of up to a few hundred metres from it are right
    to far below a millimetre, with no projection call (the dispatcher's hot path).
    """
    phi = math.radians(lat)
    w = math.sqrt(1.0 - _GRS80_E2 * math.sin(phi) ** 2)
    deg = math.pi / 180.0
    return _GRS80_A * math.cos(phi) / w * deg, _GRS80_A * (1.0 - _GRS80_E2) / w**3 * deg


# ---------------------------------------------------------------- projected CRS


def projected_crs(lon: float, lat: float) -> CRS:
    """The projected CRS for areas and distances around (lon, lat).

    In China: the CGCS2000 3-degree Gauss-Kruger zone whose central meridian is
    nearest (EPSG:4534 at 75E ... EPSG:4554 at 135E), the convention of Chinese
    surveying; scale distortion stays below about 2.5e-4 within the zone. Elsewhere: UTM.
    """
    if 73.0 <= lon <= 136.5 and 3.0 <= lat <= 54.0:
        cm = int(np.clip(round(lon / 3.0) * 3, 75, 135))
        return CRS.from_epsg(4534 + (cm - 75) // 3)
    zone = int((lon + 180.0) // 6.0) % 60 + 1
    return CRS.from_epsg((32600 if lat >= 0 else 32700) + zone)


def projected_crs_for(geoms) -> CRS:
    """The one place that decides the projected CRS for a set of store geometries."""
    bounds = shapely.total_bounds(np.asarray(geoms, dtype=object))
    if not np.all(np.isfinite(bounds)):
        raise CRSError("Cannot choose a projection for empty geometries", "几何为空，无法选择投影")
    return projected_crs((bounds[0] + bounds[2]) / 2.0, (bounds[1] + bounds[3]) / 2.0)
