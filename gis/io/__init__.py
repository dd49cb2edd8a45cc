"""Reading and writing the files people bring and take away: GeoJSON, GeoPackage,
Shapefile and CSV.

The edge of the system, and the place where most real-world data goes wrong, so
the rules here are strict and every refusal says what to do:

* The CRS is never guessed. GCJ-02 (Amap), BD-09 (Baidu) and WGS84 cannot be told
  apart by looking at numbers, and GDAL reports EPSG:4326 for every GeoJSON. The
  CRS comes from the ``crs`` argument, a real declaration in the file (.prj,
  GeoPackage srs, a GeoJSON ``crs`` member naming something other than WGS84),
  the deployment's ``default_crs``, or
  WGS84 assumed *and said so* in the report -- in that order, and only formats that
  cannot state a CRS (GeoJSON, CSV) fall through to the last two.
* Coordinates that cannot be right (metres labelled as degrees, swapped latitude
  and longitude, features thousands of km from the district) are refused with the
  rows named, because storing them silently would corrupt every later analysis.
* Text is never turned into mojibake: a Shapefile without ``.cpg`` is read as
  UTF-8 strictly and refused (asking for ``--encoding gbk``) when that fails,
  instead of GDAL's silent ISO-8859-1 fallback.
* Every geometry problem is collected with its feature index, so one import run
  lists everything to fix.

No store access: callers pass the district outline (``area``) and settings.

The package, one module per step: ``read`` (the import, :func:`read_table`) runs
``read_vector`` / ``read_csv`` (into ``raw``), ``crs_decision``, ``plausibility``,
``geometry_repair`` and ``columns``; ``write`` exports; ``formats``, ``tables``
and ``reports`` are shared by both directions.
"""

from __future__ import annotations

from gis.io.read import read_table
from gis.io.reports import ImportReport, ImportResult, Repair, WriteReport
from gis.io.write import write_table, write_tables

__all__ = [
    "ImportReport",
    "ImportResult",
    "Repair",
    "WriteReport",
    "read_table",
    "write_table",
    "write_tables",
]
