"""GeoPackage geometry blobs (GPKG spec 2.1.3): header + ISO WKB, vectorised.

The embedded store writes these itself so that a GDAL- or QGIS-opened file sees
ordinary GeoPackage geometries, and registers the ``ST_*`` SQL functions that the
R-tree triggers of the spec call (GDAL registers its own when it opens the file).
"""

from __future__ import annotations

import struct

import numpy as np
import shapely

_ENVELOPE_BYTES = {0: 0, 1: 32, 2: 48, 3: 48, 4: 64}
_LITTLE_ENDIAN = 0x01
_EMPTY = 0x10
_ENV_XY = 0x02  # envelope indicator 1 (minx, maxx, miny, maxy) in bits 1-3


def encode(geoms, srs_id: int) -> list[bytes | None]:
    """Shapely geometries -> GeoPackage blobs (points without envelope, like GDAL)."""
    geoms = np.asarray(geoms, dtype=object)
    wkb = shapely.to_wkb(geoms, output_dimension=2, byte_order=1, flavor="iso")
    bounds = shapely.bounds(geoms)
    types = shapely.get_type_id(geoms)
    empty = shapely.is_empty(geoms)
    out: list[bytes | None] = []
    for i in range(len(geoms)):
        if geoms[i] is None:
            out.append(None)
            continue
        if empty[i]:
            out.append(struct.pack("<2sBBi", b"GP", 0, _LITTLE_ENDIAN | _EMPTY, srs_id) + wkb[i])
        elif types[i] == shapely.GeometryType.POINT:
            out.append(struct.pack("<2sBBi", b"GP", 0, _LITTLE_ENDIAN, srs_id) + wkb[i])
        else:
            minx, miny, maxx, maxy = bounds[i]
            out.append(
                struct.pack("<2sBBi4d", b"GP", 0, _LITTLE_ENDIAN | _ENV_XY, srs_id, minx, maxx, miny, maxy)
                + wkb[i]
            )
    return out


def _header_length(blob: bytes) -> int:
    return 8 + _ENVELOPE_BYTES[(blob[3] >> 1) & 0x07]


def decode(blobs) -> np.ndarray:
    """GeoPackage blobs -> shapely geometries (None stays None)."""
    wkbs = [None if b is None else bytes(b)[_header_length(b) :] for b in blobs]
    return shapely.from_wkb(np.array(wkbs, dtype=object))


# ------------------------------------------------------------ SQL functions for triggers


def _envelope(blob: bytes) -> tuple[float, float, float, float] | None:
    """(minx, maxx, miny, maxy) from the header, or from the WKB when absent."""
    if blob is None:
        return None
    flags = blob[3]
    order = "<" if flags & 0x01 else ">"
    if (flags >> 1) & 0x07:
        return struct.unpack(order + "4d", blob[8:40])
    geom = shapely.from_wkb(bytes(blob)[_header_length(blob) :])
    if geom.is_empty:
        return None
    minx, miny, maxx, maxy = geom.bounds
    return minx, maxx, miny, maxy


def st_is_empty(blob: bytes | None) -> int | None:
    if blob is None:
        return None
    return 1 if blob[3] & _EMPTY else 0


def _coord(index: int):
    def fn(blob: bytes | None) -> float | None:
        env = _envelope(blob)
        return None if env is None else env[index]

    return fn


SQL_FUNCTIONS = {
    "ST_IsEmpty": st_is_empty,
    "ST_MinX": _coord(0),
    "ST_MaxX": _coord(1),
    "ST_MinY": _coord(2),
    "ST_MaxY": _coord(3),
}
