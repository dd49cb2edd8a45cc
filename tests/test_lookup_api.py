"""Dispatcher API over a real store: answers, boundary rule, snapping, batch, incidents,
and hot swap when a plan is published (also from another process)."""

from __future__ import annotations

import subprocess
import sys
import threading
import time

import geopandas as gpd
import pytest
import shapely
from fastapi.testclient import TestClient
from shapely.geometry import box

from api import create_app
from gis.settings import Settings
from gis.store import NewPlan, Store

# two towns side by side; the shared edge is the meridian 121.1 (exact in binary? no:
# so the tests put boundary points on vertices, which are exact)
TOWN_A = box(121.0, 30.7, 121.1, 30.8)
TOWN_B = box(121.1, 30.7, 121.2, 30.8)


def _plan_frames(shift: float = 0.0) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    a = box(121.0, 30.7, 121.1 + shift, 30.8)
    b = box(121.1 + shift, 30.7, 121.2, 30.8)
    grids = gpd.GeoDataFrame(
        {
            "code": ["310116", "310116101", "310116102"],
            "name": ["金山区", "朱泾镇", "枫泾镇"],
            "level": [1, 2, 2],
            "parent_code": [None, "310116", "310116"],
        },
        geometry=[box(121.0, 30.7, 121.2, 30.8), a, b],
        crs="EPSG:4490",
    ).rename_geometry("geom")
    people = gpd.GeoDataFrame(
        {
            "grid_code": ["310116", "310116101", "310116102", "310116102", "310116", "310116101", "310116102"],
            "role": ["grid_leader", "grid_leader", "grid_leader", "grid_worker"] + ["responsible_officer"] * 3,
            "name": ["张伟", "李娜", "王芳", "刘洋", "赵军", "钱进", "孙丽"],
            "phone": ["021-57921234", "13912345678", "13812345678", "13712345678", "13600000001", "13600000002", "13600000003"],
        }
    )
    return grids, people


@pytest.fixture
def published(store: Store) -> Store:
    grids, people = _plan_frames()
    pid = store.write({"grids": grids, "people": people}, plan=NewPlan("environment", "v1")).plan_id
    store.publish(pid)
    return store


@pytest.fixture
def client(published: Store):
    settings = Settings()
    settings.lookup_poll_s = 0.2
    with TestClient(create_app(settings, store=published)) as c:
        yield c


def test_point_inside_names_each_level_and_people(client: TestClient) -> None:
    a = client.get("/lookup", params={"lon": 121.05, "lat": 30.75, "crs": "wgs84"}).json()
    env = a["layers"][0]
    assert env["status"] == "inside" and env["layer"] == "environment"
    assert [g["code"] for g in env["grids"]] == ["310116", "310116101"]
    assert env["grids"][1]["people"][0] == {"role": "grid_leader", "name": "李娜", "phone": "13912345678", "department": None}
    assert a["query"]["crs"] == "wgs84" and a["plan_version"] == 1 and not env["on_boundary"]


def test_point_on_shared_edge_goes_to_lower_code(client: TestClient) -> None:
    a = client.get("/lookup", params={"lon": 121.1, "lat": 30.8, "crs": "cgcs2000"}).json()  # a shared vertex
    env = a["layers"][0]
    assert env["grids"][-1]["code"] == "310116101"
    assert env["on_boundary"] is True and [g["code"] for g in env["touching"]] == ["310116102"]


def test_near_boundary_lists_the_close_neighbour(client: TestClient) -> None:
    # ~10 m west of the shared meridian
    a = client.get("/lookup", params={"lon": 121.1 - 0.0001, "lat": 30.75, "crs": "wgs84"}).json()
    env = a["layers"][0]
    assert env["grids"][-1]["code"] == "310116101" and not env["on_boundary"]
    near = env["near_boundary"]
    assert [n["code"] for n in near] == ["310116102"] and 8 < near[0]["distance_m"] < 11


def test_outside_within_tolerance_is_snapped_beyond_is_outside(client: TestClient) -> None:
    snapped = client.get("/lookup", params={"lon": 121.05, "lat": 30.8003, "crs": "wgs84"}).json()["layers"][0]
    assert snapped["status"] == "snapped" and 30 < snapped["distance_m"] < 36
    assert snapped["grids"][-1]["code"] == "310116101"
    far = client.get("/lookup", params={"lon": 121.05, "lat": 30.81, "crs": "wgs84"}).json()["layers"][0]
    assert far["status"] == "outside" and far["grids"] == []
    assert far["nearest"]["code"] == "310116101" and 1000 < far["distance_m"] < 1200


def test_gcj02_and_bd09_input_are_converted(client: TestClient) -> None:
    from gis.crs import wgs84_to_bd09, wgs84_to_gcj02

    gx, gy = wgs84_to_gcj02(121.15, 30.75)
    bx, by = wgs84_to_bd09(121.15, 30.75)
    for crs, (x, y) in (("gcj02", (gx, gy)), ("bd09", (bx, by))):
        a = client.get("/lookup", params={"lon": float(x), "lat": float(y), "crs": crs}).json()
        assert a["query"]["crs"] == crs
        assert abs(a["point"]["lon"] - 121.15) < 1e-7 and abs(a["point"]["lat"] - 30.75) < 1e-7
        assert a["layers"][0]["grids"][-1]["code"] == "310116102"
    # the same GCJ-02 numbers read as WGS84 land ~500 m away: near the town edge, a different answer
    edge_x, edge_y = wgs84_to_gcj02(121.098, 30.75)
    as_gcj = client.get("/lookup", params={"lon": float(edge_x), "lat": float(edge_y), "crs": "gcj02"}).json()
    as_wgs = client.get("/lookup", params={"lon": float(edge_x), "lat": float(edge_y), "crs": "wgs84"}).json()
    assert as_gcj["layers"][0]["grids"][-1]["code"] == "310116101"
    assert as_wgs["layers"][0]["grids"][-1]["code"] == "310116102"


@pytest.mark.parametrize(
    "params,field",
    [
        ({"lon": 121.05, "lat": 30.75}, "crs"),
        ({"lon": 30.75, "lat": 121.05, "crs": "wgs84"}, "swapped"),
        ({"lon": "nan", "lat": 30.75, "crs": "wgs84"}, "lon"),
        ({"lon": 121.05, "lat": "x", "crs": "wgs84"}, "lat"),
        ({"lon": 121.05, "lat": 30.75, "crs": "mars"}, "coordinate system"),
        ({"lon": 191.0, "lat": 30.75, "crs": "wgs84"}, "lon"),
    ],
)
def test_bad_lookup_input_is_422_naming_the_field(client: TestClient, params, field) -> None:
    r = client.get("/lookup", params=params)
    assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"
    body = r.json()
    text = body["detail"] + " " + " ".join(p.get("field", "") for p in body["problems"])
    assert field in text


def test_batch_answers_good_rows_and_lists_bad_ones(client: TestClient) -> None:
    body = {"crs": "wgs84", "lon": [121.05, 121.15, None, 30.75, 121.5], "lat": [30.75, 30.75, 30.75, 121.05, 30.75]}
    r = client.post("/lookup/batch", json=body)
    assert r.status_code == 200
    out = r.json()
    assert out["results"]["environment"] == ["310116101", "310116102", None, None, None]
    assert [e["index"] for e in out["errors"]] == [2, 3] and "swapped" in out["errors"][1]["message"]
    level1 = client.post("/lookup/batch?level=1", json=body).json()
    assert level1["results"]["environment"][:2] == ["310116", "310116"]


def test_batch_geojson_and_csv(client: TestClient) -> None:
    fc = {
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "properties": {}, "geometry": {"type": "Point", "coordinates": [121.05, 30.75]}},
            {"type": "Feature", "properties": {}, "geometry": None},
        ],
    }
    r = client.post("/lookup/batch?crs=wgs84", json=fc)
    assert r.json()["results"]["environment"] == ["310116101", None] and r.json()["errors"][0]["index"] == 1
    csv = "编号,经度,纬度\nA,121.05,30.75\nB,121.15,30.75\nC,,30\n"
    r = client.post("/lookup/batch?crs=wgs84", files={"file": ("pts.csv", csv.encode("utf-8"), "text/csv")})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    lines = r.content.decode("utf-8-sig").strip().splitlines()
    assert lines[0] == "index,编号,经度,纬度,environment_code,error"
    assert lines[1].endswith(",310116101,") and lines[2].endswith(",310116102,") and "missing" in lines[3]
    bad = client.post("/lookup/batch?crs=wgs84", content="a,b\n1,2\n", headers={"content-type": "text/csv"})
    assert bad.status_code == 422 and "lon and lat" in bad.json()["detail"]


def test_grid_detail_with_ancestry_children_and_people(client: TestClient) -> None:
    d = client.get("/grids/310116102").json()
    layer = d["layers"][0]
    assert [g["code"] for g in layer["ancestry"]] == ["310116", "310116102"]
    assert {p["name"] for p in layer["grid"]["people"]} == {"王芳", "刘洋", "孙丽"}
    top = client.get("/grids/310116").json()["layers"][0]
    assert sorted(c["code"] for c in top["children"]) == ["310116101", "310116102"]
    assert client.get("/grids/999").status_code == 404


def test_incident_is_stored_with_routed_grids_and_private_contact(client: TestClient, published: Store) -> None:
    r = client.post(
        "/incidents",
        json={"lon": 121.15, "lat": 30.75, "crs": "wgs84", "category": "废水", "description": "河道排污", "reporter_contact": "13900001111"},
    )
    assert r.status_code == 201, r.text
    out = r.json()
    assert out["routed_grids"] == [{"layer": "environment", "plan_id": 1, "code": "310116102", "name": "枫泾镇", "level": 2, "status": "inside"}]
    assert "reporter_contact" not in out
    stored = published.read("incidents", {"id": out["id"]}).iloc[0]
    assert stored["reporter_contact"] == "13900001111" and stored["routed_grids"][0]["code"] == "310116102"
    # the category table is editable: noise now goes to the environment layer only
    assert client.put("/settings/category-layers", json={"噪声": ["environment"], "*": ["environment"]}).status_code == 200
    assert client.put("/settings/category-layers", json={"噪声": ["nope"]}).status_code == 422
    r = client.post("/incidents", json={"lon": 121.05, "lat": 30.75, "crs": "wgs84", "category": "噪声"})
    assert [g["code"] for g in r.json()["routed_grids"]] == ["310116101"]
    assert client.post("/incidents", json={"lon": 121.05, "lat": 30.75, "category": "噪声"}).status_code == 422


def test_lookups_during_publish_all_succeed_from_one_plan(client: TestClient, published: Store) -> None:
    """While a new plan (town edge moved east) is published, every lookup succeeds and
    its answer matches exactly one plan version."""
    grids, people = _plan_frames(shift=0.05)
    pid = published.write({"grids": grids, "people": people}, plan=NewPlan("environment", "v2")).plan_id
    point = {"lon": 121.12, "lat": 30.75, "crs": "wgs84"}  # town B in v1, town A in v2
    expected = {1: "310116102", 2: "310116101"}
    answers: list[tuple[int, str]] = []
    errors: list[BaseException] = []
    stop = threading.Event()

    def hammer() -> None:
        while not stop.is_set():
            try:
                r = client.get("/lookup", params=point)
                assert r.status_code == 200, r.text
                a = r.json()
                answers.append((a["plan_version"], a["layers"][0]["grids"][-1]["code"]))
            except BaseException as exc:  # noqa: BLE001 - collected and asserted below
                errors.append(exc)

    threads = [threading.Thread(target=hammer) for _ in range(3)]
    for t in threads:
        t.start()
    time.sleep(0.3)
    published.publish(pid)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and not any(v == 2 for v, _ in answers):
        time.sleep(0.05)
    stop.set()
    for t in threads:
        t.join()
    assert not errors
    assert {v for v, _ in answers} == {1, 2}
    assert all(code == expected[v] for v, code in answers)


def test_publish_from_another_process_is_seen_within_2_s(client: TestClient, published: Store) -> None:
    grids, people = _plan_frames(shift=0.05)
    pid = published.write({"grids": grids, "people": people}, plan=NewPlan("environment", "v2")).plan_id
    proc = subprocess.run(
        [sys.executable, "-m", "gis", "plan", "publish", str(pid), "--db", published.url.removeprefix("gpkg://")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    published_at = time.monotonic()
    while time.monotonic() - published_at < 2.0:
        if client.get("/health").json()["plan_version"] == 2 and client.get(
            "/lookup", params={"lon": 121.12, "lat": 30.75, "crs": "wgs84"}
        ).json()["plan_version"] == 2:
            break
        time.sleep(0.05)
    a = client.get("/lookup", params={"lon": 121.12, "lat": 30.75, "crs": "wgs84"}).json()
    assert a["plan_version"] == 2 and a["layers"][0]["grids"][-1]["code"] == "310116101"
    assert time.monotonic() - published_at < 2.5


def test_enterprise_near_the_point_with_its_responsible_grid(published: Store) -> None:
    from tests.test_store_contract import credit

    ent = gpd.GeoDataFrame(
        {"credit_code": [credit(1), credit(2)], "name": ["甲化工", "乙食品"], "supervision_level": ["district", "town"]},
        geometry=[shapely.Point(121.15, 30.75), shapely.Point(121.1501, 30.7501)],
        crs="EPSG:4490",
    ).rename_geometry("geom")
    published.write({"enterprises": ent})
    with TestClient(create_app(Settings(), store=published)) as c:
        a = c.get("/lookup", params={"lon": 121.15, "lat": 30.75, "crs": "wgs84"}).json()
    names = [e["name"] for e in a["enterprises"]]
    assert names == ["甲化工", "乙食品"]
    district = a["enterprises"][0]["responsible"][0]
    town = a["enterprises"][1]["responsible"][0]
    assert district["code"] == "310116" and district["level"] == 1  # district supervision: level-1 grid
    assert town["code"] == "310116102" and town["level"] == 2


def test_enterprises_imported_by_another_process_are_seen_without_a_publish(
    client: TestClient, published: Store, tmp_path
) -> None:
    """An import is a data-version bump (LISTEN/NOTIFY or the polled file): the running
    service lists the new enterprise within 2 s, and incidents do not trigger rebuilds."""
    from tests.test_store_contract import credit

    before = client.get("/lookup", params={"lon": 121.15, "lat": 30.75, "crs": "wgs84"}).json()
    assert before["enterprises"] == []
    published.write({"incidents": gpd.GeoDataFrame(
        {"category": ["噪声"], "source": ["12345"], "reported_at": ["2026-11-25T08:00:00Z"]},
        geometry=[shapely.Point(121.15, 30.75)], crs="EPSG:4490").rename_geometry("geom")})  # fmt: skip
    assert published.versions() == (1, 0)  # incidents: no rebuild
    path = tmp_path / "firm.csv"
    path.write_text(f"credit_code,name,supervision_level,lon,lat\n{credit(7)},丙印染,district,121.15,30.75\n",
                    encoding="utf-8")  # fmt: skip
    db = published.url.removeprefix("gpkg://")
    proc = subprocess.run(
        [sys.executable, "-m", "gis", "import", str(path), "--table", "enterprises", "--crs", "cgcs2000", "--db", db],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert published.versions() == (1, 1)
    imported_at = time.monotonic()
    names: list[str] = []
    while time.monotonic() - imported_at < 2.5 and not names:
        a = client.get("/lookup", params={"lon": 121.15, "lat": 30.75, "crs": "wgs84"}).json()
        names = [e["name"] for e in a["enterprises"]]
        time.sleep(0.05)
    assert names == ["丙印染"] and a["plan_version"] == 1


def address_book(q: str) -> list[dict]:
    """A deployment's own geocoder, plugged in by ``GRIDGIS_GEOCODER=module:function``."""
    from gis.crs import wgs84_to_gcj02

    lon, lat = wgs84_to_gcj02(121.15, 30.75)  # web geocoders answer in GCJ-02
    return [{"name": f"{q}（地址库）", "lon": lon, "lat": lat, "crs": "gcj02"}] if "路" in q else []


def test_search_finds_grids_and_uses_a_plugged_geocoder_only_when_set(published: Store) -> None:
    with TestClient(create_app(Settings(), store=published)) as c:
        hits = c.get("/search", params={"q": "朱泾"}).json()
        assert [(h["kind"], h["code"]) for h in hits] == [("grid", "310116101")]
        assert c.get("/search", params={"q": "金山路100号"}).json() == []
        assert c.get("/search", params={"q": ""}).status_code == 422
    settings = Settings()
    settings.geo.geocoder = "tests.test_lookup_api:address_book"
    with TestClient(create_app(settings, store=published)) as c:
        hits = c.get("/search", params={"q": "金山路100号"}).json()
        assert [(h["name"], h["kind"], h["crs"]) for h in hits] == [("金山路100号（地址库）", "geocoder", "cgcs2000")]
        assert abs(hits[0]["lon"] - 121.15) < 1e-8 and abs(hits[0]["lat"] - 30.75) < 1e-8
