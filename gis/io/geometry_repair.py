"""Repairing invalid geometries with ``make_valid`` (only when asked), recording each
change and what it cost in area so the user can judge it.
"""

from __future__ import annotations

import numpy as np
import shapely

from gis.crs import geoms_from_store, normalize_crs, projected_crs_for
from gis.io.reports import Repair


def _area_m2(geom: shapely.Geometry) -> float | None:
    if geom is None or geom.is_empty or geom.geom_type not in ("Polygon", "MultiPolygon"):
        return None
    proj = normalize_crs(projected_crs_for(np.array([geom], dtype=object)))
    return float(shapely.area(geoms_from_store(np.array([geom], dtype=object), proj)[0]))


def _polygonal(geom: shapely.Geometry) -> shapely.Geometry:
    """The polygonal part of a make_valid result (which may add stray lines or points)."""
    if geom.geom_type in ("Polygon", "MultiPolygon"):
        return geom
    parts = [p for p in shapely.get_parts(geom) if p.geom_type in ("Polygon", "MultiPolygon")]
    polys = [q for p in parts for q in shapely.get_parts(p)]
    return shapely.MultiPolygon(polys) if polys else shapely.MultiPolygon()


def _repair(geoms: np.ndarray, geometry_type: str) -> tuple[np.ndarray, list[Repair]]:
    """Make invalid geometries valid, recording each change with its area cost."""
    out = geoms.copy()
    repairs: list[Repair] = []
    present = ~shapely.is_missing(geoms)
    invalid = np.flatnonzero(present & ~shapely.is_valid(np.where(present, geoms, None)))
    for i in invalid:
        before = geoms[i]
        reason = shapely.is_valid_reason(before)
        fixed = shapely.make_valid(before)
        if geometry_type == "MULTIPOLYGON":
            fixed = _polygonal(fixed)
        out[i] = fixed
        repairs.append(
            Repair(
                int(i),
                f"invalid geometry repaired: {reason}",
                _describe(before),
                _describe(fixed),
                _area_m2(before),
                _area_m2(fixed),
            )
        )
    return out, repairs


def _describe(geom: shapely.Geometry) -> str:
    n = shapely.get_num_geometries(geom)
    return f"{geom.geom_type} ({n} part{'s' if n != 1 else ''})" if geom.geom_type.startswith("Multi") else geom.geom_type
