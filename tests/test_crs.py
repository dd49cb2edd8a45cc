"""GCJ-02 / BD-09 conversions, CRS names and the projected CRS for an area."""

from __future__ import annotations

import json

import numpy as np
import prcoords
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from pyproj import Geod

from gis import crs
from gis.errors import CRSError

GEOD = Geod(ellps="GRS80")

#: published test vectors of the eviltransform library (WGS84 lat/lon -> GCJ-02 lat/lon)
EVILTRANSFORM = [
    (31.1774276, 121.5272106, 31.17530398364597, 121.531541859215),  # Shanghai
    (22.543847, 113.912316, 22.540796131694766, 113.9171764808363),  # Shenzhen
    (39.911954, 116.377817, 39.91334545536069, 116.38404722455657),  # Beijing
]


def metres(lon1, lat1, lon2, lat2) -> np.ndarray:
    return np.asarray(GEOD.inv(lon1, lat1, lon2, lat2)[2])


@pytest.mark.parametrize("wlat,wlon,glat,glon", EVILTRANSFORM)
def test_forward_gcj02_matches_published_vectors(wlat, wlon, glat, glon) -> None:
    lon, lat = crs.wgs84_to_gcj02(wlon, wlat)
    assert metres(lon, lat, glon, glat) < 1e-6


@pytest.mark.parametrize("wlat,wlon,glat,glon", EVILTRANSFORM)
def test_inverse_gcj02_recovers_wgs84_below_1cm(wlat, wlon, glat, glon) -> None:
    lon, lat = crs.gcj02_to_wgs84(glon, glat)
    assert metres(lon, lat, wlon, wlat) < 0.01


china = st.tuples(st.floats(75.0, 134.0), st.floats(18.0, 53.0))


@settings(max_examples=300, deadline=None)
@given(china)
def test_round_trips_are_exact_below_1cm(point) -> None:
    lon, lat = point
    for fwd, inv in ((crs.wgs84_to_gcj02, crs.gcj02_to_wgs84), (crs.wgs84_to_bd09, crs.bd09_to_wgs84)):
        x, y = inv(*fwd(lon, lat))
        assert metres(x, y, lon, lat) < 0.01


@settings(max_examples=200, deadline=None)
@given(china)
def test_agrees_with_independent_prcoords(point) -> None:
    lon, lat = point
    g = prcoords.wgs_gcj((lat, lon))
    b = prcoords.wgs_bd((lat, lon))
    assert metres(*crs.wgs84_to_gcj02(lon, lat), g.lon, g.lat) < 1e-3
    assert metres(*crs.wgs84_to_bd09(lon, lat), b.lon, b.lat) < 1e-3
    w = prcoords.gcj_wgs_bored((lat, lon))  # prcoords' own iterative inverse
    assert metres(*crs.gcj02_to_wgs84(lon, lat), w.lon, w.lat) < 0.01


def test_outside_china_gcj02_equals_wgs84() -> None:
    lon, lat = crs.wgs84_to_gcj02(np.array([2.35, -74.0]), np.array([48.85, 40.7]))
    assert np.allclose(lon, [2.35, -74.0]) and np.allclose(lat, [48.85, 40.7])


def test_vectorised_over_arrays_with_nan_kept() -> None:
    lon = np.array([121.3, np.nan, 121.4])
    lat = np.array([30.8, 30.8, np.nan])
    x, y = crs.gcj02_to_wgs84(lon, lat)
    assert np.isfinite(x[0]) and np.isnan(x[1]) and np.isnan(y[2])


def test_jinshan_outline_converts_with_the_expected_offsets(shared_data) -> None:
    """The Jinshan fence (GCJ-02) lands ~480-500 m from its WGS84 position; BD-09 ~1.1 km."""
    path = shared_data / "admin-cn/shanghai/fences/310116.json"
    gcj = shapely.from_geojson(path.read_text(encoding="utf-8"))
    wgs = shapely.MultiPolygon(list(crs.geoms_to_store([gcj], "gcj02")[0].geoms))
    gxy = shapely.get_coordinates(gcj)
    wxy = shapely.get_coordinates(wgs)
    shift = metres(wxy[:, 0], wxy[:, 1], gxy[:, 0], gxy[:, 1])
    assert 470 < shift.min() and shift.max() < 510
    # the round trip through our forward formula and through prcoords is exact to a few mm
    back = np.column_stack(crs.wgs84_to_gcj02(wxy[:, 0], wxy[:, 1]))
    assert metres(back[:, 0], back[:, 1], gxy[:, 0], gxy[:, 1]).max() < 0.01
    pr = np.array([[c.lon, c.lat] for c in (prcoords.gcj_wgs_bored((y, x)) for x, y in gxy[::50])])
    assert metres(wxy[::50, 0], wxy[::50, 1], pr[:, 0], pr[:, 1]).max() < 0.05
    bd = np.column_stack(crs.wgs84_to_bd09(wxy[:, 0], wxy[:, 1]))
    bshift = metres(wxy[:, 0], wxy[:, 1], bd[:, 0], bd[:, 1])
    assert 1000 < bshift.mean() < 1250
    # the converted outline stays valid and keeps its area within 0.3 % (GCJ-02 also scales slightly)
    assert wgs.is_valid
    area = lambda g: abs(GEOD.geometry_area_perimeter(g)[0])  # noqa: E731
    assert abs(area(wgs) - area(gcj)) / area(gcj) < 3e-3
    assert 550e6 < area(wgs) < 700e6  # Jinshan: 586 km^2 of land; the Amap fence takes in some shore
    json.loads(path.read_text(encoding="utf-8"))  # the shared file is untouched


@pytest.mark.parametrize(
    "name,canon",
    [("WGS84", "wgs84"), ("EPSG:4326", "wgs84"), ("4490", "cgcs2000"), ("GCJ-02", "gcj02"), ("bd09", "bd09"), (3857, "EPSG:3857"), ("EPSG:4549", "EPSG:4549")],
)
def test_crs_names_normalise(name, canon) -> None:
    assert crs.normalize_crs(name) == canon


def test_unknown_crs_is_a_clear_error() -> None:
    with pytest.raises(CRSError, match="Unknown coordinate system 'wgs85'") as info:
        crs.normalize_crs("wgs85")
    assert "未知坐标系" in info.value.message_zh


def test_projected_crs_is_the_gauss_kruger_zone_of_the_area() -> None:
    assert crs.projected_crs(121.3, 30.8).to_epsg() == 4549  # CM 120E (Shanghai)
    assert crs.projected_crs(113.7, 34.7).to_epsg() == 4547  # CM 114E (Zhengzhou)
    assert crs.projected_crs(2.35, 48.85).to_epsg() == 32631  # UTM outside China


def test_epsg_round_trip_through_store() -> None:
    x, y = crs.from_store([121.3], [30.8], "EPSG:4549")
    assert 600_000 < x[0] < 650_000  # 1.3 degrees east of CM 120E, false easting 500 km
    lon, lat = crs.to_store(x, y, "EPSG:4549")
    assert metres(lon, lat, 121.3, 30.8) < 1e-3
