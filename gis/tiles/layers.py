"""What each tile layer holds: the rules both backends apply, in one place.

A tile layer is a sector's grid layer (named by its key, e.g. ``community``:
the layer's published plan), ``enterprises`` or ``incidents``. Each feature's id
is its row id in the store; the attributes are listed in :data:`FIELDS`.
"""

from __future__ import annotations

from gis.coverage.simplify import ZOOM_BANDS, band_for_zoom

POINT_LAYERS = ("enterprises", "incidents")

#: grids of a level appear from this zoom on (unit grids only when they are a few pixels wide)
GRID_MIN_ZOOM = {1: 0, 2: 0, 3: 9, 4: 12}

#: attribute name -> TileJSON type, per kind of layer
FIELDS: dict[str, dict[str, str]] = {
    "grids": {"code": "String", "name": "String", "level": "Number", "parent_code": "String"},
    "enterprises": {
        "credit_code": "String",
        "name": "String",
        "industry": "String",
        "risk_class": "String",
        "supervision_level": "String",
    },
    "incidents": {
        "category": "String",
        "source": "String",
        "status": "String",
        "reported_on": "String",
    },
}


def max_grid_level(z: int) -> int:
    """The finest grid level drawn in a tile of zoom ``z``."""
    return max(level for level, mz in GRID_MIN_ZOOM.items() if z >= mz)


def zoom_band(z: int) -> int | None:
    """The stored simplification band for zoom ``z`` (None: the stored grids)."""
    return band_for_zoom(z)


def kind_of(layer: str) -> str:
    return layer if layer in POINT_LAYERS else "grids"


def band_slack_deg(band: int | None) -> float:
    """How far (degrees, generously) a band's simplified grid may stray from the stored one."""
    if band is None:
        return 0.0
    tolerance = next(b.tolerance_m for b in ZOOM_BANDS if b.band == band)
    return 2.0 * tolerance / 100_000.0
