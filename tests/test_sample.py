"""The sample district: counts, valid nested coverages, codes, objects, determinism,
filling a real outline, loading into a store and writing boundary files."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely

from gis.crs import geoms_from_store, geoms_to_store
from gis.model import GRID_CODE_LENGTH, TABLES
from gis.sample import SampleDistrict, generate_district, load_district, write_boundaries
from gis.sample.district import PLAN_LAYERS
from gis.sample.tessellate import CORE, RURAL
from gis.validate import uscc_problem, validate_frame

JINSHAN = Path("admin-cn/shanghai/fences/310116.json")


@pytest.fixture(scope="module")
def district(sample_district: SampleDistrict) -> SampleDistrict:
    return sample_district


@pytest.fixture(scope="module")
def jinshan(shared_data: Path) -> tuple[SampleDistrict, shapely.Geometry]:
    """The Jinshan district outline (GCJ-02, read in place) filled with a sample."""
    path = shared_data / JINSHAN
    if not path.exists():
        pytest.skip(f"{path} is missing")
    d = generate_district(
        seed=7, outline=path, outline_crs="gcj02", county_code="310116", county_name="金山区"
    )
    raw = shapely.from_geojson(path.read_text(encoding="utf-8"))
    return d, geoms_to_store(np.array([raw], dtype=object), "gcj02")[0]


def _grids(d: SampleDistrict, layer: str = "community"):
    return d.plans[layer][0]


def _projected(d: SampleDistrict, geoms) -> np.ndarray:
    return geoms_from_store(np.asarray(geoms, dtype=object), d.projected_crs)


# ---------------------------------------------------------------------- shapes and counts


def test_frames_have_the_store_columns(district):
    for table in ("admin_units", "lines", "enterprises", "incidents"):
        frame = getattr(district, table)
        expected = [c for c in TABLES[table].column_names if c in frame.columns]
        assert list(frame.columns) == expected + ["geom"], table
        assert frame.geometry.name == "geom" and frame.crs.to_epsg() == 4490
        assert validate_frame(table, frame.assign(geom=frame["geom"].to_numpy())) == [], table
    for layer, (grids, people) in district.plans.items():
        assert list(grids.columns) == ["code", "name", "level", "parent_code", "admin_code", "geom"]
        assert grids.crs.to_epsg() == 4490
        assert "plan_id" not in people.columns
        assert validate_frame("grids", grids.assign(plan_id=1)) == [], layer
        assert validate_frame("people", people.assign(plan_id=1)) == [], layer


def test_counts(district):
    admin = district.admin_units
    assert (admin["level"] == 1).sum() == 1
    kinds = admin.loc[admin["level"] == 2, "kind"].value_counts()
    assert 10 <= kinds.sum() <= 13
    assert kinds.get("subdistrict") == 1 and 1 <= kinds.get("industrial_zone", 0) <= 2
    assert 150 <= (admin["level"] == 3).sum() <= 250
    assert set(admin.loc[admin["level"] == 3, "kind"]) == {"village", "community"}
    grids = _grids(district)
    assert 5000 <= (grids["level"] == 4).sum() <= 10000
    assert sorted(_grids(district, "environment")["level"].unique()) == [1, 2, 3]
    assert len(district.enterprises) == 10_000
    assert 200 <= len(district.incidents) <= 1000
    area = shapely.area(_projected(district, [district.outline]))[0] / 1e6
    assert 500 <= area <= 600


def test_outline_is_not_a_rectangle(district):
    outline = _projected(district, [district.outline])[0]
    assert outline.area / outline.envelope.area < 0.85
    assert shapely.get_num_coordinates(outline) > 200


def test_lines(district):
    lines = district.lines
    assert {"road", "river"} == set(lines["kind"])
    assert {"expressway", "arterial", "local"} <= set(lines.loc[lines["kind"] == "road", "class"])
    rivers = _projected(district, lines.loc[lines["kind"] == "river", "geom"])
    main = rivers[np.argmax(shapely.length(rivers))]
    ends = shapely.get_coordinates(shapely.get_geometry(main, 0))[[0, -1]]
    sinuosity = shapely.length(shapely.get_geometry(main, 0)) / np.hypot(*(ends[1] - ends[0]))
    assert sinuosity > 1.05  # it meanders


# ---------------------------------------------------------------------- coverage and nesting


@pytest.mark.parametrize("layer", list(PLAN_LAYERS))
def test_every_level_is_a_valid_coverage(district, layer):
    grids = _grids(district, layer)
    for level in range(1, PLAN_LAYERS[layer] + 1):
        geoms = grids.loc[grids["level"] == level, "geom"].to_numpy()
        assert shapely.is_valid(geoms).all()
        assert shapely.coverage_is_valid(geoms), (layer, level)


def test_admin_units_are_valid_coverages_per_level(district):
    admin = district.admin_units
    for level in (1, 2, 3):
        geoms = admin.loc[admin["level"] == level, "geom"].to_numpy()
        assert shapely.coverage_is_valid(geoms), level


def test_levels_cover_the_same_area(district):
    grids = _grids(district)
    total = [
        shapely.area(_projected(district, grids.loc[grids["level"] == lv, "geom"])).sum()
        for lv in (1, 2, 3, 4)
    ]
    assert np.allclose(total, total[0], rtol=1e-9)
    outline = shapely.area(_projected(district, [district.outline]))[0]
    assert abs(total[0] - outline) / outline < 1e-3


def test_each_grid_lies_within_its_parent(district):
    grids = _grids(district)
    by_code = dict(zip(grids["code"], range(len(grids)), strict=True))
    geoms = _projected(district, grids["geom"])
    child = np.flatnonzero(grids["level"].to_numpy() > 1)
    parent = np.array([by_code[c] for c in grids["parent_code"].to_numpy()[child]])
    outside = shapely.area(shapely.difference(geoms[child], geoms[parent]))
    assert outside.max() < 1.0


def test_villages_and_towns_are_connected(district):
    grids = _grids(district)
    for level in (2, 3):
        geoms = grids.loc[grids["level"] == level, "geom"].to_numpy()
        assert (shapely.get_num_geometries(geoms) == 1).all(), level


def test_unit_sizes_follow_density_and_no_slivers(district):
    grids = _grids(district)
    area = shapely.area(_projected(district, grids.loc[grids["level"] == 4, "geom"]))
    assert area.min() >= 500.0
    core = np.median(area[district.unit_class == CORE])
    rural = np.median(area[district.unit_class == RURAL])
    assert 7_000 <= core <= 13_000
    assert rural > 5 * core


# ---------------------------------------------------------------------- codes and names


def test_codes_extend_parent_codes(district):
    for layer, (grids, _people) in district.plans.items():
        lengths = grids["code"].str.len().to_numpy()
        expected = grids["level"].map(GRID_CODE_LENGTH).to_numpy()
        assert (lengths == expected).all(), layer
        kids = grids[grids["level"] > 1]
        assert all(c.startswith(p) for c, p in zip(kids["code"], kids["parent_code"], strict=True))
        assert grids["code"].is_unique
        assert grids["admin_code"].str.fullmatch(r"\d{12}").all()
    admin = district.admin_units
    assert admin["code"].str.fullmatch(r"\d{12}").all() and admin["code"].is_unique
    assert admin.loc[admin["level"] == 1, "code"].tolist() == ["310199000000"]
    kids = admin[admin["level"] > 1]
    for code, parent, level in zip(kids["code"], kids["parent_code"], kids["level"], strict=True):
        keep = GRID_CODE_LENGTH[level - 1]
        assert code[:keep] == parent[:keep] and code != parent
    towns = admin[admin["level"] == 2]
    assert towns.loc[towns["kind"] == "subdistrict", "code"].str.endswith("001000").all()


def test_names_are_chinese(district):
    grids = _grids(district)
    assert grids.loc[grids["level"] == 1, "name"].tolist() == ["江川区"]
    units = grids.loc[grids["level"] == 4, "name"]
    assert units.str.fullmatch(r".+(村|居委会)第\d{3}网格").all()
    admin = district.admin_units
    assert admin.loc[admin["kind"] == "town", "name"].str.endswith("镇").all()
    assert admin.loc[admin["kind"] == "industrial_zone", "name"].str.endswith("工业区").all()
    assert (
        district.lines.loc[district.lines["class"] == "arterial", "name"]
        .str.contains("公路|路|大道")
        .all()
    )


def test_people_on_every_grid(district):
    phone = re.compile(r"^(1[3-9]\d{9}|021-\d{8})$")
    for layer, (grids, people) in district.plans.items():
        assert people["phone"].map(lambda p: bool(phone.match(p))).all()
        assert set(people["grid_code"]) == set(grids["code"])
        per_grid = people.groupby("grid_code")["role"]
        assert per_grid.size().min() >= 2, layer
        assert per_grid.apply(lambda r: "grid_leader" in set(r)).all(), layer
        units = set(grids.loc[grids["level"] == 4, "code"])
        workers = set(people.loc[people["role"] == "grid_worker", "grid_code"])
        assert units <= workers
        assert people["name"].str.fullmatch(r"[\u4e00-\u9fff]{2,3}").all()


# ---------------------------------------------------------------------- objects


def test_supervision_levels(district):
    share = district.enterprises["supervision_level"].value_counts(normalize=True)
    assert share["district"] == pytest.approx(0.025, abs=0.005)
    assert share["town"] == pytest.approx(0.54, abs=0.02)
    assert share["village"] == pytest.approx(0.435, abs=0.02)


def test_enterprises_in_industrial_zones_are_supervised_by_towns_or_district(district):
    ent = district.enterprises
    admin = district.admin_units
    iz = admin[admin["kind"] == "industrial_zone"]
    inside = shapely.contains_xy(
        shapely.union_all(iz["geom"].to_numpy()), ent.geometry.x, ent.geometry.y
    )
    assert inside.sum() > 0.2 * len(ent)  # clustered in the parks
    assert ent.loc[inside, "supervision_level"].isin(["town", "district"]).all()


def test_credit_codes_valid_and_unique(district):
    codes = district.enterprises["credit_code"]
    assert codes.is_unique
    assert [c for c in codes if uscc_problem(c)] == []
    assert district.enterprises["name"].is_unique


def test_objects_lie_inside_the_district(district):
    county = district.admin_units.loc[district.admin_units["level"] == 1, "geom"].iloc[0]
    for frame in (district.enterprises, district.incidents):
        assert shapely.contains_xy(county, frame.geometry.x, frame.geometry.y).all()


def test_incidents(district):
    inc = district.incidents
    assert set(inc["category"]) <= {"废气", "废水", "噪声", "固废", "食品安全", "占道经营"}
    assert set(inc["source"]) <= {"12345热线", "巡查", "媒体", "群众来信"}
    assert set(inc["status"]) == {"open", "closed"}
    span = inc["reported_at"].max() - inc["reported_at"].min()
    assert pd.Timedelta(days=300) < span <= pd.Timedelta(days=366)
    assert str(inc["reported_at"].dt.tz) == "UTC"


# ---------------------------------------------------------------------- determinism


def _fingerprint(d: SampleDistrict) -> list:
    frames = [d.admin_units, d.lines, d.enterprises, d.incidents]
    for grids, people in d.plans.values():
        frames += [grids, people]
    out = []
    for f in frames:
        attrs = f.drop(columns=["geom"]) if "geom" in f.columns else f
        out.append(attrs.astype(str).to_numpy().tolist())
        if "geom" in f.columns:
            out.append(shapely.to_wkb(f["geom"].to_numpy()).tolist())
    return out


def test_same_seed_same_frames(district):
    again = generate_district()
    assert _fingerprint(again) == _fingerprint(district)
    assert again.admin_units.geom_equals_exact(district.admin_units.geometry, tolerance=0).all()


def test_different_seed_differs(district):
    other = generate_district(seed=1)
    assert _fingerprint(other) != _fingerprint(district)
    assert not shapely.equals_exact(other.outline, district.outline)


# ---------------------------------------------------------------------- a real outline


@pytest.mark.shared_data
def test_fills_the_jinshan_outline(jinshan):
    d, outline = jinshan
    grids = _grids(d)
    crs = d.projected_crs
    for level in (1, 2, 3, 4):
        assert shapely.coverage_is_valid(grids.loc[grids["level"] == level, "geom"].to_numpy()), (
            level
        )
    units = geoms_from_store(grids.loc[grids["level"] == 4, "geom"].to_numpy(), crs)
    want = shapely.area(geoms_from_store(np.array([outline], dtype=object), crs))[0]
    got = shapely.area(shapely.coverage_union_all(units))
    assert abs(got - want) / want < 1e-3
    assert 5000 <= len(units) <= 12000  # Jinshan is a little larger and longer than the default
    assert d.admin_units["code"].iloc[0] == "310116000000"


# ---------------------------------------------------------------------- output


def test_load_into_a_store(district, gpkg_store):
    summary = load_district(gpkg_store, district)
    assert summary["enterprises"] == 10_000
    assert set(summary["plans"]) == {"community", "environment"}
    for layer, info in summary["plans"].items():
        plan = gpkg_store.plan(info["plan_id"])
        assert plan.status == "published" and plan.layer_key == layer
        assert info["grids"] == len(district.plans[layer][0])
    assert gpkg_store.counts()["admin_units"] == len(district.admin_units)


def test_write_boundaries_deterministic(district, tmp_path):
    first = write_boundaries(district, tmp_path / "a")
    second = write_boundaries(district, tmp_path / "b")
    assert [p.name for p in first] == ["sample_admin_units.geojson", "sample_lines.geojson"]
    for a, b in zip(first, second, strict=True):
        assert a.read_bytes() == b.read_bytes()
    admin = pyogrio.read_dataframe(first[0])
    assert len(admin) == len(district.admin_units)
    assert not re.search(r"\d\.\d{8,}", first[0].read_text(encoding="utf-8"))
    for level in (1, 2, 3):
        geoms = admin.loc[admin["level"] == level, "geometry"].to_numpy()
        assert shapely.is_valid(geoms).all() and shapely.coverage_is_valid(geoms), level
