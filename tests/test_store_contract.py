"""One suite for the repository API, run against both backends (fixture ``store``)."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from shapely.geometry import MultiPolygon, Point, Polygon, box

from gis.errors import Conflict, InvalidInput, NotFound
from gis.model import STORE_CRS
from gis.store import NewPlan, Store
from gis.validate import uscc_check_char


def credit(i: int) -> str:
    first = f"91310116{i:09d}"
    return first + uscc_check_char(first)


def enterprises(n: int = 5, start: int = 0) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {
            "credit_code": [credit(start + i) for i in range(n)],
            "name": [f"金山测试企业{start + i}有限公司" for i in range(n)],
            "address": [f"金山区测试路{i}号" for i in range(n)],
            "industry": "化工",
            "size": "small",
            "risk_class": "high",
            "supervision_level": ["district", "town", "village", "town", "village"][:n] + ["town"] * max(0, n - 5),
        },
        geometry=gpd.points_from_xy(121.2 + np.arange(n) * 0.001, 30.8 + np.arange(n) * 0.001),
        crs=STORE_CRS,
    ).rename_geometry("geom")


def grids() -> gpd.GeoDataFrame:
    town_a = box(121.0, 30.7, 121.1, 30.8)
    town_b = box(121.1, 30.7, 121.2, 30.8)
    return gpd.GeoDataFrame(
        {
            "code": ["310116", "310116101", "310116102", "310116101001", "310116101002"],
            "name": ["金山区", "朱泾镇", "枫泾镇", "待泾村", "秀州村"],
            "level": [1, 2, 2, 3, 3],
            "parent_code": [None, "310116", "310116", "310116101", "310116101"],
            "admin_code": ["310116000000", "310116101000", "310116102000", "310116101001", "310116101002"],
        },
        geometry=[
            box(121.0, 30.7, 121.2, 30.8),
            town_a,
            town_b,
            box(121.0, 30.7, 121.05, 30.8),
            box(121.05, 30.7, 121.1, 30.8),
        ],
        crs=STORE_CRS,
    ).rename_geometry("geom")


def people() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "grid_code": ["310116", "310116101", "310116101001", "310116101001"],
            "role": ["grid_leader", "grid_leader", "grid_leader", "grid_worker"],
            "name": ["张伟", "李娜", "王芳", "刘洋"],
            "phone": ["021-57921234", "13912345678", "13812345678", "13712345678"],
            "department": ["区政府", "朱泾镇政府", "待泾村委会", "待泾村委会"],
        }
    )


def snapshot(store: Store) -> dict[str, pd.DataFrame]:
    """Every table's full content, to prove a refused write changed nothing."""
    out = {}
    for table in ("layers", "plans", "admin_units", "grids", "people", "enterprises", "incidents", "lines"):
        frame = store.read(table)
        if "geom" in frame:
            frame = pd.DataFrame(frame).assign(geom=shapely.to_wkb(frame.geometry.to_numpy()))
        out[table] = frame
    return out


def assert_unchanged(before: dict, after: dict) -> None:
    for table in before:
        pd.testing.assert_frame_equal(before[table], after[table], check_dtype=False)


# ---------------------------------------------------------------------------- basics


def test_fresh_store_has_default_layers_and_version_zero(store: Store) -> None:
    keys = set(store.layers()["key"])
    assert {"environment", "food_drug", "market", "construction", "community"} <= keys
    assert store.plan_version() == 0
    counts = store.counts()
    assert counts["grids"] == 0 and counts["enterprises"] == 0 and counts["layers"] >= 5


def test_init_is_idempotent(store: Store) -> None:
    store.write({"enterprises": enterprises(3)})
    store.init()
    assert store.counts()["enterprises"] == 3
    assert store.counts()["layers"] == 5


def test_enterprises_round_trip_attributes_and_points(store: Store) -> None:
    src = enterprises(5)
    store.write({"enterprises": src})
    got = store.read("enterprises")
    assert list(got["id"]) == [1, 2, 3, 4, 5]
    assert list(got["credit_code"]) == list(src["credit_code"])
    assert list(got["name"]) == list(src["name"])
    assert got.crs.to_epsg() == 4490
    assert shapely.equals(got.geometry.to_numpy(), src.geometry.to_numpy()).all()
    only = store.read("enterprises", {"supervision_level": "town"})
    assert list(only["credit_code"]) == [src["credit_code"][1], src["credit_code"][3]]


def test_polygons_are_stored_as_multipolygons(store: Store) -> None:
    store.write({"grids": grids()}, plan=NewPlan("community", "测试方案"))
    got = store.grids(1)
    assert set(got.geom_type) == {"MultiPolygon"}
    assert np.isclose(shapely.area(got.geometry.to_numpy()).sum(), shapely.area(grids().geometry.to_numpy()).sum())


def test_grids_and_people_go_to_a_new_draft_plan(store: Store) -> None:
    result = store.write({"grids": grids(), "people": people()}, plan=NewPlan("community", "测试方案"))
    plan = store.plan(result.plan_id)
    assert plan.status == "draft" and plan.version == 1 and plan.layer_key == "community"
    assert result.inserted == {"grids": 5, "people": 4}
    assert len(store.grids(plan.id, level=3)) == 2
    assert list(store.people(plan.id, "310116101001")["name"]) == ["王芳", "刘洋"]


def test_publish_archives_predecessor_and_bumps_plan_version(store: Store) -> None:
    first = store.write({"grids": grids()}, plan=NewPlan("environment", "v1")).plan_id
    store.publish(first)
    assert store.plan_version() == 1
    second = store.write({"grids": grids()}, plan=NewPlan("environment", "v2")).plan_id
    assert store.plan(second).version == 2
    published = store.publish(second)
    assert published.status == "published" and published.published_at
    assert store.plan(first).status == "archived" and store.plan(first).archived_at
    assert store.published_plan("environment").id == second
    assert store.plan_version() == 2
    assert store.published_plan("community") is None


def test_only_a_draft_with_grids_can_be_published(store: Store) -> None:
    empty = store.create_plan("market", "空方案")
    with pytest.raises(Conflict, match="no grids"):
        store.publish(empty.id)
    pid = store.write({"grids": grids()}, plan=NewPlan("market", "v1")).plan_id
    store.publish(pid)
    with pytest.raises(Conflict, match="only a draft"):
        store.publish(pid)
    with pytest.raises(NotFound):
        store.publish(999)
    assert store.plan_version() == 1


def test_published_plan_cannot_take_more_grids(store: Store) -> None:
    pid = store.write({"grids": grids()}, plan=NewPlan("market", "v1")).plan_id
    store.publish(pid)
    with pytest.raises(Conflict):
        store.write({"people": people()}, plan=pid)


def test_delete_draft_plan_removes_grids_and_people(store: Store) -> None:
    pid = store.write({"grids": grids(), "people": people()}, plan=NewPlan("market", "草稿")).plan_id
    store.delete_plan(pid)
    assert store.counts()["grids"] == 0 and store.counts()["people"] == 0
    with pytest.raises(NotFound):
        store.plan(pid)


def test_add_layer_is_user_extensible(store: Store) -> None:
    store.add_layer("safety", "安全生产网格", "Work safety", 3)
    assert "safety" in set(store.layers()["key"])
    with pytest.raises(Conflict):
        store.add_layer("safety", "重复")
    with pytest.raises(InvalidInput):
        store.add_layer("安全", "中文代码")


# ---------------------------------------------------------------------------- bad input


def _bowtie() -> Polygon:
    return Polygon([(121.0, 30.7), (121.1, 30.8), (121.1, 30.7), (121.0, 30.8), (121.0, 30.7)])


BAD_CASES = {
    "invalid geometry": (
        lambda: {"grids": grids().assign(geom=[*grids().geometry[:4], MultiPolygon([_bowtie()])])},
        (4, "geom", "invalid geometry"),
    ),
    "empty geometry": (
        lambda: {"enterprises": enterprises(3).assign(geom=[Point(121, 30), Point(), Point(121.1, 30.1)])},
        (1, "geom", "empty"),
    ),
    "wrong geometry type": (
        lambda: {"enterprises": enterprises(2).assign(geom=[Point(121, 30), box(121, 30, 121.1, 30.1)])},
        (1, "geom", "expected Point"),
    ),
    "duplicate code in input": (
        lambda: {"grids": grids().assign(code=["310116", "310116101", "310116101", "310116101001", "310116101002"])},
        (2, "code", "duplicate"),
    ),
    "missing required value": (
        lambda: {"enterprises": enterprises(3).assign(name=["甲", None, "丙"])},
        (1, "name", "required"),
    ),
    "missing required field": (
        lambda: {"enterprises": enterprises(3).drop(columns=["supervision_level"])},
        (None, "supervision_level", "required field"),
    ),
    "bad credit code": (
        lambda: {"enterprises": enterprises(3).assign(credit_code=[credit(0), credit(1)[:17] + "0", credit(2)])},
        (1, "credit_code", "check digit"),
    ),
    "value not allowed": (
        lambda: {"enterprises": enterprises(3).assign(supervision_level=["town", "province", "village"])},
        (1, "supervision_level", "not one of"),
    ),
    "code not extending parent": (
        lambda: {"grids": grids().assign(code=["310116", "310116101", "310116102", "310117101001", "310116101002"])},
        (3, "code", "does not extend"),
    ),
    "unknown parent grid": (
        lambda: {
            "grids": grids().assign(
                code=["310116", "310116101", "310116102", "310116109001", "310116101002"],
                parent_code=[None, "310116", "310116", "310116109", "310116101"],
            )
        },
        (3, "parent_code", "not in this plan"),
    ),
    "people on unknown grid": (
        lambda: {"grids": grids(), "people": people().assign(grid_code=["310116", "310116999", "310116101001", "310116101001"])},
        (1, "grid_code", "not in this plan"),
    ),
    "bad phone": (
        lambda: {"grids": grids(), "people": people().assign(phone=["021-57921234", "call me", "13812345678", "13712345678"])},
        (1, "phone", "not a phone"),
    ),
}


@pytest.mark.parametrize("case", list(BAD_CASES), ids=list(BAD_CASES))
def test_bad_input_is_refused_with_row_and_field_and_store_unchanged(store: Store, case: str) -> None:
    # something already stored that must survive the refused import
    store.write({"enterprises": enterprises(5, start=100)})
    pid = store.write({"grids": grids()}, plan=NewPlan("environment", "已有")).plan_id
    store.publish(pid)
    before = snapshot(store)
    make, (row, field, text) = BAD_CASES[case]
    frames = make()
    # every bad bundle also carries good rows of another table: all or nothing
    frames.setdefault("enterprises", enterprises(2, start=200))
    with pytest.raises(InvalidInput) as info:
        store.write(frames, plan=NewPlan("community", "坏数据"))
    matching = [p for p in info.value.problems if p.field == field and p.row == row and text in p.message]
    assert matching, [str(p) for p in info.value.problems]
    assert all(p.message_zh for p in info.value.problems)
    assert_unchanged(before, snapshot(store))
    assert store.plan_version() == 1


def test_duplicate_of_stored_row_is_refused_and_nothing_written(store: Store) -> None:
    store.write({"enterprises": enterprises(3)})
    before = snapshot(store)
    batch = pd.concat([enterprises(2, start=50), enterprises(3).iloc[[1]]], ignore_index=True)
    with pytest.raises(InvalidInput) as info:
        store.write({"enterprises": gpd.GeoDataFrame(batch, geometry="geom", crs=STORE_CRS)})
    assert any(p.row == 2 and p.field == "credit_code" and "already exists" in p.message for p in info.value.problems)
    assert_unchanged(before, snapshot(store))


def test_failure_inside_the_transaction_rolls_back_every_table(store: Store, monkeypatch) -> None:
    """A failure after some tables were inserted (here: the database refuses the last
    table) leaves the store exactly as it was."""
    before = snapshot(store)
    original = store._insert

    def failing_insert(tx, table, frame):
        ids = original(tx, table, frame)
        if table == "enterprises":
            raise Conflict("simulated failure after insert", "模拟失败")
        return ids

    monkeypatch.setattr(store, "_insert", failing_insert)
    with pytest.raises(Conflict):
        store.write({"grids": grids(), "people": people(), "enterprises": enterprises(3)}, plan=NewPlan("community", "x"))
    monkeypatch.undo()
    assert_unchanged(before, snapshot(store))
    assert store.plans() == []


def test_scoped_tables_need_a_plan(store: Store) -> None:
    with pytest.raises(InvalidInput, match="belong to a plan"):
        store.write({"grids": grids()})
    with pytest.raises(NotFound):
        store.write({"grids": grids()}, plan=NewPlan("no_such_layer", "x"))
