"""The sample as `gridgis sample` leaves it: a store GDAL opens, reproducible run to run."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyogrio
import shapely
from typer.testing import CliRunner

from gis.cli import app
from gis.sample import write_boundaries
from gis.store import open_store

PROJECT = Path(__file__).resolve().parent.parent
EXPECTED = {"admin_units": "MultiPolygon", "grids": "MultiPolygon", "enterprises": "Point", "incidents": "Point", "lines": "MultiLineString"}


def test_sample_store_opens_in_gdal_with_layers_counts_and_crs(sample_gpkg: Path) -> None:
    with open_store(str(sample_gpkg)) as store:
        counts = store.counts()
        plans = {p.layer_key: p for p in store.plans(status="published")}
        community = store.grids(plans["community"].id)
        environment = store.grids(plans["environment"].id)
        people = {k: store.people(p.id) for k, p in plans.items()}
    layers = dict(pyogrio.list_layers(sample_gpkg))
    for name, geom_type in EXPECTED.items():
        assert layers[name] == geom_type
        info = pyogrio.read_info(sample_gpkg, layer=name)
        assert info["crs"] == "EPSG:4490"
        assert info["features"] == counts[name] > 0
    assert set(plans) == {"community", "environment"}
    units = community[community["level"] == 4]
    assert 5000 <= len(units) <= 10000
    assert sorted(environment["level"].unique()) == [1, 2, 3]
    for layer, grids in (("community", community), ("environment", environment)):
        staffed = set(people[layer]["grid_code"])
        assert set(grids["code"]) <= staffed, f"grids without people in {layer}"
        leaders = set(people[layer].loc[people[layer]["role"] == "grid_leader", "grid_code"])
        assert set(grids["code"]) <= leaders
    # unit grids nest in villages, with codes extending the village code
    villages = community[community["level"] == 3].set_index("code")
    assert units["parent_code"].isin(villages.index).all()
    assert all(c.startswith(p) and len(c) == 15 for c, p in zip(units["code"], units["parent_code"], strict=True))
    assert 9000 <= counts["enterprises"] <= 11000 and 100 <= counts["incidents"] <= 1000


def _contents(path: Path) -> dict[str, pd.DataFrame]:
    """Every table, without the wall-clock timestamps of plan creation and publishing."""
    out = {}
    with open_store(str(path)) as store:
        for table in ("layers", "plans", "admin_units", "lines", "grids", "people", "enterprises", "incidents"):
            frame = pd.DataFrame(store.read(table))
            if "geom" in frame:
                frame["geom"] = shapely.to_wkb(frame["geom"].to_numpy())
            out[table] = frame.drop(columns=["created_at", "published_at", "archived_at"], errors="ignore")
    return out


def test_sample_twice_with_the_same_seed_gives_identical_contents(tmp_path: Path) -> None:
    runner = CliRunner()
    for name in ("a", "b"):
        result = runner.invoke(app, ["sample", "--seed", "5", "--db", str(tmp_path / f"{name}.gpkg")])
        assert result.exit_code == 0, result.output
    a, b = _contents(tmp_path / "a.gpkg"), _contents(tmp_path / "b.gpkg")
    for table in a:
        pd.testing.assert_frame_equal(a[table], b[table], obj=table)
    again = runner.invoke(app, ["sample", "--seed", "5", "--db", str(tmp_path / "a.gpkg")])
    assert again.exit_code == 1 and "--force" in again.output  # never overwrites data silently
    kept = runner.invoke(app, ["sample", "--if-empty", "--db", str(tmp_path / "a.gpkg")])
    assert kept.exit_code == 0 and "not loaded again" in kept.output


def test_committed_boundaries_are_what_the_generator_makes(sample_district, tmp_path: Path) -> None:
    written = write_boundaries(sample_district, tmp_path)
    for path in written:
        committed = PROJECT / "data" / "boundaries" / path.name
        assert committed.read_bytes() == path.read_bytes(), f"regenerate {committed.name}: gridgis sample --boundaries data/boundaries"


def test_sample_loads_into_postgis_with_the_same_contents(sample_district, sample_gpkg: Path, pg_store) -> None:
    from gis.sample import load_district

    load_district(pg_store, sample_district)
    with open_store(str(sample_gpkg)) as gpkg:
        assert pg_store.counts() == gpkg.counts()
        for table in ("grids", "enterprises"):
            a = pd.DataFrame(pg_store.read(table))
            b = pd.DataFrame(gpkg.read(table))
            assert shapely.equals_exact(a["geom"].to_numpy(), b["geom"].to_numpy(), tolerance=0).all(), table
            pd.testing.assert_frame_equal(a.drop(columns="geom"), b.drop(columns="geom"), obj=table)
    assert pg_store.plan_version() == 2
