"""The district outline: a synthetic one that looks like a real district, or a given one.

Everything in the generator works in metres in the projected CRS that
:func:`gis.crs.projected_crs_for` picks for the area, so areas (10,000 m^2 unit
grids, 500 m^2 slivers) mean what they say; only the finished frames are converted
to the store CRS.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from gis.crs import geoms_from_store, geoms_to_store, normalize_crs, projected_crs_for
from gis.errors import InvalidInput

#: where the default synthetic district sits: south-west Shanghai, on Hangzhou Bay
DEFAULT_CENTER = (121.2, 30.85)

_GEOJSON_GEOMETRY_TYPES = ("Polygon", "MultiPolygon", "GeometryCollection")


def projected_crs_name(store_geoms) -> str:
    """``EPSG:n`` of the projected CRS for store-CRS geometries (CGCS2000 Gauss-Kruger zone)."""
    return normalize_crs(projected_crs_for(store_geoms))


def to_projected(geom: BaseGeometry, crs: str) -> BaseGeometry:
    """A store-CRS geometry in metres."""
    return geoms_from_store(np.array([geom], dtype=object), crs)[0]


def noisy_loop(
    rng: np.random.Generator,
    cx: float,
    cy: float,
    radius: float,
    roughness: float,
    harmonics: int,
    n_vertices: int = 720,
) -> shapely.Polygon:
    """A star-shaped polygon whose radius is 1 + a sum of random harmonics.

    Amplitudes fall off as k^-1.3 so the shape has a few big lobes and a ragged
    edge, like a boundary that follows old field and water lines. The radius is
    clipped at 0.3 so the polygon stays simple (star-shaped around the centre).
    """
    theta = np.linspace(0.0, 2.0 * np.pi, n_vertices, endpoint=False)
    k = np.arange(2, harmonics + 1, dtype=float)
    amp = rng.normal(0.0, 1.0, k.size) * roughness * k**-1.3
    phase = rng.uniform(0.0, 2.0 * np.pi, k.size)
    r = 1.0 + (amp[:, None] * np.cos(k[:, None] * theta[None, :] + phase[:, None])).sum(axis=0)
    r = radius * np.clip(r, 0.3, None)
    return shapely.Polygon(np.column_stack([cx + r * np.cos(theta), cy + r * np.sin(theta)]))


def largest_polygon(geom: BaseGeometry) -> shapely.Polygon:
    """The largest polygonal part of ``geom`` (first one on equal areas)."""
    parts = np.asarray(shapely.get_parts(geom), dtype=object)
    parts = parts[shapely.get_type_id(parts) == shapely.GeometryType.POLYGON]
    if parts.size == 0:
        raise InvalidInput("The outline has no polygon", "边界中没有多边形")
    return parts[int(np.argmax(shapely.area(parts)))]


def synthetic_outline(
    rng: np.random.Generator, center_xy: tuple[float, float], area_m2: float
) -> shapely.Polygon:
    """A district outline in metres: irregular lobes, a ragged edge and a straighter coast.

    The south side is cut by a gently curving coastline (the district faces
    Hangzhou Bay like Jinshan), then the shape is scaled to exactly ``area_m2``.
    """
    cx, cy = center_xy
    radius = float(np.sqrt(area_m2 / np.pi))
    shape = noisy_loop(rng, cx, cy, radius, roughness=0.3, harmonics=120)
    # coastline: a wavy line about 0.6 R south of the centre, land to the north
    x = np.linspace(cx - 3 * radius, cx + 3 * radius, 400)
    tilt = rng.uniform(-0.25, 0.25)
    waves = sum(
        rng.uniform(0.01, 0.04)
        * radius
        * np.sin(2 * np.pi * (x - cx) / (radius * w) + rng.uniform(0, 6.3))
        for w in (0.35, 0.8, 1.7)
    )
    y = cy - 0.6 * radius + tilt * (x - cx) + waves
    land = shapely.Polygon(
        np.vstack([np.column_stack([x, y]), [[x[-1], cy + 4 * radius], [x[0], cy + 4 * radius]]])
    )
    shape = largest_polygon(shapely.intersection(shape, land))
    factor = float(np.sqrt(area_m2 / shape.area))
    coords = shapely.get_coordinates(shape)
    coords = np.column_stack([cx + (coords[:, 0] - cx) * factor, cy + (coords[:, 1] - cy) * factor])
    return shapely.make_valid(shapely.Polygon(coords))


def read_outline(
    outline: BaseGeometry | str | Path, outline_crs: str | None
) -> tuple[BaseGeometry, str]:
    """A given outline (geometry or file) and the CRS its coordinates are in.

    Files: a bare GeoJSON geometry (as in the admin-cn fences), a GeoJSON feature
    collection, a GeoPackage or a Shapefile; all features are unioned. The CRS is
    ``outline_crs`` when given (GCJ-02 files look like WGS84 to GDAL), else the
    file's, else CGCS2000.
    """
    if isinstance(outline, BaseGeometry):
        return outline, outline_crs or "cgcs2000"
    path = Path(outline)
    if not path.exists():
        raise InvalidInput(f"Outline file {path} does not exist", f"边界文件 {path} 不存在")
    if path.suffix.lower() in (".json", ".geojson"):
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("type") in _GEOJSON_GEOMETRY_TYPES:
            return shapely.from_geojson(json.dumps(data)), outline_crs or "cgcs2000"
    import geopandas as gpd

    frame = gpd.read_file(path)
    crs = outline_crs or (normalize_crs(frame.crs) if frame.crs is not None else "cgcs2000")
    return shapely.union_all(frame.geometry.to_numpy()), crs


def outline_in_store(outline: BaseGeometry, crs: str) -> BaseGeometry:
    """The outline in the store CRS, valid, polygons only."""
    geom = geoms_to_store(np.array([outline], dtype=object), crs)[0]
    geom = shapely.make_valid(geom)
    parts = np.asarray(shapely.get_parts(geom), dtype=object)
    polys = parts[np.isin(shapely.get_type_id(parts), [3, 6])]
    if polys.size == 0:
        raise InvalidInput("The outline has no polygon", "边界中没有多边形")
    return shapely.union_all(polys)
