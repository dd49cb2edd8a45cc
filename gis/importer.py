"""Import files into a store: read every source, then write them in ONE transaction.

The one way to import, used by the CLI (and the API later). Reading (gis.io)
converts and validates each file; the store's ``write`` validates again against
what is stored and is all-or-nothing, so a refused import leaves the store as it was.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pyogrio
import shapely

from gis.errors import InvalidInput
from gis.io import ImportReport, read_table
from gis.model import DATA_TABLES
from gis.store import NewPlan, Store, WriteResult


@dataclass
class ImportOutcome:
    reports: list[tuple[str, ImportReport]] = field(default_factory=list)
    written: WriteResult | None = None


def sources_of(path: Path, table: str | None, layer: str | None) -> list[tuple[str, str | None]]:
    """(table, layer) pairs to read from ``path``: the named table, or for a GeoPackage
    bundle every layer named like a table."""
    if table is not None:
        return [(table, layer)]
    if path.suffix.lower() != ".gpkg":
        raise InvalidInput("Name the target --table for this file", "请用 --table 指定目标表")
    names = {str(n) for n, _ in pyogrio.list_layers(path)}
    pairs = [(n, n) for n in DATA_TABLES if n in names]
    if not pairs:
        raise InvalidInput(
            f"No layer of {path} is named like a table ({', '.join(DATA_TABLES)}); pass --table and --layer",
            f"{path} 中没有与表同名的图层；请指定 --table 和 --layer",
        )
    return pairs


def district_area(store: Store) -> shapely.Geometry | None:
    """The union of the level-1 admin units: imports far from it are implausible."""
    units = store.read("admin_units", {"level": 1})
    if units.empty:
        return None
    return shapely.union_all(units.geometry.to_numpy())


def import_file(
    store: Store,
    path: Path,
    *,
    table: str | None = None,
    layer: str | None = None,
    crs: str | None = None,
    default_crs: str | None = None,
    encoding: str | None = None,
    make_valid: bool = False,
    plan: int | NewPlan | None = None,
    max_distance_km: float = 100.0,
) -> ImportOutcome:
    """Read ``path`` (one table, or a GeoPackage bundle) and store it all or nothing."""
    outcome = ImportOutcome()
    area = district_area(store)
    frames = {}
    for tbl, lyr in sources_of(Path(path), table, layer):
        result = read_table(
            path,
            tbl,
            crs=crs,
            default_crs=default_crs,
            layer=lyr,
            encoding=encoding,
            make_valid=make_valid,
            area=area,
            max_distance_km=max_distance_km,
        )
        frames[tbl] = result.frame
        outcome.reports.append((tbl, result.report))
    outcome.written = store.write(frames, plan=plan)
    return outcome
