"""The HTTP API over a store: plans, publish, grids, map page, problem+json errors."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from api import create_app
from gis.store import NewPlan, Store
from tests.test_store_contract import grids, people


@pytest.fixture
def client(store: Store):
    store.write({"grids": grids(), "people": people()}, plan=NewPlan("environment", "环保网格 v1"))
    with TestClient(create_app(store=store)) as c:
        yield c


def test_health_names_backend_and_plan_version(client: TestClient, store: Store) -> None:
    body = client.get("/health").json()
    assert body == {"status": "ok", "backend": store.backend, "plan_version": 0}


def test_publish_over_http_bumps_version_and_is_listed(client: TestClient) -> None:
    r = client.post("/plans/1/publish")
    assert r.status_code == 200
    assert r.json()["plan"]["status"] == "published" and r.json()["plan_version"] == 1
    layers = {row["key"]: row for row in client.get("/layers").json()}
    assert layers["environment"]["published_plan_id"] == 1
    assert layers["community"]["published_plan_id"] is None
    assert [p["id"] for p in client.get("/plans", params={"status": "published"}).json()] == [1]
    again = client.post("/plans/1/publish")
    assert again.status_code == 409
    assert again.headers["content-type"] == "application/problem+json"
    assert "only a draft" in again.json()["detail"] and again.json()["detail_zh"]


def test_grids_as_geojson(client: TestClient) -> None:
    r = client.get("/plans/1/grids", params={"level": 3})
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/geo+json")
    features = r.json()["features"]
    assert [f["properties"]["code"] for f in features] == ["310116101001", "310116101002"]
    assert features[0]["geometry"]["type"] == "MultiPolygon"


@pytest.mark.parametrize(
    "method,url,status,field",
    [
        ("get", "/plans/abc", 422, "plan_id"),
        ("get", "/plans/1/grids?level=9", 422, "level"),
        ("get", "/plans?status=final", 422, "status"),
        ("get", "/plans/42", 404, None),
        ("post", "/plans/42/publish", 404, None),
    ],
)
def test_bad_requests_get_problem_json_never_500(client: TestClient, method, url, status, field) -> None:
    r = getattr(client, method)(url)
    assert r.status_code == status
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert body["status"] == status and body["detail"]
    if field:
        assert body["problems"][0]["field"] == field


def test_map_page_draws_the_published_grids_in_chinese(client: TestClient) -> None:
    empty = client.get("/maps")
    assert "暂无已发布的网格方案" in empty.text
    client.post("/plans/1/publish")
    page = client.get("/maps")
    assert page.status_code == 200
    assert '<html lang="zh-CN">' in page.text and "环保网格" in page.text
    assert page.text.count("<path ") >= 5 and 'data-code="310116101001"' in page.text
    assert not re.search(r"""(src|href)=["']https?://""", page.text)  # nothing loaded from outside


def test_openapi_documents_the_endpoints(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    for path in ("/health", "/layers", "/plans", "/plans/{plan_id}", "/plans/{plan_id}/publish", "/plans/{plan_id}/grids", "/maps"):
        assert path in spec["paths"], path
    assert client.get("/docs").status_code == 200
