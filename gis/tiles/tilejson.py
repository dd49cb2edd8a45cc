"""TileJSON 3.0.0 documents for our tile layers."""

from __future__ import annotations

from gis.tiles.layers import FIELDS, GRID_MIN_ZOOM, kind_of
from gis.tiles.mercator import MAX_ZOOM


def tilejson(
    layer: str,
    base_url: str,
    *,
    name: str,
    bounds: tuple[float, float, float, float] | None,
    version: int,
    description: str = "",
    attribution: list[str] | None = None,
) -> dict:
    """The TileJSON of tile layer ``layer`` served under ``base_url`` (no trailing slash);
    ``attribution``: the store's data credits (:mod:`gis.attribution`)."""
    kind = kind_of(layer)
    doc: dict = {
        "tilejson": "3.0.0",
        "name": name,
        "description": description,
        "version": f"1.0.{version}",
        "scheme": "xyz",
        "tiles": [f"{base_url}/tiles/{layer}/{{z}}/{{x}}/{{y}}.mvt"],
        "minzoom": 0,
        "maxzoom": MAX_ZOOM,
        "attribution": "；".join(["gridgis", *(attribution or [])]),
        "vector_layers": [
            {
                "id": layer,
                "fields": FIELDS[kind],
                "minzoom": 0,
                "maxzoom": MAX_ZOOM,
                **(
                    {"description": f"grid levels from zoom: {GRID_MIN_ZOOM}"}
                    if kind == "grids"
                    else {}
                ),
            }
        ],
    }
    if bounds is not None:
        doc["bounds"] = [round(v, 6) for v in bounds]
        doc["center"] = [
            round((bounds[0] + bounds[2]) / 2, 6),
            round((bounds[1] + bounds[3]) / 2, 6),
            11,
        ]
    return doc
