"""The Python MVT encoder: store-CRS geometries in, one Mapbox Vector Tile out.

The embedded (GeoPackage) store's path; PostGIS makes the same tile with
``ST_AsMVT``/``ST_AsMVTGeom``. Like ``ST_AsMVTGeom(geom, envelope, 4096, 64, true)``
the geometries are projected to Web Mercator, converted to integer tile coordinates
(y down) and clipped to the tile plus its buffer; features left empty are dropped,
null attributes are left out.
"""

from __future__ import annotations

from collections.abc import Sequence

import mapbox_vector_tile
import numpy as np
import shapely

from gis.tiles.mercator import BUFFER, EXTENT, tile_bounds_3857, to_3857


def _to_tile_coords(geoms: np.ndarray, z: int, x: int, y: int, extent: int) -> np.ndarray:
    minx, miny, maxx, maxy = tile_bounds_3857(z, x, y)
    sx, sy = extent / (maxx - minx), extent / (maxy - miny)

    def tx(coords: np.ndarray) -> np.ndarray:
        mx, my = to_3857(coords[:, 0], coords[:, 1])
        return np.column_stack([(mx - minx) * sx, (maxy - my) * sy])

    return shapely.transform(geoms, tx)


def encode_tile(
    name: str,
    geoms: Sequence,
    ids: Sequence[int],
    properties: Sequence[dict],
    z: int,
    x: int,
    y: int,
    *,
    extent: int = EXTENT,
    buffer: int = BUFFER,
) -> bytes:
    """One layer ``name`` with the features that intersect the buffered tile."""
    if not len(geoms):
        return b""
    tile = _to_tile_coords(np.asarray(geoms, dtype=object), z, x, y, extent)
    tile = shapely.set_precision(
        tile, 1.0
    )  # snap to the integer grid first (kept valid), as PostGIS does
    lo, hi = -buffer, extent + buffer
    points = shapely.get_type_id(tile) == 0
    clipped = np.empty(len(tile), dtype=object)
    if points.any():  # a point on the buffer's edge is kept, as ST_AsMVTGeom keeps it
        px, py = shapely.get_x(tile[points]), shapely.get_y(tile[points])
        inside = (px >= lo) & (px <= hi) & (py >= lo) & (py <= hi)
        clipped[points] = np.where(inside, tile[points], None)
    if (~points).any():
        cut = shapely.set_precision(shapely.clip_by_rect(tile[~points], lo, lo, hi, hi), 1.0)
        polygonal = np.isin(shapely.get_type_id(tile[~points]), (3, 6))
        # a sliver left at the buffer's edge (under one tile unit²) is dropped, as PostGIS drops it
        cut[polygonal & (shapely.area(cut) < 1.0)] = None
        clipped[~points] = cut
    keep = ~(shapely.is_empty(clipped) | shapely.is_missing(clipped))
    features = []
    for geom, fid, props in zip(
        clipped[keep],
        np.asarray(ids)[keep],
        np.asarray(properties, dtype=object)[keep],
        strict=True,
    ):
        if geom.geom_type == "GeometryCollection":  # clipping a polygon along its edge
            geom = shapely.union_all([g for g in geom.geoms if g.geom_type.endswith("Polygon")])
            if geom.is_empty:
                continue
        features.append(
            {
                "geometry": geom,
                "id": int(fid),
                "properties": {k: v for k, v in props.items() if v is not None},
            }
        )
    if not features:
        return b""
    return mapbox_vector_tile.encode(
        [{"name": name, "features": features}],
        default_options={"extents": extent, "y_coord_down": True, "quantize_bounds": None},
    )
