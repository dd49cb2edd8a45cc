"""Tile math for Web Mercator (EPSG:3857) XYZ tiles.

Store coordinates are CGCS2000 lon/lat; at tile scale they equal WGS84, so the
spherical Mercator formulas apply without a datum shift (as PROJ's 4490 -> 3857).
"""

from __future__ import annotations

import math

import numpy as np

from gis.errors import InvalidInput

#: half the width of the Web Mercator world, metres
ORIGIN = 20037508.342789244
R = 6378137.0
EXTENT = 4096  #: tile coordinate extent (as ST_AsMVT's default)
BUFFER = 64  #: tile coordinate buffer around the tile (as ST_AsMVTGeom's default)
MAX_ZOOM = 22


def check_tile(z: int, x: int, y: int) -> None:
    """Refuse a tile address outside the pyramid (a 422-worthy error)."""
    if not 0 <= z <= MAX_ZOOM:
        raise InvalidInput(f"zoom {z} is outside 0..{MAX_ZOOM}", f"缩放级别 {z} 超出 0..{MAX_ZOOM}")
    n = 1 << z
    if not (0 <= x < n and 0 <= y < n):
        raise InvalidInput(
            f"tile {z}/{x}/{y} does not exist (x, y in 0..{n - 1})", f"瓦片 {z}/{x}/{y} 不存在"
        )


def tile_bounds_3857(
    z: int, x: int, y: int, margin: float = 0.0
) -> tuple[float, float, float, float]:
    """(minx, miny, maxx, maxy) in metres; ``margin`` is a fraction of the tile size,
    as ST_TileEnvelope's ``margin``."""
    size = 2 * ORIGIN / (1 << z)
    minx = -ORIGIN + x * size - margin * size
    maxx = -ORIGIN + (x + 1) * size + margin * size
    maxy = ORIGIN - y * size + margin * size
    miny = ORIGIN - (y + 1) * size - margin * size
    return minx, miny, maxx, maxy


def to_3857(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    lat = np.clip(lat, -85.0511287798066, 85.0511287798066)
    return np.radians(lon) * R, np.log(np.tan(np.pi / 4 + np.radians(lat) / 2)) * R


def to_lonlat(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return np.degrees(x / R), np.degrees(2 * np.arctan(np.exp(y / R)) - np.pi / 2)


def tile_bounds_lonlat(
    z: int, x: int, y: int, margin: float = 0.0
) -> tuple[float, float, float, float]:
    minx, miny, maxx, maxy = tile_bounds_3857(z, x, y, margin)
    lon, lat = to_lonlat(np.array([minx, maxx]), np.array([miny, maxy]))
    return float(lon[0]), float(lat[0]), float(lon[1]), float(lat[1])


def tiles_covering(bounds: tuple[float, float, float, float], z: int) -> list[tuple[int, int, int]]:
    """Every tile (z, x, y) of zoom ``z`` touching lon/lat ``bounds``."""
    mx, my = to_3857(np.array([bounds[0], bounds[2]]), np.array([bounds[1], bounds[3]]))
    size = 2 * ORIGIN / (1 << z)
    x0, x1 = (int(math.floor((v + ORIGIN) / size)) for v in mx)
    y0, y1 = (int(math.floor((ORIGIN - v) / size)) for v in my[::-1])
    n = (1 << z) - 1
    return [
        (z, x, y)
        for x in range(max(x0, 0), min(x1, n) + 1)
        for y in range(max(y0, 0), min(y1, n) + 1)
    ]
