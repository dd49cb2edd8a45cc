"""File import and export against real files written by GDAL (or by hand where GDAL
would not make the mistake we need: GBK without .cpg, swapped columns, BOMs).

The GCJ-02 case is checked against ``prcoords``, an implementation independent of
``gis.crs``, so a shared misunderstanding of the formula cannot pass unnoticed.
"""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import prcoords
import pyogrio
import pytest
import shapely
from pyproj import CRS, Geod, Transformer

from gis.crs import wgs84_to_gcj02
from gis.errors import CRSError, InvalidInput
from gis.io import read_table, write_table, write_tables
from gis.model import TABLES
from gis.validate import uscc_check_char

GEOD = Geod(ellps="WGS84")

# fixtures written with pyogrio straight to .shp: GDAL cuts long field names on purpose
pytestmark = pytest.mark.filterwarnings("ignore:Normalized/laundered field name:RuntimeWarning")

#: a district around Chaoyang, Beijing (EPSG:4490)
AREA = shapely.box(116.40, 39.85, 116.60, 40.05)


def uscc(first17: str) -> str:
    """A unified social credit code with its right check character."""
    return first17 + uscc_check_char(first17)


CODES = [uscc("91110105MA01ABC" + f"{i:02d}") for i in range(4)]
NAMES = ["北京朝阳食品有限公司", "望京科技（北京）有限公司", "酒仙桥电子厂", "三里屯餐饮店"]
WGS_POINTS = [(116.4811, 39.9903), (116.4701, 40.0012), (116.4952, 39.9702), (116.4550, 39.9370)]


def enterprises_records(n: int = 4) -> list[dict]:
    return [
        {
            "credit_code": CODES[i],
            "name": NAMES[i],
            "address": "朝阳区",
            "supervision_level": ["district", "town", "village", "town"][i],
        }
        for i in range(n)
    ]


def feature_collection(records: list[dict], geometries: list[dict | None], crs: str | None = None) -> dict:
    doc: dict = {
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "properties": r, "geometry": g} for r, g in zip(records, geometries, strict=True)
        ],
    }
    if crs:
        doc["crs"] = {"type": "name", "properties": {"name": crs}}
    return doc


def write_json(path: Path, doc: dict) -> Path:
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    return path


def point(x: float, y: float) -> dict:
    return {"type": "Point", "coordinates": [x, y]}


def enterprises_gdf(crs: str = "EPSG:4326", points=WGS_POINTS) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        enterprises_records(len(points)), geometry=[shapely.Point(p) for p in points], crs=crs
    )


def admin_frame(geoms: list) -> gpd.GeoDataFrame:
    n = len(geoms)
    return gpd.GeoDataFrame(
        {
            "code": [f"1101050{i:02d}000" for i in range(n)],
            "parent_code": ["110105000000"] * n,
            "name": [f"街道{i}" for i in range(n)],
            "level": [2] * n,
            "kind": ["subdistrict"] * n,
        },
        geometry=geoms,
        crs="EPSG:4326",
    )


def square(x: float, y: float, d: float = 0.01) -> shapely.Polygon:
    return shapely.box(x, y, x + d, y + d)


BOWTIE = shapely.Polygon([(116.45, 39.95), (116.47, 39.97), (116.47, 39.95), (116.45, 39.97)])


def set_ldid_zero(dbf: Path) -> None:
    """Clear the .dbf code page byte, as many Chinese desktop tools leave it."""
    data = bytearray(dbf.read_bytes())
    data[29] = 0
    dbf.write_bytes(bytes(data))


def texts(values: pd.Series) -> list[str | None]:
    """Text values with every kind of missing (None, NaN, NA) as None."""
    return [None if pd.isna(v) else v for v in values]


def metres(a: tuple[float, float], b: tuple[float, float]) -> float:
    return GEOD.inv(a[0], a[1], b[0], b[1])[2]


# --------------------------------------------------------------------------- CRS


def test_gcj02_geojson_lands_where_prcoords_puts_it(tmp_path: Path) -> None:
    gx, gy = wgs84_to_gcj02(np.array([p[0] for p in WGS_POINTS]), np.array([p[1] for p in WGS_POINTS]))
    src = write_json(
        tmp_path / "amap.geojson",
        feature_collection(enterprises_records(), [point(x, y) for x, y in zip(gx, gy, strict=True)]),
    )
    result = read_table(src, "enterprises", crs="gcj02", area=AREA)
    assert result.report.crs_used == "gcj02"
    assert result.report.crs_source == "argument"
    assert result.report.warnings == []
    assert str(result.frame.crs) == "EPSG:4490"
    for geom, x, y in zip(result.frame.geometry, gx, gy, strict=True):
        ref = prcoords.gcj_wgs_bored((y, x))  # prcoords takes and gives (lat, lon)
        assert metres((geom.x, geom.y), (ref.lon, ref.lat)) < 0.01
        # and the offset really was removed (GCJ-02 is hundreds of metres off in Beijing)
        assert metres((geom.x, geom.y), (x, y)) > 100


def test_geojson_without_crs_is_assumed_wgs84_and_says_so(tmp_path: Path) -> None:
    src = write_json(
        tmp_path / "plain.geojson",
        feature_collection(enterprises_records(), [point(*p) for p in WGS_POINTS]),
    )
    result = read_table(src, "enterprises")
    assert result.report.crs_source == "assumed-wgs84"
    assert result.report.crs_used == "wgs84"
    assert any("WGS84" in w and "--crs gcj02" in w for w in result.report.warnings)
    np.testing.assert_allclose(shapely.get_coordinates(result.frame.geometry), WGS_POINTS)

    by_setting = read_table(src, "enterprises", default_crs="gcj02")
    assert by_setting.report.crs_source == "settings-default"
    assert by_setting.report.crs_used == "gcj02"
    assert not np.allclose(shapely.get_coordinates(by_setting.frame.geometry), WGS_POINTS)


def test_geojson_crs_member_is_a_declaration(tmp_path: Path) -> None:
    to_gk = Transformer.from_crs("EPSG:4490", "EPSG:4527", always_xy=True)
    pts = [to_gk.transform(*p) for p in WGS_POINTS]
    src = write_json(
        tmp_path / "gk.geojson",
        feature_collection(enterprises_records(), [point(*p) for p in pts], crs="urn:ogc:def:crs:EPSG::4527"),
    )
    result = read_table(src, "enterprises", default_crs="gcj02")
    assert (result.report.crs_source, result.report.crs_used) == ("file", "EPSG:4527")
    np.testing.assert_allclose(shapely.get_coordinates(result.frame.geometry), WGS_POINTS, atol=1e-8)

    # a CRS84 member is what GDAL writes into every GeoJSON (GCJ-02 data included):
    # it says nothing, so the deployment default and the "assumed" rule still apply
    src84 = write_json(
        tmp_path / "crs84.geojson",
        feature_collection(
            enterprises_records(), [point(*p) for p in WGS_POINTS], crs="urn:ogc:def:crs:OGC:1.3:CRS84"
        ),
    )
    assert read_table(src84, "enterprises", default_crs="gcj02").report.crs_source == "settings-default"
    gdal_written = tmp_path / "gdal.geojson"
    pyogrio.write_dataframe(enterprises_gdf(), gdal_written)
    assert '"crs"' in gdal_written.read_text(encoding="utf-8")
    assert read_table(gdal_written, "enterprises").report.crs_source == "assumed-wgs84"
    # a real member that conflicts with --crs is a warning, and --crs wins
    src4490 = write_json(
        tmp_path / "cgcs.geojson",
        feature_collection(enterprises_records(), [point(*p) for p in WGS_POINTS], crs="EPSG:4490"),
    )
    warned = read_table(src4490, "enterprises", crs="gcj02")
    assert warned.report.crs_used == "gcj02"
    assert any("declares cgcs2000" in w for w in warned.report.warnings)
    assert read_table(src4490, "enterprises").report.crs_source == "file"


def test_shapefile_without_prj_is_refused(tmp_path: Path) -> None:
    shp = tmp_path / "noprj.shp"
    pyogrio.write_dataframe(enterprises_gdf(), shp, encoding="UTF-8")
    shp.with_suffix(".prj").unlink()
    with pytest.raises(CRSError) as exc:
        read_table(shp, "enterprises", default_crs="gcj02")
    assert "--crs" in exc.value.message and "--crs" in exc.value.message_zh
    assert "坐标系" in exc.value.message_zh
    assert read_table(shp, "enterprises", crs="wgs84").report.crs_source == "argument"


def test_named_crs_conflicting_with_prj_is_a_warning(tmp_path: Path) -> None:
    shp = tmp_path / "cgcs.shp"
    pyogrio.write_dataframe(enterprises_gdf(crs="EPSG:4490"), shp, encoding="UTF-8")
    result = read_table(shp, "enterprises", crs="gcj02", area=AREA)
    assert result.report.crs_used == "gcj02"
    assert result.report.crs_declared == "cgcs2000"
    assert any("declares cgcs2000" in w and "gcj02" in w for w in result.report.warnings)

    # GCJ-02 data can only ever declare WGS84: that is no conflict
    shp84 = tmp_path / "wgs.shp"
    pyogrio.write_dataframe(enterprises_gdf(), shp84, encoding="UTF-8")
    assert read_table(shp84, "enterprises", crs="gcj02").report.warnings == []
    assert read_table(shp84, "enterprises").report.crs_source == "file"


def test_swapped_lat_lon_refused_naming_rows(tmp_path: Path) -> None:
    rows = ["credit_code,name,supervision_level,lon,lat"]
    for i, (x, y) in enumerate(WGS_POINTS):
        if i in (1, 3):
            x, y = y, x
        rows.append(f"{CODES[i]},{NAMES[i]},town,{x},{y}")
    src = tmp_path / "swapped.csv"
    src.write_text("\n".join(rows) + "\n", encoding="utf-8")
    with pytest.raises(CRSError) as exc:
        read_table(src, "enterprises", area=AREA)
    assert "swapped" in exc.value.message and "颠倒" in exc.value.message_zh
    assert [p.row for p in exc.value.problems] == [1, 3]
    assert {p.field for p in exc.value.problems} == {"geom"}


def test_projected_metres_labelled_as_degrees_refused(tmp_path: Path) -> None:
    to_gk = Transformer.from_crs("EPSG:4490", "EPSG:4527", always_xy=True)  # zone 39, with prefix
    pts = [to_gk.transform(*p) for p in WGS_POINTS]
    assert pts[0][0] > 39_000_000
    src = write_json(tmp_path / "metres.geojson", feature_collection(enterprises_records(), [point(*p) for p in pts]))
    with pytest.raises(CRSError) as exc:
        read_table(src, "enterprises")
    assert "projected metres" in exc.value.message
    assert "--crs EPSG:" in exc.value.message
    assert "EPSG:4527" in exc.value.message  # the hint read off the zone prefix
    assert [p.row for p in exc.value.problems] == [0, 1, 2, 3]
    # with the right CRS the same file imports, back onto the original points
    ok = read_table(src, "enterprises", crs="EPSG:4527", area=AREA)
    np.testing.assert_allclose(shapely.get_coordinates(ok.frame.geometry), WGS_POINTS, atol=1e-8)


def test_degrees_labelled_as_projected_refused(tmp_path: Path) -> None:
    src = write_json(
        tmp_path / "deg.geojson", feature_collection(enterprises_records(), [point(*p) for p in WGS_POINTS])
    )
    with pytest.raises(CRSError) as exc:
        read_table(src, "enterprises", crs="EPSG:4547")
    assert "look like degrees" in exc.value.message


def test_far_away_points_refused(tmp_path: Path) -> None:
    pts = list(WGS_POINTS)
    pts[2] = (121.47, 31.23)  # Shanghai, ~1070 km away
    pts[3] = (116.50, 40.30)  # 28 km north of the box: within 100 km
    src = write_json(tmp_path / "far.geojson", feature_collection(enterprises_records(), [point(*p) for p in pts]))
    with pytest.raises(CRSError) as exc:
        read_table(src, "enterprises", area=AREA)
    assert "thousands of km from the district" in exc.value.message
    assert [p.row for p in exc.value.problems] == [2]
    with pytest.raises(CRSError) as exc:
        read_table(src, "enterprises", area=AREA, max_distance_km=10)
    assert [p.row for p in exc.value.problems] == [2, 3]
    # without a district outline only a warning for features outside China is possible
    pts[2] = (2.35, 48.85)  # Paris
    src2 = write_json(tmp_path / "paris.geojson", feature_collection(enterprises_records(), [point(*p) for p in pts]))
    assert any("outside China" in w for w in read_table(src2, "enterprises").report.warnings)
    with pytest.raises(CRSError) as exc:
        read_table(src2, "enterprises", area=AREA)
    assert [p.row for p in exc.value.problems] == [2]


# --------------------------------------------------------------------------- encodings


def test_gbk_shapefile_with_cpg(tmp_path: Path) -> None:
    shp = tmp_path / "gbk.shp"
    pyogrio.write_dataframe(enterprises_gdf(), shp, encoding="GBK")
    assert shp.with_suffix(".cpg").read_text().strip().upper() in ("GBK", "CP936")
    assert "北京".encode("gbk") in shp.with_suffix(".dbf").read_bytes()
    result = read_table(shp, "enterprises")
    assert result.frame["name"].tolist() == NAMES
    assert result.frame["credit_code"].tolist() == CODES


def test_gbk_dbf_without_cpg_refused_or_read_with_encoding(tmp_path: Path) -> None:
    shp = tmp_path / "gbk.shp"
    pyogrio.write_dataframe(enterprises_gdf(), shp, encoding="GBK")
    shp.with_suffix(".cpg").unlink()
    set_ldid_zero(shp.with_suffix(".dbf"))
    # what GDAL alone would do: silent mojibake
    assert pyogrio.read_dataframe(shp)["name"].tolist() != NAMES
    with pytest.raises(InvalidInput) as exc:
        read_table(shp, "enterprises")
    assert "--encoding gbk" in exc.value.message and "--encoding gbk" in exc.value.message_zh
    assert "UTF-8" in exc.value.message
    result = read_table(shp, "enterprises", encoding="gbk")
    assert result.frame["name"].tolist() == NAMES
    assert result.report.encoding == "gbk"


def _csv_text() -> str:
    lines = ["统一社会信用代码,credit_code,name,supervision_level,经度,纬度,备注"]
    for i, (x, y) in enumerate(WGS_POINTS):
        lines.append(f"x,{CODES[i]},{NAMES[i]},village,{x},{y},备注{i}")
    return "\r\n".join(lines) + "\r\n"


@pytest.mark.parametrize(
    ("encoding", "expected"), [("gbk", "GB18030"), ("utf-8-sig", "UTF-8"), ("utf-8", "UTF-8")]
)
def test_csv_encodings(tmp_path: Path, encoding: str, expected: str) -> None:
    src = tmp_path / "e.csv"
    src.write_bytes(_csv_text().encode(encoding))
    result = read_table(src, "enterprises", area=AREA)
    assert result.frame["name"].tolist() == NAMES
    assert result.frame.columns[0] == "credit_code"  # no BOM glued to the first column
    assert result.report.encoding == expected
    assert result.report.dropped_columns == ["统一社会信用代码", "备注"]
    np.testing.assert_allclose(shapely.get_coordinates(result.frame.geometry), WGS_POINTS)
    assert (result.report.crs_source == "assumed-wgs84") and result.report.warnings
    if encoding == "gbk":
        assert any("GB18030" in w for w in result.report.warnings)
    # an explicit encoding is used as given
    assert read_table(src, "enterprises", encoding=encoding).frame["name"].tolist() == NAMES


def test_csv_codes_stay_text_and_ints_become_ints(tmp_path: Path) -> None:
    src = tmp_path / "people.csv"
    src.write_text(
        "plan_id,grid_code,role,name,phone\n"
        "1,110105001001001,grid_worker,张三,013800138000\n"
        "2.0,110105001001002,supervisor,李四,13800138001\n",
        encoding="utf-8",
    )
    result = read_table(src, "people")
    frame = result.frame
    assert frame["grid_code"].tolist() == ["110105001001001", "110105001001002"]
    assert frame["phone"].tolist() == ["013800138000", "13800138001"]
    assert frame["plan_id"].dtype == "Int64" and frame["plan_id"].tolist() == [1, 2]
    assert list(frame.columns) == ["plan_id", "grid_code", "role", "name", "phone", "department", "photo_path"]
    assert "geom" not in frame.columns and "id" not in frame.columns


# --------------------------------------------------------------------------- geometry problems


def test_bowtie_refused_then_repaired(tmp_path: Path) -> None:
    src = tmp_path / "admin.gpkg"
    pyogrio.write_dataframe(admin_frame([square(116.42, 39.90), BOWTIE]), src, layer="admin_units")
    with pytest.raises(InvalidInput) as exc:
        read_table(src, "admin_units", area=AREA)
    assert [(p.row, p.field) for p in exc.value.problems] == [(1, "geom")]
    assert "Self-intersection" in exc.value.problems[0].message
    assert "--make-valid" in exc.value.problems[0].message

    result = read_table(src, "admin_units", area=AREA, make_valid=True)
    assert [r.row for r in result.report.repairs] == [1]
    repair = result.report.repairs[0]
    assert "Self-intersection" in repair.reason
    assert repair.after.startswith("MultiPolygon (2 parts)")
    assert repair.area_after_m2 is not None and repair.area_after_m2 > 1e6  # two triangles, ~2 km²
    assert repair.area_before_m2 is not None and repair.area_before_m2 < repair.area_after_m2
    geoms = result.frame.geometry
    assert geoms.is_valid.all() and (geoms.geom_type == "MultiPolygon").all()


def test_unreadable_ring_named_and_rebuilt(tmp_path: Path) -> None:
    ring_open = [[116.42, 39.90], [116.43, 39.90], [116.43, 39.91], [116.42, 39.91]]
    records = admin_frame([square(116.42, 39.90)] * 3).drop(columns="geometry").to_dict("records")
    geoms = [
        {"type": "Polygon", "coordinates": [ring_open + [ring_open[0]]]},
        {"type": "Polygon", "coordinates": [ring_open]},
        None,
    ]
    src = write_json(tmp_path / "rings.geojson", feature_collection(records, geoms))
    with pytest.raises(InvalidInput) as exc:
        read_table(src, "admin_units")
    found = [(p.row, p.field, p.message.split(" ")[0]) for p in exc.value.problems]
    assert found == [(1, "geom", "geometry"), (2, "geom", "geometry")]
    assert "cannot be read" in exc.value.problems[0].message
    assert "missing" in exc.value.problems[1].message
    # make_valid closes the ring; the missing geometry stays a problem
    with pytest.raises(InvalidInput) as exc:
        read_table(src, "admin_units", make_valid=True)
    assert [(p.row, p.field) for p in exc.value.problems] == [(2, "geom")]
    src2 = write_json(tmp_path / "rings2.geojson", feature_collection(records[:2], geoms[:2]))
    result = read_table(src2, "admin_units", make_valid=True)
    assert [(r.row, r.before) for r in result.report.repairs] == [(1, "unreadable")]
    assert "unclosed ring" in result.report.repairs[0].reason
    assert result.frame.geometry.iloc[1].equals(result.frame.geometry.iloc[0])


def test_timestamps_coerced_and_naive_ones_flagged(tmp_path: Path) -> None:
    src = tmp_path / "incidents.csv"
    src.write_text(
        "category,source,reported_at,lon,lat\n"
        f"噪声,12345,2025-03-01 10:00:00+08:00,{WGS_POINTS[0][0]},{WGS_POINTS[0][1]}\n"
        f"油烟,巡查,2025/03/02 08:30,{WGS_POINTS[1][0]},{WGS_POINTS[1][1]}\n",
        encoding="utf-8",
    )
    result = read_table(src, "incidents")
    assert result.frame["reported_at"].tolist() == ["2025-03-01T10:00:00+08:00", "2025-03-02T08:30:00"]
    assert any("1 timestamp(s) have no time zone" in w for w in result.report.warnings)
    src.write_text(
        f"category,source,reported_at,lon,lat\n噪声,12345,昨天,{WGS_POINTS[0][0]},{WGS_POINTS[0][1]}\n",
        encoding="utf-8",
    )
    with pytest.raises(InvalidInput) as exc:
        read_table(src, "incidents")
    assert [(p.row, p.field) for p in exc.value.problems] == [(0, "reported_at")]


def test_missing_required_field_and_bad_values(tmp_path: Path) -> None:
    frame = admin_frame([square(116.42, 39.90), square(116.44, 39.90)]).drop(columns="kind")
    src = tmp_path / "nokind.geojson"
    pyogrio.write_dataframe(frame, src)
    with pytest.raises(InvalidInput) as exc:
        read_table(src, "admin_units")
    assert [(p.row, p.field) for p in exc.value.problems] == [(None, "kind")]
    assert "kind" in exc.value.problems[0].message_zh

    rows = enterprises_records()
    rows[2]["credit_code"] = "91110105MA01ABC000"  # wrong check character
    rows[3]["supervision_level"] = "province"
    src2 = write_json(tmp_path / "bad.geojson", feature_collection(rows, [point(*p) for p in WGS_POINTS]))
    with pytest.raises(InvalidInput) as exc:
        read_table(src2, "enterprises")
    assert [(p.row, p.field) for p in exc.value.problems] == [(2, "credit_code"), (3, "supervision_level")]


def test_wrong_geometry_type_reported(tmp_path: Path) -> None:
    src = write_json(
        tmp_path / "lines.geojson",
        feature_collection(
            enterprises_records(2),
            [point(*WGS_POINTS[0]), {"type": "LineString", "coordinates": [WGS_POINTS[0], WGS_POINTS[1]]}],
        ),
    )
    with pytest.raises(InvalidInput) as exc:
        read_table(src, "enterprises")
    assert [(p.row, p.field) for p in exc.value.problems] == [(1, "geom")]
    assert "LineString" in exc.value.problems[0].message


# --------------------------------------------------------------------------- GeoPackage layers


def test_gpkg_layer_choice(tmp_path: Path) -> None:
    src = tmp_path / "multi.gpkg"
    pyogrio.write_dataframe(enterprises_gdf(), src, layer="enterprises")
    pyogrio.write_dataframe(admin_frame([square(116.42, 39.90)]), src, layer="admin_units")
    assert read_table(src, "enterprises").report.layer == "enterprises"
    assert len(read_table(src, "admin_units").frame) == 1
    with pytest.raises(InvalidInput) as exc:
        read_table(src, "lines")
    assert "--layer" in exc.value.message and "enterprises" in exc.value.message
    with pytest.raises(InvalidInput):
        read_table(src, "enterprises", layer="nope")


def test_gpkg_without_srs_refused(tmp_path: Path) -> None:
    src = tmp_path / "nosrs.gpkg"
    with pytest.warns(UserWarning):
        pyogrio.write_dataframe(enterprises_gdf().set_crs(None, allow_override=True), src)
    with pytest.raises(CRSError):
        read_table(src, "enterprises")
    assert read_table(src, "enterprises", crs="cgcs2000").report.crs_source == "argument"


# --------------------------------------------------------------------------- export


def store_frames() -> dict[str, gpd.GeoDataFrame]:
    """Frames as the store returns them: id, spec columns, geom in EPSG:4490, UTC times."""
    ent = enterprises_gdf(crs="EPSG:4490").rename_geometry("geom")
    ent.insert(0, "id", np.arange(1, len(ent) + 1))
    admin = admin_frame([square(116.42, 39.90), square(116.44, 39.90)]).set_crs("EPSG:4490", allow_override=True)
    admin = admin.rename_geometry("geom")
    admin["geom"] = shapely.multipolygons(shapely.get_parts(admin["geom"].to_numpy())[:, None].tolist())
    incidents = gpd.GeoDataFrame(
        {
            "category": ["噪声", "油烟"],
            "source": ["12345", "巡查"],
            "reported_at": pd.to_datetime(["2025-03-01T02:00:00Z", "2025-03-02T08:30:00Z"], utc=True),
            "description": ["夜间施工", None],
            "reporter_contact": ["13900000000", None],
            "status": ["open", "closed"],
            "routed_grids": [["110105001001001"], []],
        },
        geometry=gpd.GeoSeries([shapely.Point(WGS_POINTS[0]), shapely.Point(WGS_POINTS[1])]),
        crs="EPSG:4490",
    ).rename_geometry("geom")
    return {"enterprises": ent, "admin_units": admin, "incidents": incidents}


@pytest.mark.parametrize("suffix", [".geojson", ".gpkg", ".shp", ".csv"])
def test_round_trip(tmp_path: Path, suffix: str) -> None:
    frames = store_frames()
    for table, frame in frames.items():
        dst = tmp_path / f"{table}{suffix}"
        report = write_table(frame, dst, table=table)
        assert report.rows == len(frame) and report.crs == "wgs84"
        if suffix == ".csv":
            data = dst.read_bytes()
            assert data.startswith(b"\xef\xbb\xbf")
            text = data.decode("utf-8-sig")
            assert "reporter_contact" not in text and "13900000000" not in text
            header = text.splitlines()[0].split(",")
            assert (["lon", "lat"] == header[-2:]) if table != "admin_units" else header[-1] == "wkt"
        else:
            info = pyogrio.read_info(dst)
            assert info["features"] == len(frame)
            assert CRS.from_user_input(info["crs"]).to_epsg() == 4326
            layers = [str(n) for n in pyogrio.list_layers(dst)[:, 0]]
            assert layers == [table if suffix != ".shp" else dst.stem]
            back_raw = pyogrio.read_dataframe(dst)
            assert not any(c.startswith("reporter") for c in back_raw.columns)
            if "name" in frame.columns:
                assert back_raw["name"].tolist() == frame["name"].tolist()
        if suffix == ".shp":
            assert dst.with_suffix(".cpg").read_text().strip().upper() == "UTF-8"

        back = read_table(dst, table, crs=None if suffix != ".csv" else "wgs84", area=AREA)
        assert len(back.frame) == len(frame)
        # Shapefile rings come back clockwise: compare normalized geometries
        got, want = shapely.normalize(back.frame.geometry.to_numpy()), shapely.normalize(frame.geometry.to_numpy())
        assert shapely.equals_exact(got, want, tolerance=1e-9).all()
        for col in ("name", "credit_code", "code", "category", "description"):
            if col in frame.columns:
                assert texts(back.frame[col]) == texts(frame[col])
        if table == "incidents":
            assert back.frame["reporter_contact"].isna().all()
            assert back.frame["routed_grids"].tolist() == [["110105001001001"], []]
            assert [pd.Timestamp(v) for v in back.frame["reported_at"]] == frame["reported_at"].tolist()
        if table == "admin_units":
            assert back.frame["level"].tolist() == [2, 2]


def test_export_gcj02_round_trips(tmp_path: Path) -> None:
    frame = store_frames()["enterprises"]
    dst = tmp_path / "amap.geojson"
    report = write_table(frame, dst, crs="gcj02")
    assert (report.crs, report.crs_declared) == ("gcj02", "EPSG:4326")
    raw = pyogrio.read_dataframe(dst)
    ref = [prcoords.wgs_gcj((y, x)) for x, y in WGS_POINTS]
    for g, r in zip(raw.geometry, ref, strict=True):
        assert metres((g.x, g.y), (r.lon, r.lat)) < 0.01
    back = read_table(dst, "enterprises", crs="gcj02")
    np.testing.assert_allclose(shapely.get_coordinates(back.frame.geometry), WGS_POINTS, atol=1e-9)


def test_private_columns_dropped_unless_asked(tmp_path: Path) -> None:
    incidents = store_frames()["incidents"]
    report = write_table(incidents, tmp_path / "i.geojson")  # table unknown: still dropped
    assert report.dropped_columns == ["reporter_contact"]
    assert "reporter_contact" not in pyogrio.read_dataframe(tmp_path / "i.geojson").columns
    write_table(incidents, tmp_path / "j.gpkg", table="incidents", include_private=True)
    assert pyogrio.read_dataframe(tmp_path / "j.gpkg")["reporter_contact"].tolist()[0] == "13900000000"


def test_write_tables_bundle(tmp_path: Path) -> None:
    frames = store_frames()
    dst = tmp_path / "bundle.gpkg"
    dst.write_bytes(b"stale")  # replaced whole
    reports = write_tables(frames, dst, crs="cgcs2000")
    assert [r.layer for r in reports] == list(frames)
    layers = {str(n) for n in pyogrio.list_layers(dst)[:, 0]}
    assert layers == set(frames)
    for name, frame in frames.items():
        info = pyogrio.read_info(dst, layer=name)
        assert info["features"] == len(frame)
        assert CRS.from_user_input(info["crs"]).to_epsg() == 4490
    back = read_table(dst, "enterprises")
    assert back.report.crs_source == "file" and back.report.crs_used == "cgcs2000"
    assert back.frame["name"].tolist() == NAMES
    assert list(tmp_path.iterdir()) == [dst]  # no temporary left behind


def test_empty_files_and_system_tables(tmp_path: Path) -> None:
    empty = write_json(tmp_path / "empty.geojson", feature_collection([], []))
    result = read_table(empty, "enterprises")
    assert len(result.frame) == 0
    assert list(result.frame.columns) == [*TABLES["enterprises"].column_names, "geom"]
    with pytest.raises(InvalidInput):
        read_table(empty, "plans")
    with pytest.raises(InvalidInput):
        read_table(tmp_path / "missing.geojson", "enterprises")
    (tmp_path / "x.kml").write_text("<kml/>")
    with pytest.raises(InvalidInput) as exc:
        read_table(tmp_path / "x.kml", "enterprises")
    assert ".gpkg" in exc.value.message


def test_plan_scoped_tables_need_no_plan_id(tmp_path: Path) -> None:
    """The store assigns plan_id from --plan/--new-plan; a present value must be an int."""
    src = tmp_path / "people.csv"
    src.write_text("grid_code,role,name,phone\n110105001001001,grid_worker,王芳,13800138000\n", encoding="utf-8")
    frame = read_table(src, "people").frame
    assert frame["plan_id"].isna().all() and frame["name"].tolist() == ["王芳"]
    assert list(frame.columns) == TABLES["people"].column_names
    src.write_text("plan_id,grid_code,role,name,phone\nx,110105001001001,grid_worker,王芳,13800138000\n")
    with pytest.raises(InvalidInput) as exc:
        read_table(src, "people")
    assert [(p.row, p.field) for p in exc.value.problems] == [(0, "plan_id")]
