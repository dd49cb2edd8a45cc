"""Putting a sample district somewhere: into a store, or into GeoJSON files.

The only I/O of the sample package (``generate_district`` is pure).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import shapely

from gis import attribution
from gis.sample.district import SampleDistrict
from gis.store.base import NewPlan, Store

PLAN_NAME = "样例方案 v1"
COORD_DECIMALS = 7


def load_district(store: Store, district: SampleDistrict) -> dict[str, Any]:
    """Write the district into ``store`` and publish one plan per layer; returns counts.

    Admin units, lines, enterprises and incidents go in ONE write (one
    transaction); each layer's grids and people then go into a new draft plan
    that is published at once.
    """
    base = {
        "admin_units": district.admin_units,
        "lines": district.lines,
        "enterprises": district.enterprises,
        "incidents": district.incidents,
    }
    result = store.write(base)
    attribution.add(store, *district.attribution)
    summary: dict[str, Any] = dict(result.inserted)
    summary["plans"] = {}
    for layer, (grids, people) in district.plans.items():
        written = store.write({"grids": grids, "people": people}, plan=NewPlan(layer, PLAN_NAME))
        assert written.plan_id is not None
        store.publish(written.plan_id)
        summary["plans"][layer] = {
            "plan_id": written.plan_id,
            "grids": written.inserted.get("grids", 0),
            "people": written.inserted.get("people", 0),
        }
    return summary


def _rounded(geoms: np.ndarray) -> np.ndarray:
    return shapely.transform(np.asarray(geoms, dtype=object), lambda c: np.round(c, COORD_DECIMALS))


def write_boundaries(district: SampleDistrict, folder: str | Path) -> list[Path]:
    """``sample_admin_units.geojson`` and ``sample_lines.geojson`` in ``folder``.

    Coordinates are rounded to 7 decimals (about 1 cm) and rows keep their
    generated order, so the same seed writes byte-identical files that can be
    committed as the reproducible sample outline. Existing files are replaced.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for stem, frame in (
        ("sample_admin_units", district.admin_units),
        ("sample_lines", district.lines),
    ):
        path = folder / f"{stem}.geojson"
        if path.exists():
            path.unlink()
        frame = frame.copy()
        frame["geom"] = _rounded(frame["geom"].to_numpy())
        frame.to_file(
            path,
            driver="GeoJSON",
            engine="pyogrio",
            layer=stem,
            COORDINATE_PRECISION=COORD_DECIMALS,
        )
        out.append(path)
    return out
