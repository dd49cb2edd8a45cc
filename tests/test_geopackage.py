"""The embedded store is a real GeoPackage that GDAL (and so QGIS) opens directly.

GDAL bundles its own SQLite. Two SQLite libraries in ONE process do not see each
other's POSIX locks, so GDAL closing the file would think it is the last user and
delete the WAL under our connection. QGIS is another process: tests that let GDAL
touch the live file while the store is open therefore run GDAL in a subprocess,
and in-process GDAL reads happen only after ``store.close()``.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import textwrap
import time
import warnings
from pathlib import Path

import numpy as np
import pyogrio
import shapely

from gis.store import NewPlan
from gis.store.geopackage import GeoPackageStore
from tests.test_store_contract import enterprises, grids, people


def test_gdal_sees_every_table_with_type_count_and_crs(gpkg_store: GeoPackageStore) -> None:
    gpkg_store.write({"enterprises": enterprises(7)})
    gpkg_store.write({"grids": grids(), "people": people()}, plan=NewPlan("community", "v1"))
    stored = gpkg_store.grids(1)
    gpkg_store.close()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # GDAL warns about a malformed GeoPackage
        layers = dict(pyogrio.list_layers(gpkg_store.path))
    assert layers["grids"] == "MultiPolygon"
    assert layers["enterprises"] == "Point"
    assert layers["lines"] == "MultiLineString"
    assert layers["people"] is None and layers["plans"] is None
    for table, n in {"enterprises": 7, "grids": 5, "people": 4, "plans": 1, "layers": 5}.items():
        info = pyogrio.read_info(gpkg_store.path, layer=table)
        assert info["features"] == n, table
    info = pyogrio.read_info(gpkg_store.path, layer="grids")
    assert info["crs"] == "EPSG:4490"
    assert info["fid_column"] == "id"
    got = pyogrio.read_dataframe(gpkg_store.path, layer="grids")
    assert list(got["name"]) == list(grids()["name"])
    assert shapely.equals(got.geometry.to_numpy(), stored.geometry.to_numpy()).all()


def test_header_and_spatial_index_follow_the_spec(gpkg_store: GeoPackageStore) -> None:
    gpkg_store.write({"grids": grids()}, plan=NewPlan("community", "v1"))
    gpkg_store.close()
    conn = sqlite3.connect(gpkg_store.path)
    assert conn.execute("PRAGMA application_id").fetchone()[0] == 0x47504B47
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 10400
    with open(gpkg_store.path, "rb") as fh:
        header = fh.read(100)
    assert header[68:72] == b"GPKG"  # GDAL reads the id from the file itself, not through SQLite
    ext = conn.execute(
        "SELECT table_name FROM gpkg_extensions WHERE extension_name = 'gpkg_rtree_index' ORDER BY 1"
    ).fetchall()
    assert [r[0] for r in ext] == ["admin_units", "enterprises", "grid_simplified", "grids", "incidents", "lines"]
    rtree = np.array(conn.execute("SELECT minx, maxx, miny, maxy FROM rtree_grids_geom ORDER BY id").fetchall())
    b = shapely.bounds(grids().geometry.to_numpy())
    assert np.allclose(rtree, b[:, [0, 2, 1, 3]], atol=1e-5)  # R-tree stores float32
    # a bounding-box query through GDAL uses that index
    got = pyogrio.read_dataframe(gpkg_store.path, layer="grids", bbox=(121.15, 30.71, 121.16, 30.72))
    assert sorted(got["code"]) == ["310116", "310116102"]


def _gdal(script: str, *args: str) -> str:
    """Run GDAL (pyogrio) in another process, as QGIS would be."""
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script), *args], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_gdal_edit_of_the_live_file_is_read_back(gpkg_store: GeoPackageStore, tmp_path: Path) -> None:
    """A planner edits in QGIS (GDAL, another process) while the service runs; our
    store reads the new row and the R-tree and counts stay right (the triggers call
    GDAL's own ST_ functions there)."""
    gpkg_store.write({"enterprises": enterprises(3)})
    extra = enterprises(1, start=900)
    extra_file = tmp_path / "extra.geojson"
    extra.to_file(extra_file)
    _gdal(
        """
        import sys, pyogrio
        df = pyogrio.read_dataframe(sys.argv[2])
        pyogrio.write_dataframe(df, sys.argv[1], layer="enterprises", append=True)
        """,
        str(gpkg_store.path),
        str(extra_file),
    )
    got = gpkg_store.read("enterprises")
    assert len(got) == 4 and got["credit_code"].iloc[-1] == extra["credit_code"].iloc[0]
    n_rtree = gpkg_store._conn().execute("SELECT count(*) FROM rtree_enterprises_geom").fetchone()[0]
    assert n_rtree == 4
    gpkg_store.write({"enterprises": enterprises(2, start=950)})
    count = _gdal(
        "import sys, pyogrio; print(pyogrio.read_info(sys.argv[1], layer='enterprises')['features'])",
        str(gpkg_store.path),
    )
    assert int(count) == 6


def test_gdal_reads_while_the_service_writes(gpkg_store: GeoPackageStore, tmp_path: Path) -> None:
    gpkg_store.write({"enterprises": enterprises(10)})
    stop = tmp_path / "stop"
    reader = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                """
                import json, os, sys, pyogrio
                counts = []
                while not os.path.exists(sys.argv[2]) or len(counts) < 3:
                    df = pyogrio.read_dataframe(sys.argv[1], layer="enterprises", columns=["credit_code"])
                    counts.append(len(df))
                print(json.dumps(counts))
                """
            ),
            str(gpkg_store.path),
            str(stop),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(0.5)
    for k in range(20):
        gpkg_store.write({"enterprises": enterprises(50, start=1000 + k * 50)})
        time.sleep(0.02)
    stop.touch()
    out, err = reader.communicate(timeout=120)
    assert reader.returncode == 0, err
    seen = json.loads(out)
    assert len(seen) >= 3
    assert all(n % 50 == 10 for n in seen)  # a reader never sees half of a write
    assert seen == sorted(seen)
    assert gpkg_store.counts()["enterprises"] == 1010


def test_plan_version_is_seen_by_another_process_connection(gpkg_store: GeoPackageStore) -> None:
    other = GeoPackageStore(gpkg_store.path)
    pid = gpkg_store.write({"grids": grids()}, plan=NewPlan("community", "v1")).plan_id
    assert other.plan_version() == 0
    gpkg_store.publish(pid)
    assert other.plan_version() == 1
    other.close()
