"""The repository API both backends implement.

Domain logic lives here once: validation before any write, plan life cycle
(draft -> published -> archived), the store-wide plan version, normalising what
is read so both backends return identical frames. A backend implements only the
small set of primitives at the bottom (``_transaction``, ``_insert``, ``_update``,
``_select``, ``_count``, meta values, ``init``), each a few lines of SQL.

Frames are the currency: attribute tables are pandas DataFrames, spatial tables
GeoDataFrames whose geometry column is ``geom`` in the store CRS (EPSG:4490).
Every table has an integer ``id``.
"""

from __future__ import annotations

import json
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from gis.errors import Conflict, InvalidInput, NotFound, Problem
from gis.model import DATA_TABLES, DEFAULT_LAYERS, STORE_CRS, TABLES, Plan, PlanStatus
from gis.validate import as_multi, validate_frame

PLAN_VERSION_KEY = "plan_version"
#: bumped by every write of a table the live lookups and maps read outside plans
DATA_VERSION_KEY = "data_version"
LIVE_TABLES = ("enterprises", "admin_units", "lines")

#: checks run inside publish before anything changes; each raises to refuse (issue: coverage gate),
#: or returns derived rows to store with the publish ({table: frame}; this plan's rows of those
#: tables are replaced in the publish transaction). ``plan.extra["acknowledge"]`` holds the
#: warning kinds the publisher acknowledged; a check may put a summary of what it let pass
#: in ``plan.extra["acknowledged_findings"]`` for the recorded event.
PublishCheck = Callable[["Store", Plan], "Mapping[str, pd.DataFrame] | None"]


@dataclass(frozen=True)
class NewPlan:
    """A draft plan created in the same transaction as the grids written into it."""

    layer_key: str
    name: str
    note: str | None = None


@dataclass
class WriteResult:
    """What a write stored: rows per table and the plan the plan-scoped rows went to."""

    inserted: dict[str, int] = field(default_factory=dict)
    ids: dict[str, list[int]] = field(default_factory=dict)
    plan_id: int | None = None


def utcnow() -> pd.Timestamp:
    return pd.Timestamp(datetime.now(UTC))


class Store(ABC):
    """A grid store. Use :func:`gis.store.open_store` to get one."""

    backend: str = ""

    def __init__(self, url: str) -> None:
        self.url = url
        self.publish_checks: list[PublishCheck] = []

    # ------------------------------------------------------------------ life cycle

    @abstractmethod
    def init(self) -> None:
        """Create or migrate the schema and seed the default layers; idempotent."""

    @abstractmethod
    def close(self) -> None: ...

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _seed_layers(self) -> None:
        """Insert the built-in sector layers that are missing (called by ``init``)."""
        have = set(self._select("layers")["key"]) if self._count("layers") else set()
        rows = [
            {"key": k, "name_zh": zh, "name_en": en, "max_level": lv}
            for k, zh, en, lv in DEFAULT_LAYERS
            if k not in have
        ]
        if rows:
            with self._transaction() as tx:
                self._insert(tx, "layers", pd.DataFrame(rows))

    # ------------------------------------------------------------------ reading

    def read(self, table: str, where: Mapping[str, Any] | None = None) -> pd.DataFrame:
        """Rows of ``table`` ordered by id, with equality filters (a list means IN).

        Spatial tables come back as GeoDataFrames with geometry ``geom`` in the store CRS.
        """
        spec = _spec(table)
        frame = self._select(table, dict(where or {}))
        return normalize_frame(spec.name, frame)

    def counts(self) -> dict[str, int]:
        return {name: self._count(name) for name in TABLES}

    def plan_version(self) -> int:
        """The store-wide plan version; every publish bumps it, every process sees it."""
        return int(self._get_meta(PLAN_VERSION_KEY) or 0)

    def versions(self) -> tuple[int, int]:
        """(plan version, data version): what a live snapshot was built from.

        The data version is bumped by every write of enterprises, admin units or lines
        (imports), so lookups and maps pick those up without waiting for a publish;
        incidents do not bump it (they arrive all day and no snapshot holds them).
        """
        return self.plan_version(), int(self._get_meta(DATA_VERSION_KEY) or 0)

    def wait_for_change(self, known: tuple[int, int], timeout: float) -> tuple[int, int]:
        """Block until :meth:`versions` differs from ``known`` or ``timeout`` s pass.

        Polls twice a second (the GeoPackage store: another process's write is
        visible in the file); PostGIS overrides this with LISTEN/NOTIFY.
        """
        deadline = time.monotonic() + timeout
        while True:
            current = self.versions()
            if current != tuple(known) or time.monotonic() >= deadline:
                return current
            time.sleep(min(0.5, max(0.0, deadline - time.monotonic())))

    def get_setting(self, key: str, default: Any = None) -> Any:
        """A JSON value kept in the store (e.g. the incident category -> layer table)."""
        raw = self._get_meta(f"setting:{key}")
        return default if raw is None else json.loads(raw)

    def set_setting(self, key: str, value: Any) -> None:
        with self._transaction() as tx:
            self._set_meta(tx, f"setting:{key}", json.dumps(value, ensure_ascii=False))

    def settings(self, prefix: str) -> dict[str, Any]:
        """Every setting whose key starts with ``prefix``, key -> value (job records)."""
        n = len("setting:")
        return {k[n:]: json.loads(v) for k, v in self._meta_items(f"setting:{prefix}").items()}

    def delete_settings(self, keys: list[str]) -> None:
        """Remove these settings (missing keys are ignored), in one transaction."""
        if keys:
            with self._transaction() as tx:
                self._delete_meta(tx, [f"setting:{k}" for k in keys])

    def layers(self) -> pd.DataFrame:
        return self.read("layers")

    def plans(self, layer_key: str | None = None, status: str | None = None) -> list[Plan]:
        where: dict[str, Any] = {}
        if layer_key:
            where["layer_key"] = layer_key
        if status:
            where["status"] = status
        return [_plan_from_row(r) for r in self.read("plans", where).to_dict("records")]

    def plan(self, plan_id: int) -> Plan:
        rows = self.read("plans", {"id": int(plan_id)})
        if rows.empty:
            raise NotFound(f"Plan {plan_id} does not exist", f"方案 {plan_id} 不存在")
        return _plan_from_row(rows.iloc[0].to_dict())

    def published_plan(self, layer_key: str) -> Plan | None:
        found = self.plans(layer_key, PlanStatus.PUBLISHED)
        return found[0] if found else None

    def grids(self, plan_id: int, level: int | None = None) -> gpd.GeoDataFrame:
        where: dict[str, Any] = {"plan_id": int(plan_id)}
        if level is not None:
            where["level"] = int(level)
        return self.read("grids", where)

    def people(self, plan_id: int, grid_code: str | None = None) -> pd.DataFrame:
        where: dict[str, Any] = {"plan_id": int(plan_id)}
        if grid_code is not None:
            where["grid_code"] = grid_code
        return self.read("people", where)

    # ------------------------------------------------------------------ writing

    def add_layer(self, key: str, name_zh: str, name_en: str = "", max_level: int = 3) -> None:
        if not key or not key.replace("_", "").isalnum() or not key.isascii():
            raise InvalidInput(
                f"Layer key {key!r} must be ASCII letters, digits and underscores",
                f"图层代码 {key!r} 只能由英文字母、数字和下划线组成",
            )
        if key in set(self.layers()["key"]):
            raise Conflict(f"Layer {key!r} already exists", f"图层 {key!r} 已存在")
        if max_level not in (1, 2, 3, 4):
            raise InvalidInput("max_level must be 1-4", "最大层级必须为 1-4")
        with self._transaction() as tx:
            self._insert(
                tx,
                "layers",
                pd.DataFrame([{"key": key, "name_zh": name_zh, "name_en": name_en, "max_level": max_level}]),
            )

    def create_plan(self, layer_key: str, name: str, note: str | None = None) -> Plan:
        with self._transaction() as tx:
            plan_id = self._create_plan(tx, NewPlan(layer_key, name, note))
        return self.plan(plan_id)

    def write(
        self, frames: Mapping[str, pd.DataFrame], *, plan: NewPlan | int | None = None
    ) -> WriteResult:
        """Validate and insert several tables in ONE transaction: all or nothing.

        Plan-scoped tables (grids, people) go to ``plan``: an existing draft plan id,
        or a NewPlan created in the same transaction. Raises InvalidInput listing
        every problem (table, row, field) and stores nothing when any is found.
        """
        unknown = [t for t in frames if t not in DATA_TABLES]
        if unknown:
            raise InvalidInput(
                f"Cannot import into table(s) {unknown}; importable tables: {list(DATA_TABLES)}",
                f"无法导入表 {unknown}；可导入的表：{list(DATA_TABLES)}",
            )
        scoped = [t for t in frames if TABLES[t].plan_scoped and len(frames[t])]
        if scoped and plan is None:
            raise InvalidInput(
                f"Table(s) {scoped} belong to a plan: name the plan (--plan ID, or --layer to create a draft)",
                f"表 {scoped} 属于某个网格方案：请指定方案（--plan 编号，或 --layer 新建草稿）",
            )
        if isinstance(plan, int):
            existing = self.plan(plan)
            if existing.status != PlanStatus.DRAFT and scoped:
                raise Conflict(
                    f"Plan {plan} is {existing.status}; only a draft plan can be changed",
                    f"方案 {plan} 状态为 {existing.status}，只能修改草稿方案",
                )
        if isinstance(plan, NewPlan):
            self._check_layer(plan.layer_key)

        prepared: dict[str, pd.DataFrame] = {}
        problems: list[Problem] = []
        for table in DATA_TABLES:
            if table not in frames:
                continue
            frame = frames[table].copy()
            if TABLES[table].plan_scoped:
                frame["plan_id"] = -1 if isinstance(plan, NewPlan) else plan
            frame = frame.reset_index(drop=True)
            if TABLES[table].geometry_type and "geom" in frame.columns:
                frame["geom"] = as_multi(frame["geom"].to_numpy())
            problems += validate_frame(table, frame)
            prepared[table] = frame
        if not problems:
            problems += self._check_references(prepared, plan)
        if problems:
            raise InvalidInput(
                f"Import refused: {len(problems)} problem(s); nothing was stored",
                f"导入被拒绝：发现 {len(problems)} 个问题，未写入任何数据",
                problems,
            )

        result = WriteResult()
        with self._transaction() as tx:
            plan_id = plan if isinstance(plan, int) else None
            if isinstance(plan, NewPlan):
                plan_id = self._create_plan(tx, plan)
            for table, frame in prepared.items():
                if TABLES[table].plan_scoped:
                    frame["plan_id"] = plan_id
                if table == "grids":
                    frame = frame.sort_values("level", kind="stable")
                result.ids[table] = self._insert(tx, table, frame)
                result.inserted[table] = len(frame)
            result.plan_id = plan_id
            if any(len(prepared.get(t, ())) for t in LIVE_TABLES):
                self._bump_data_version(tx)
        return result

    def _bump_data_version(self, tx: Any) -> None:
        version = int(self._get_meta(DATA_VERSION_KEY, tx) or 0) + 1
        self._set_meta(tx, DATA_VERSION_KEY, str(version))
        self._after_publish(tx, int(self._get_meta(PLAN_VERSION_KEY, tx) or 0))  # the payload: unchanged plan version

    def delete_plan(self, plan_id: int) -> None:
        """Delete a draft plan with its grids and people (published plans are kept)."""
        plan = self.plan(plan_id)
        if plan.status != PlanStatus.DRAFT:
            raise Conflict(
                f"Plan {plan_id} is {plan.status}; only drafts can be deleted",
                f"方案 {plan_id} 状态为 {plan.status}，只能删除草稿",
            )
        with self._transaction() as tx:
            self._delete(tx, "people", {"plan_id": plan_id})
            self._delete(tx, "grids", {"plan_id": plan_id})
            self._delete(tx, "plans", {"id": plan_id})

    def publish(self, plan_id: int, *, acknowledge: Iterable[str] | None = None) -> Plan:
        """Make a draft the published plan of its layer, in one transaction.

        The predecessor is archived and the store-wide plan version bumped; the
        registered ``publish_checks`` run first and may refuse. ``acknowledge``
        names warning kinds the publisher accepts; when given, the acknowledgement
        is recorded in ``plan_events`` in the same transaction.
        """
        plan = self.plan(plan_id)
        if plan.status != PlanStatus.DRAFT:
            raise Conflict(
                f"Plan {plan_id} is {plan.status}; only a draft can be published",
                f"方案 {plan_id} 状态为 {plan.status}，只有草稿可以发布",
            )
        if self._count_where("grids", {"plan_id": plan_id}) == 0:
            raise Conflict(
                f"Plan {plan_id} has no grids; nothing to publish",
                f"方案 {plan_id} 没有网格，无法发布",
            )
        acknowledged = sorted({str(k) for k in acknowledge or ()})
        plan.extra["acknowledge"] = acknowledged
        derived: dict[str, pd.DataFrame] = {}
        for check in self.publish_checks:
            derived.update(check(self, plan) or {})
        now = utcnow()
        with self._transaction() as tx:
            self._update(
                tx,
                "plans",
                {"status": PlanStatus.ARCHIVED.value, "archived_at": now},
                {"layer_key": plan.layer_key, "status": PlanStatus.PUBLISHED.value},
            )
            changed = self._update(
                tx,
                "plans",
                {"status": PlanStatus.PUBLISHED.value, "published_at": now},
                {"id": plan_id, "status": PlanStatus.DRAFT.value},
            )
            if changed != 1:  # another process published it since we looked
                raise Conflict(
                    f"Plan {plan_id} was published by someone else meanwhile",
                    f"方案 {plan_id} 已被他人发布",
                )
            for table, rows in derived.items():
                self._delete(tx, table, {"plan_id": plan_id})
                self._insert(tx, table, rows.assign(plan_id=plan_id))
            if acknowledged:
                detail = {"kinds": acknowledged, "findings": plan.extra.get("acknowledged_findings", {})}
                event = {"plan_id": plan_id, "kind": "acknowledged_warnings", "at": now, "detail": detail}
                self._insert(tx, "plan_events", pd.DataFrame([event]))
            version = int(self._get_meta(PLAN_VERSION_KEY, tx) or 0) + 1
            self._set_meta(tx, PLAN_VERSION_KEY, str(version))
            self._after_publish(tx, version)
        return self.plan(plan_id)

    # ------------------------------------------------------------------ helpers

    def _check_layer(self, layer_key: str) -> None:
        if layer_key not in set(self.layers()["key"]):
            raise NotFound(
                f"Layer {layer_key!r} does not exist; add it first (gridgis layer add)",
                f"图层 {layer_key!r} 不存在，请先添加（gridgis layer add）",
            )

    def _create_plan(self, tx: Any, new: NewPlan) -> int:
        self._check_layer(new.layer_key)
        versions = self._select("plans", {"layer_key": new.layer_key}, tx=tx)
        version = int(versions["version"].max()) + 1 if len(versions) else 1
        row = {
            "layer_key": new.layer_key,
            "name": new.name,
            "status": PlanStatus.DRAFT.value,
            "version": version,
            "created_at": utcnow(),
            "note": new.note,
        }
        return self._insert(tx, "plans", pd.DataFrame([row]))[0]

    def _check_references(self, frames: dict[str, pd.DataFrame], plan: NewPlan | int | None) -> list[Problem]:
        """Uniqueness against stored rows and references between tables, row by row."""
        problems: list[Problem] = []
        for table, frame in frames.items():
            spec = TABLES[table]
            for cols in spec.unique:
                key_cols = [c for c in cols if c != "plan_id"]
                if spec.plan_scoped and not isinstance(plan, int):
                    continue  # a new plan has no stored rows
                where = {"plan_id": plan} if spec.plan_scoped else {}
                stored = self._select(table, where, columns=key_cols)
                if stored.empty:
                    continue
                have = set(map(tuple, stored[key_cols].astype(str).to_numpy()))
                for i, key in enumerate(map(tuple, frame[key_cols].astype(str).to_numpy())):
                    if key in have:
                        problems.append(
                            Problem(
                                f"{'/'.join(key_cols)} {'/'.join(key)} already exists in the store",
                                f"{'/'.join(key_cols)} {'/'.join(key)} 在库中已存在",
                                table,
                                i,
                                key_cols[-1],
                            )
                        )
        stored_codes: set[str] = set()
        if isinstance(plan, int):
            stored_codes = set(self._select("grids", {"plan_id": plan}, columns=["code"])["code"])
        new_codes = set(frames["grids"]["code"].astype(str)) if "grids" in frames else set()
        codes = stored_codes | new_codes
        if "grids" in frames:
            for i, parent in enumerate(frames["grids"].get("parent_code", pd.Series(dtype=object))):
                if _present(parent) and str(parent) not in codes:
                    problems.append(
                        Problem(
                            f"parent grid {parent} is not in this plan",
                            f"上级网格 {parent} 不在本方案中",
                            "grids",
                            i,
                            "parent_code",
                        )
                    )
        if "people" in frames:
            for i, code in enumerate(frames["people"]["grid_code"]):
                if str(code) not in codes:
                    problems.append(
                        Problem(
                            f"grid {code} is not in this plan",
                            f"网格 {code} 不在本方案中",
                            "people",
                            i,
                            "grid_code",
                        )
                    )
        if "admin_units" in frames:
            stored_admin = set(self._select("admin_units", {}, columns=["code"])["code"])
            admin_codes = stored_admin | set(frames["admin_units"]["code"].astype(str))
            for i, parent in enumerate(frames["admin_units"].get("parent_code", pd.Series(dtype=object))):
                if _present(parent) and str(parent) not in admin_codes:
                    problems.append(
                        Problem(
                            f"parent unit {parent} does not exist",
                            f"上级行政区划 {parent} 不存在",
                            "admin_units",
                            i,
                            "parent_code",
                        )
                    )
        return problems

    def _count_where(self, table: str, where: dict[str, Any]) -> int:
        return len(self._select(table, where, columns=["id"]))

    # ------------------------------------------------------------------ backend primitives

    @abstractmethod
    def _transaction(self) -> AbstractContextManager[Any]:
        """A context manager around one transaction; yields a handle for the primitives.

        Commits on normal exit, rolls back on any exception (and re-raises it).
        """

    @abstractmethod
    def _insert(self, tx: Any, table: str, frame: pd.DataFrame) -> list[int]:
        """Insert rows (spec columns present in ``frame``; ``geom`` as shapely) -> new ids."""

    @abstractmethod
    def _update(self, tx: Any, table: str, values: dict[str, Any], where: dict[str, Any]) -> int:
        """UPDATE ... SET values WHERE equality filters; returns rows changed."""

    @abstractmethod
    def _delete(self, tx: Any, table: str, where: dict[str, Any]) -> int: ...

    @abstractmethod
    def _select(
        self,
        table: str,
        where: dict[str, Any] | None = None,
        columns: list[str] | None = None,
        tx: Any = None,
    ) -> pd.DataFrame:
        """Rows ordered by id: ``id`` + columns (all spec columns by default) + ``geom``
        (shapely, store CRS) for spatial tables when columns is None. A list value in
        ``where`` means IN."""

    @abstractmethod
    def _count(self, table: str) -> int: ...

    @abstractmethod
    def _get_meta(self, key: str, tx: Any = None) -> str | None:
        """A meta value; inside a transaction the value is locked until it ends
        (PostGIS: row lock; GeoPackage: BEGIN IMMEDIATE already serialises writers)."""

    @abstractmethod
    def _set_meta(self, tx: Any, key: str, value: str) -> None: ...

    @abstractmethod
    def _meta_items(self, prefix: str) -> dict[str, str]:
        """Meta keys starting with ``prefix`` (taken literally) and their values."""

    @abstractmethod
    def _delete_meta(self, tx: Any, keys: list[str]) -> None: ...

    def _after_publish(self, tx: Any, version: int) -> None:
        """Tell other processes about a new plan version (PostGIS: NOTIFY).

        The GeoPackage store needs nothing: readers poll the version in the file.
        """
        return None


# ---------------------------------------------------------------------- normalising


def _spec(table: str):
    if table not in TABLES:
        raise NotFound(f"No table {table!r}; tables: {list(TABLES)}", f"没有表 {table!r}")
    return TABLES[table]


def _present(value: Any) -> bool:
    if value is None:
        return False
    if isinstance(value, float) and np.isnan(value):
        return False
    return not (isinstance(value, str) and value.strip() == "")


def to_timestamp(values: pd.Series) -> pd.Series:
    return pd.to_datetime(values, utc=True, format="ISO8601").dt.as_unit("us")


def normalize_frame(table: str, frame: pd.DataFrame) -> pd.DataFrame:
    """Give both backends' rows the same dtypes: Int64, str, UTC timestamps, JSON values."""
    spec = TABLES[table]
    out = frame.copy()
    out["id"] = out["id"].astype("int64")
    for col in spec.columns:
        if col.name not in out:
            continue
        s = out[col.name]
        if col.kind == "int":
            out[col.name] = pd.array(pd.to_numeric(s), dtype="Int64")
        elif col.kind == "float":
            out[col.name] = pd.to_numeric(s).astype("float64")
        elif col.kind == "timestamp":
            out[col.name] = to_timestamp(s)
        elif col.kind == "json":
            out[col.name] = s.map(lambda v: json.loads(v) if isinstance(v, str) else v)
        else:
            out[col.name] = s.astype(object).where(s.notna(), None)
    if spec.geometry_type and "geom" in out:
        return gpd.GeoDataFrame(out, geometry="geom", crs=STORE_CRS)
    return pd.DataFrame(out)


def _plan_from_row(row: dict) -> Plan:
    def ts(v: Any) -> str | None:
        return None if v is None or pd.isna(v) else pd.Timestamp(v).isoformat()

    return Plan(
        id=int(row["id"]),
        layer_key=row["layer_key"],
        name=row["name"],
        status=PlanStatus(row["status"]),
        version=int(row["version"]),
        created_at=ts(row["created_at"]) or "",
        published_at=ts(row.get("published_at")),
        archived_at=ts(row.get("archived_at")),
        note=row.get("note"),
    )


def iter_chunks(frame: pd.DataFrame, size: int) -> Iterator[pd.DataFrame]:
    for start in range(0, len(frame), size):
        yield frame.iloc[start : start + size]
