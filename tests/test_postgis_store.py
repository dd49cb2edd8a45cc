"""What only the PostGIS backend can get wrong: migrations, indexes, database
constraints, NOTIFY, bulk loading, connection errors.

Behaviour shared by both backends is tested through the ``store`` fixture elsewhere.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import psycopg
import pytest
import shapely
from shapely.geometry import MultiPolygon, Polygon, box

from gis.errors import Conflict, InvalidInput, StoreUnavailable
from gis.model import DEFAULT_LAYERS, STORE_CRS, TABLES
from gis.store.base import NewPlan
from gis.store.postgis import NOTIFY_CHANNEL, PostGISStore
from gis.validate import uscc_check_char

pytestmark = pytest.mark.postgis

SPATIAL = [name for name, spec in TABLES.items() if spec.geometry_type]


def _sql(store: PostGISStore, query: str, *params: Any) -> list[tuple]:
    with psycopg.connect(store.url, autocommit=True) as conn:
        cur = conn.execute(query, params or None)
        return cur.fetchall() if cur.description else []


def _credit_code(i: int) -> str:
    first17 = f"91110000{i:09d}"
    return first17 + uscc_check_char(first17)


def _enterprises(n: int, seed: int = 0) -> gpd.GeoDataFrame:
    rng = np.random.default_rng(seed)
    return gpd.GeoDataFrame(
        {
            "credit_code": [_credit_code(i) for i in range(n)],
            "name": [f"企业{i}" for i in range(n)],
            "supervision_level": rng.choice(["district", "town", "village"], n),
            "risk_class": rng.choice(["low", "medium", "high", "major"], n),
        },
        geometry=gpd.GeoSeries(shapely.points(116 + rng.random(n), 39.5 + rng.random(n))),
        crs=STORE_CRS,
    ).rename_geometry("geom")


def _grids() -> gpd.GeoDataFrame:
    """A county grid and two town grids inside it (child codes extend the parent's)."""
    return gpd.GeoDataFrame(
        {
            "code": ["110101", "110101001", "110101002"],
            "name": ["东城区", "东华门街道", "景山街道"],
            "level": [1, 2, 2],
            "parent_code": [None, "110101", "110101"],
        },
        geometry=[
            box(116.0, 39.0, 116.2, 39.1),
            box(116.0, 39.0, 116.1, 39.1),
            box(116.1, 39.0, 116.2, 39.1),
        ],
        crs=STORE_CRS,
    ).rename_geometry("geom")


def _draft_with_grids(store: PostGISStore, layer: str = "environment") -> int:
    result = store.write({"grids": _grids()}, plan=NewPlan(layer, "草稿"))
    assert result.plan_id is not None
    return result.plan_id


# ---------------------------------------------------------------------- schema


def test_init_twice_is_idempotent(pg_store: PostGISStore) -> None:
    pg_store.init()
    pg_store.init()
    assert _sql(pg_store, "SELECT version_num FROM alembic_version") == [("0002",)]
    layers = pg_store.layers()
    assert sorted(layers["key"]) == sorted(k for k, *_ in DEFAULT_LAYERS)
    assert layers["key"].is_unique


def test_concurrent_init_seeds_layers_once(pg_url: str, pg_store: PostGISStore) -> None:
    """Several workers starting together must not trip over each other's seeding."""
    _sql(pg_store, "DELETE FROM layers")
    stores = [PostGISStore(pg_url) for _ in range(4)]
    errors: list[BaseException] = []

    def init(store: PostGISStore) -> None:
        try:
            store.init()
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=init, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    for s in stores:
        s.close()
    assert not errors
    assert pg_store.counts()["layers"] == len(DEFAULT_LAYERS)


def test_schema_matches_model(pg_store: PostGISStore) -> None:
    """Every model column exists with the right nullability: a column added to
    gis.model without an Alembic revision fails here."""
    rows = _sql(
        pg_store,
        "SELECT table_name, column_name, is_nullable FROM information_schema.columns "
        "WHERE table_schema = 'public'",
    )
    have: dict[str, dict[str, bool]] = {}
    for table, column, nullable in rows:
        have.setdefault(table, {})[column] = nullable == "YES"
    for name, spec in TABLES.items():
        expected = {"id", *spec.column_names} | ({"geom"} if spec.geometry_type else set())
        assert set(have[name]) == expected, name
        for col in spec.columns:
            assert have[name][col.name] is (not col.required), f"{name}.{col.name}"
        if spec.geometry_type:
            assert have[name]["geom"] is False
    assert set(have["store_meta"]) == {"key", "value"}

    geoms = _sql(pg_store, "SELECT f_table_name, type, srid FROM geometry_columns")
    assert {t: (ty, srid) for t, ty, srid in geoms} == {
        name: (TABLES[name].geometry_type, 4490) for name in SPATIAL
    }


def test_gist_index_on_every_geometry_column(pg_store: PostGISStore) -> None:
    rows = _sql(
        pg_store,
        "SELECT tablename FROM pg_indexes WHERE schemaname = 'public' "
        "AND indexdef ILIKE '%USING gist (geom)%'",
    )
    assert sorted(t for (t,) in rows) == sorted(SPATIAL)
    assert _sql(
        pg_store,
        "SELECT 1 FROM pg_indexes WHERE tablename = 'grids' AND indexdef ILIKE '%(plan_id, level)%'",
    )


def test_unique_and_foreign_keys_exist(pg_store: PostGISStore) -> None:
    rows = _sql(
        pg_store,
        """
        SELECT c.conrelid::regclass::text, c.contype,
               array(SELECT a.attname FROM unnest(c.conkey) WITH ORDINALITY k(n, i)
                     JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.n
                     ORDER BY k.i)::text[],
               c.confrelid::regclass::text, c.condeferrable, c.condeferred
        FROM pg_constraint c JOIN pg_namespace ns ON ns.oid = c.connamespace
        WHERE ns.nspname = 'public' AND c.contype IN ('u', 'f')
        """,
    )
    uniques = {(t, tuple(cols)) for t, kind, cols, *_ in rows if kind == "u"}
    for name, spec in TABLES.items():
        for cols in spec.unique:
            assert (name, cols) in uniques, (name, cols)
    fks = {
        (t, tuple(cols), ref): (deferrable, deferred)
        for t, kind, cols, ref, deferrable, deferred in rows
        if kind == "f"
    }
    assert ("plans", ("layer_key",), "layers") in fks
    assert ("grids", ("plan_id",), "plans") in fks
    for key in [
        ("grids", ("plan_id", "parent_code"), "grids"),
        ("people", ("plan_id", "grid_code"), "grids"),
        ("admin_units", ("parent_code",), "admin_units"),
    ]:
        assert fks[key] == (True, True), key


# ---------------------------------------------------------------------- constraints at work


def test_check_rejects_invalid_polygon_inserted_directly(pg_store: PostGISStore) -> None:
    plan_id = _draft_with_grids(pg_store)
    bowtie = "MULTIPOLYGON(((116 39, 116.1 39.1, 116.1 39, 116 39.1, 116 39)))"
    with pytest.raises(psycopg.errors.CheckViolation, match="ck_grids_geom_valid"):
        _sql(
            pg_store,
            "INSERT INTO grids (plan_id, code, name, level, geom) "
            "VALUES (%s, '110102', 'bad', 1, ST_GeomFromText(%s, 4490))",
            plan_id,
            bowtie,
        )


def test_check_violation_through_the_store_is_a_conflict(pg_store: PostGISStore) -> None:
    """Bypassing validation (base.write would refuse it first) the database still does."""
    plan_id = _draft_with_grids(pg_store)
    bowtie = Polygon([(116, 39), (116.1, 39.1), (116.1, 39), (116, 39.1)])
    frame = gpd.GeoDataFrame(
        {"plan_id": [plan_id], "code": ["110102"], "name": ["bad"], "level": [1]},
        geometry=[bowtie],
        crs=STORE_CRS,
    ).rename_geometry("geom")
    with (
        pytest.raises(Conflict, match="ck_grids_geom_valid") as info,
        pg_store._transaction() as tx,
    ):
        pg_store._insert(tx, "grids", frame)
    assert "约束" in info.value.message_zh
    assert len(pg_store.grids(plan_id)) == 3


def test_duplicate_grid_code_in_plan_is_a_conflict(pg_store: PostGISStore) -> None:
    plan_id = _draft_with_grids(pg_store)
    dup = _grids().iloc[[0]].assign(plan_id=plan_id)
    with pytest.raises(Conflict, match="uq_grids_plan_id_code"), pg_store._transaction() as tx:
        pg_store._insert(tx, "grids", dup)
    # the same code in another plan is fine
    other = _draft_with_grids(pg_store, "market")
    assert set(pg_store.grids(other)["code"]) == set(pg_store.grids(plan_id)["code"])


def test_deferred_references_are_checked_at_commit(pg_store: PostGISStore) -> None:
    plan_id = pg_store.create_plan("environment", "p").id
    grids = _grids().assign(plan_id=plan_id)
    # children before their parent in one transaction: fine, checked at COMMIT
    with pg_store._transaction() as tx:
        pg_store._insert(tx, "grids", grids.iloc[::-1])
    assert len(pg_store.grids(plan_id)) == 3

    person = pd.DataFrame(
        [
            {
                "plan_id": plan_id,
                "grid_code": "999999",
                "role": "grid_worker",
                "name": "张三",
                "phone": "13800000000",
            }
        ]
    )
    with pytest.raises(Conflict, match="fk_people_grid"), pg_store._transaction() as tx:
        pg_store._insert(tx, "people", person)
    assert pg_store.people(plan_id).empty


def test_only_one_published_plan_per_layer(pg_store: PostGISStore) -> None:
    first = _draft_with_grids(pg_store)
    second = _draft_with_grids(pg_store)
    pg_store.publish(first)
    with (
        pytest.raises(Conflict, match="uq_plans_one_published_per_layer"),
        pg_store._transaction() as tx,
    ):
        pg_store._update(tx, "plans", {"status": "published"}, {"id": second})
    pg_store.publish(second)
    statuses = {p.id: p.status.value for p in pg_store.plans("environment")}
    assert statuses == {first: "archived", second: "published"}


# ---------------------------------------------------------------------- publish


def test_publish_sends_notify_with_new_version(pg_store: PostGISStore) -> None:
    plan_id = _draft_with_grids(pg_store)
    with psycopg.connect(pg_store.url, autocommit=True) as listener:
        listener.execute(f"LISTEN {NOTIFY_CHANNEL}")
        assert pg_store.plan_version() == 0
        pg_store.publish(plan_id)
        got = list(listener.notifies(timeout=5, stop_after=1))
    assert [(n.channel, n.payload) for n in got] == [(NOTIFY_CHANNEL, "1")]
    assert pg_store.plan_version() == 1
    assert pg_store.plan(plan_id).status.value == "published"


def test_concurrent_publishes_get_distinct_versions(pg_url: str, pg_store: PostGISStore) -> None:
    """Two processes publishing at once must not both claim the same plan version."""
    plans = [_draft_with_grids(pg_store, layer) for layer in ("environment", "market", "food_drug")]
    stores = [PostGISStore(pg_url) for _ in plans]
    errors: list[BaseException] = []

    def publish(store: PostGISStore, plan_id: int) -> None:
        try:
            store.publish(plan_id)
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [
        threading.Thread(target=publish, args=pair) for pair in zip(stores, plans, strict=True)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    for s in stores:
        s.close()
    assert not errors
    assert pg_store.plan_version() == 3
    assert {p.status.value for p in (pg_store.plan(i) for i in plans)} == {"published"}


# ---------------------------------------------------------------------- bulk and round trips


def test_bulk_insert_10k_enterprises_round_trips(pg_store: PostGISStore) -> None:
    frame = _enterprises(10_000)
    started = time.perf_counter()
    with pg_store._transaction() as tx:
        ids = pg_store._insert(tx, "enterprises", frame)
    elapsed = time.perf_counter() - started
    assert ids == list(range(1, 10_001))
    assert elapsed < 10, f"bulk insert of 10k points took {elapsed:.1f} s"  # ~0.2 s locally

    back = pg_store.read("enterprises")
    assert isinstance(back, gpd.GeoDataFrame)
    assert back.crs == STORE_CRS
    assert back["id"].tolist() == ids
    assert back["credit_code"].tolist() == frame["credit_code"].tolist()
    assert back["supervision_level"].tolist() == frame["supervision_level"].tolist()
    assert shapely.equals_exact(
        back.geometry.to_numpy(), frame.geometry.to_numpy(), tolerance=0
    ).all()
    assert pg_store.counts()["enterprises"] == 10_000


def test_write_api_stores_enterprises(pg_store: PostGISStore) -> None:
    frame = _enterprises(500, seed=3)
    result = pg_store.write({"enterprises": frame})
    assert result.inserted == {"enterprises": 500}
    back = pg_store.read("enterprises", {"credit_code": frame["credit_code"].iloc[[7, 3]].tolist()})
    assert back["credit_code"].tolist() == frame["credit_code"].iloc[[3, 7]].tolist()
    with pytest.raises(InvalidInput, match="refused") as info:
        pg_store.write({"enterprises": frame.iloc[[0]]})
    assert any("already exists" in p.message for p in info.value.problems)
    assert pg_store.counts()["enterprises"] == 500


def test_json_timestamps_and_reserved_column_round_trip(pg_store: PostGISStore) -> None:
    incidents = gpd.GeoDataFrame(
        {
            "category": ["noise", "odour"],
            "source": ["hotline", "app"],
            "reported_at": ["2024-05-01T08:00:00+08:00", "2024-05-02T00:00:00Z"],
            "routed_grids": [["110101001", "110101"], None],
        },
        geometry=shapely.points([116.05, 116.15], [39.05, 39.05]),
        crs=STORE_CRS,
    ).rename_geometry("geom")
    lines = gpd.GeoDataFrame(
        {"kind": ["road"], "name": ["长安街"], "class": ["primary"]},
        geometry=[shapely.LineString([(116.0, 39.9), (116.4, 39.9)])],
        crs=STORE_CRS,
    ).rename_geometry("geom")
    pg_store.write({"incidents": incidents, "lines": lines})

    inc = pg_store.read("incidents")
    assert inc["reported_at"].tolist() == [
        pd.Timestamp("2024-05-01T00:00:00Z"),
        pd.Timestamp("2024-05-02T00:00:00Z"),
    ]
    assert inc["routed_grids"].iloc[0] == ["110101001", "110101"]
    assert inc["routed_grids"].iloc[1] is None
    stored = _sql(pg_store, "SELECT jsonb_typeof(routed_grids) FROM incidents ORDER BY id")
    assert stored == [("array",), (None,)]
    with pg_store._transaction() as tx:  # None clears to SQL NULL, not JSON null
        assert pg_store._update(tx, "incidents", {"routed_grids": None}, {"id": 1}) == 1
        assert pg_store._update(tx, "incidents", {"routed_grids": ["110101"]}, {"id": [2]}) == 1
    stored = _sql(pg_store, "SELECT routed_grids IS NULL FROM incidents ORDER BY id")
    assert stored == [(True,), (False,)]
    assert pg_store.read("incidents", {"id": 2})["routed_grids"].iloc[0] == ["110101"]

    back = pg_store.read("lines")
    assert back["class"].tolist() == ["primary"]
    assert back.geometry.iloc[0].geom_type == "MultiLineString"


def test_polygons_are_stored_as_multipolygons(pg_store: PostGISStore) -> None:
    plan_id = _draft_with_grids(pg_store)
    grids = pg_store.grids(plan_id, level=2)
    assert grids["code"].tolist() == ["110101001", "110101002"]
    assert all(isinstance(g, MultiPolygon) for g in grids.geometry)
    assert grids.geometry.iloc[0].equals(box(116.0, 39.0, 116.1, 39.1))


# ---------------------------------------------------------------------- unavailable server


def test_unreachable_server_is_store_unavailable() -> None:
    store = PostGISStore("postgresql://postgres@127.0.0.1:1/gridgis")
    with pytest.raises(StoreUnavailable, match="127.0.0.1:1") as info:
        store.init()
    assert "无法连接" in info.value.message_zh
    store.close()


class _FakeResult:
    def __init__(self, value: Any) -> None:
        self.value = value

    def first(self) -> Any:
        return self.value

    def scalar_one(self) -> Any:
        return self.value


class _NoPostGIS:
    """A connection to a server without the PostGIS package (cannot be made for real here)."""

    def execute(self, statement: Any, *args: Any) -> _FakeResult:
        text = str(statement)
        return _FakeResult("160004" if "server_version_num" in text else None)


def test_missing_postgis_names_the_package_to_install() -> None:
    store = PostGISStore("postgresql://postgres@db.example:5432/gridgis")
    with pytest.raises(StoreUnavailable) as info:
        store._ensure_postgis(_NoPostGIS())  # type: ignore[arg-type]
    assert "apt-get install postgresql-16-postgis-3" in info.value.message
    assert "apt-get install postgresql-16-postgis-3" in info.value.message_zh
    assert "未安装 PostGIS" in info.value.message_zh
    store.close()
