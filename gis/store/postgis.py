"""PostGIS backend: the shared server store for the multi-user service.

Only the backend primitives of :class:`gis.store.base.Store` live here; domain
rules stay in the base class so both backends behave alike. The schema is owned
by the Alembic revisions in ``gis/store/migrations`` (``init`` upgrades to head);
the SQLAlchemy tables below mirror ``gis.model.TABLES`` for building statements
only and are never used to create anything.

Bulk inserts go straight to psycopg ``executemany`` with ``RETURNING id`` (psycopg
pipelines it into one round trip per batch) and geometry as WKB, because per-row
ORM inserts and WKT parsing are an order of magnitude slower for 10k features.
"""

from __future__ import annotations

import asyncio
import json
import math
import re
import threading
import weakref
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, NamedTuple

import geopandas as gpd
import numpy as np
import pandas as pd
import psycopg
import psycopg_pool
import shapely
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from geoalchemy2 import Geometry
from psycopg import pq, sql
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.engine import Connection, Engine

from gis.errors import Conflict, InvalidInput, NotFound, StoreUnavailable
from gis.model import STORE_CRS, STORE_SRID, TABLES, Column, TableSpec
from gis.store.base import Store

#: channel of the NOTIFY sent when a plan is published or live data is written
#: (payload: the plan version); listeners re-read both versions
NOTIFY_CHANNEL = "gridgis_plan_version"

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"

#: advisory lock held while migrating, so two processes starting together don't race
_INIT_LOCK_KEY = 0x67726964  # "grid"

_MULTI_TYPES = {"MULTIPOLYGON", "MULTILINESTRING"}

# ---------------------------------------------------------------------- statement tables

_SA_TYPES: dict[str, Any] = {
    "text": sa.Text,
    "int": sa.Integer,
    "float": sa.Double,
    "timestamp": lambda: sa.DateTime(timezone=True),
    "json": lambda: JSONB(none_as_null=True),  # None is SQL NULL, not JSON 'null'
}

METADATA = sa.MetaData()


def _sa_table(spec: TableSpec) -> sa.Table:
    cols: list[sa.Column] = [sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True)]
    cols += [sa.Column(c.name, _SA_TYPES[c.kind](), nullable=not c.required) for c in spec.columns]
    if spec.geometry_type:
        cols.append(
            sa.Column(
                "geom",
                Geometry(spec.geometry_type, srid=STORE_SRID, spatial_index=False),
                nullable=False,
            )
        )
    return sa.Table(spec.name, METADATA, *cols)


SA_TABLES: dict[str, sa.Table] = {name: _sa_table(spec) for name, spec in TABLES.items()}

STORE_META = sa.Table(
    "store_meta",
    METADATA,
    sa.Column("key", sa.Text, primary_key=True),
    sa.Column("value", sa.Text),
)


# ---------------------------------------------------------------------- value conversion


def _missing(v: Any) -> bool:
    """None, NaN, NaT or pd.NA, without calling pd.isna on lists (json values)."""
    if v is None or v is pd.NA or v is pd.NaT:
        return True
    if isinstance(v, float | np.floating):
        return math.isnan(v)
    return False


def _json_default(v: Any) -> Any:
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, np.ndarray):
        return v.tolist()
    if isinstance(v, datetime):
        return v.isoformat()
    raise TypeError(f"{type(v).__name__} is not JSON serialisable")


def _to_int(v: Any) -> int:
    if isinstance(v, int | np.integer):
        return int(v)
    return int(float(v))


def _to_datetime(v: Any) -> datetime:
    ts = pd.Timestamp(v)
    if ts.tzinfo is None:  # naive input is taken as UTC, as the GeoPackage backend does
        ts = ts.tz_localize("UTC")
    return ts.to_pydatetime()


def _to_json_text(v: Any) -> str:
    """JSON text for a ``%s::jsonb`` parameter; a str is taken to be JSON already."""
    return v if isinstance(v, str) else json.dumps(v, default=_json_default, ensure_ascii=False)


_CONVERT = {
    "text": str,
    "int": _to_int,
    "float": float,
    "timestamp": _to_datetime,
    "json": _to_json_text,
}


def _py(col: Column | None, v: Any) -> Any:
    """A plain Python value psycopg can bind (numpy scalars and pandas NA removed)."""
    if _missing(v):
        return None
    if col is None:  # id
        return _to_int(v)
    if col.kind == "json":  # through SQLAlchemy's JSONB type, which serialises itself
        return json.loads(v) if isinstance(v, str) else v
    return _CONVERT[col.kind](v)


def _wkb(geoms: Any) -> list[bytes | None]:
    arr = np.array(geoms, dtype=object)  # a copy: the frame may hand out a read-only view
    if not len(arr):
        return []
    missing = np.array([_missing(g) for g in arr], dtype=bool)
    arr[missing] = None
    return list(shapely.to_wkb(arr, hex=False))


def _sa_url(url: str) -> str:
    """The SQLAlchemy URL for psycopg 3, whatever PostgreSQL scheme the user wrote."""
    for prefix in ("postgresql+psycopg://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    raise InvalidInput(
        f"Not a PostgreSQL URL: {url!r} (expected postgresql://user@host:port/dbname)",
        f"不是 PostgreSQL 连接地址：{url!r}（应为 postgresql://用户@主机:端口/数据库）",
    )


# ---------------------------------------------------------------------- error translation


def _integrity_conflict(exc: BaseException) -> Conflict:
    """A bilingual Conflict naming the constraint the database refused the change on."""
    orig = getattr(exc, "orig", exc)
    diag = getattr(orig, "diag", None)
    name = getattr(diag, "constraint_name", None) or "?"
    table = getattr(diag, "table_name", None)
    detail = getattr(diag, "message_detail", None) or getattr(diag, "message_primary", None) or ""
    state = getattr(orig, "sqlstate", None)
    what_en, what_zh = {
        "23505": ("duplicate value", "值重复"),
        "23503": ("reference to a missing row", "引用的记录不存在"),
        "23514": ("value not allowed", "取值不允许"),
        "23502": ("required value missing", "缺少必填值"),
    }.get(state or "", ("integrity rule broken", "违反完整性约束"))
    where = f" on table {table}" if table else ""
    where_zh = f"（表 {table}）" if table else ""
    tail = f": {detail}" if detail else ""
    tail_zh = f"：{detail}" if detail else ""
    return Conflict(
        f"The store refused the change{where}: {what_en}, constraint {name}{tail}",
        f"数据库拒绝了修改{where_zh}：{what_zh}，约束 {name}{tail_zh}",
    )


def _data_error(exc: BaseException) -> InvalidInput:
    orig = getattr(exc, "orig", exc)
    msg = str(orig).strip().splitlines()[0] if str(orig).strip() else type(orig).__name__
    return InvalidInput(
        f"The store refused a value: {msg}",
        f"数据库拒绝了某个值：{msg}",
    )


# ---------------------------------------------------------------------- the store


class PostGISStore(Store):
    """A store in a PostgreSQL database with PostGIS, shared by many processes."""

    backend = "postgis"

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self._sa_url = sa.make_url(_sa_url(url))
        self.engine: Engine = sa.create_engine(
            self._sa_url,
            pool_pre_ping=True,
            connect_args={"connect_timeout": 10, "application_name": "gridgis"},
        )

    @property
    def server_label(self) -> str:
        """The server and database, for messages (never the password)."""
        u = self._sa_url
        return f"{u.host or 'localhost'}:{u.port or 5432}/{u.database or ''}"

    # ------------------------------------------------------------------ life cycle

    def init(self) -> None:
        """Create PostGIS, upgrade the schema to the newest revision, seed the layers.

        Idempotent, and safe when several workers start at once: a session-level
        advisory lock covers both the migration and the seeding (which the base
        class runs in its own transaction).
        """
        with self._connect() as lock:
            lock.execute(sa.text("SELECT pg_advisory_lock(:k)"), {"k": _INIT_LOCK_KEY})
            try:
                with self._transaction() as conn:
                    self._ensure_postgis(conn)
                    cfg = Config()
                    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
                    cfg.attributes["connection"] = conn
                    command.upgrade(cfg, "head")
                self._seed_layers()
            finally:
                lock.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": _INIT_LOCK_KEY})

    def _ensure_postgis(self, conn: Connection) -> None:
        """CREATE EXTENSION postgis, or say exactly what to install when it is missing."""
        if conn.execute(sa.text("SELECT 1 FROM pg_extension WHERE extname = 'postgis'")).first():
            return
        available = conn.execute(
            sa.text("SELECT 1 FROM pg_available_extensions WHERE name = 'postgis'")
        ).first()
        if not available:
            major = int(conn.execute(sa.text("SHOW server_version_num")).scalar_one()) // 10000
            apt = f"apt-get install postgresql-{major}-postgis-3"
            raise StoreUnavailable(
                f"The PostgreSQL server at {self.server_label} (PostgreSQL {major}) does not have the "
                f"PostGIS extension installed. Install it on the database server, e.g. "
                f"`sudo {apt}` (Debian/Ubuntu), then retry.",
                f"PostgreSQL 服务器 {self.server_label}（PostgreSQL {major}）未安装 PostGIS 扩展。"
                f"请在数据库服务器上安装，例如 `sudo {apt}`（Debian/Ubuntu），然后重试。",
            )
        try:
            with conn.begin_nested():
                conn.execute(sa.text("CREATE EXTENSION IF NOT EXISTS postgis"))
        except sa.exc.DBAPIError as e:
            raise StoreUnavailable(
                f"Could not enable PostGIS in database {self.server_label}: {e.orig}. "
                "Ask a superuser to run `CREATE EXTENSION postgis;` in that database.",
                f"无法在数据库 {self.server_label} 中启用 PostGIS：{e.orig}。"
                "请让超级用户在该数据库中执行 `CREATE EXTENSION postgis;`。",
            ) from e

    def close(self) -> None:
        listener = getattr(self, "_listener", None)
        if listener is not None:
            listener.close()
            self._listener = None
        self._close_tile_pools()
        self.engine.dispose()

    def wait_for_change(self, known: tuple[int, int], timeout: float) -> tuple[int, int]:
        """LISTEN for the NOTIFY of a publish or a data write instead of polling.

        The listening connection stays subscribed between calls, so a NOTIFY sent
        while nobody waits is queued and seen by the next call.
        """
        try:
            if getattr(self, "_listener", None) is None:
                libpq = self._sa_url.set(drivername="postgresql").render_as_string(hide_password=False)
                self._listener = psycopg.connect(libpq, autocommit=True, connect_timeout=10)
                self._listener.execute(sql.SQL("LISTEN {}").format(sql.Identifier(NOTIFY_CHANNEL)))
            current = self.versions()
            if current != tuple(known):
                return current
            for _ in self._listener.notifies(timeout=timeout, stop_after=1):
                break
        except psycopg.Error:
            if getattr(self, "_listener", None) is not None:
                self._listener.close()
            self._listener = None
            return super().wait_for_change(known, timeout)
        return self.versions()

    # ------------------------------------------------------------------ connections

    def _connect(self) -> Connection:
        try:
            return self.engine.connect()
        except sa.exc.OperationalError as e:
            reason = str(e.orig).strip().splitlines()[-1] if e.orig else str(e)
            raise StoreUnavailable(
                f"Cannot reach the PostgreSQL server at {self.server_label}: {reason}. "
                "Check that it is running and the URL (host, port, user, database) is right.",
                f"无法连接 PostgreSQL 服务器 {self.server_label}：{reason}。"
                "请确认服务器正在运行，且连接地址（主机、端口、用户、数据库）正确。",
            ) from e

    @contextmanager
    def _read(self, tx: Connection | None) -> Iterator[Connection]:
        """The caller's transaction, or a short-lived connection for a read outside one."""
        if tx is not None:
            yield tx
            return
        with self._connect() as conn:
            yield conn

    @contextmanager
    def _transaction(self) -> Iterator[Connection]:
        """One database transaction; constraint violations (also deferred ones, raised
        at COMMIT) become Conflict, bad values InvalidInput."""
        conn = self._connect()
        try:
            with conn, conn.begin():
                yield conn
        except (sa.exc.IntegrityError, psycopg.errors.IntegrityError) as e:
            raise _integrity_conflict(e) from e
        except (sa.exc.DataError, psycopg.errors.DataError) as e:
            raise _data_error(e) from e

    # ------------------------------------------------------------------ primitives

    def _table(self, table: str) -> sa.Table:
        if table not in SA_TABLES:
            raise NotFound(f"No table {table!r}; tables: {list(TABLES)}", f"没有表 {table!r}")
        return SA_TABLES[table]

    def _conditions(self, table: str, where: Mapping[str, Any] | None) -> list[Any]:
        t, spec = self._table(table), TABLES[table]
        conds: list[Any] = []
        for name, value in (where or {}).items():
            if name not in t.c:
                raise InvalidInput(
                    f"Table {table} has no column {name!r}", f"表 {table} 没有字段 {name!r}"
                )
            col = None if name == "id" else spec.column(name)
            if isinstance(
                value, list | tuple | set | frozenset | np.ndarray | pd.Series | pd.Index
            ):
                conds.append(t.c[name].in_([_py(col, v) for v in value]))
            elif _missing(value):
                conds.append(t.c[name].is_(None))
            else:
                conds.append(t.c[name] == _py(col, value))
        return conds

    def _insert(self, tx: Connection, table: str, frame: pd.DataFrame) -> list[int]:
        """executemany ... RETURNING id: one pipelined batch, ids in input order."""
        spec = TABLES[table]
        if frame.empty:
            return []
        names: list[str] = []
        data: list[list[Any]] = []
        placeholders: list[sql.Composable] = []
        for c in spec.columns:
            if c.name not in frame.columns:
                continue
            conv = _CONVERT[c.kind]
            names.append(c.name)
            data.append([None if _missing(v) else conv(v) for v in frame[c.name].astype(object)])
            placeholders.append(sql.SQL("%s::jsonb" if c.kind == "json" else "%s"))
        if spec.geometry_type and "geom" in frame.columns:
            fn = "ST_GeomFromWKB(%s, {srid})"
            if spec.geometry_type in _MULTI_TYPES:  # Polygon -> MultiPolygon, as the column wants
                fn = f"ST_Multi({fn})"
            names.append("geom")
            data.append(_wkb(frame["geom"].to_numpy()))
            placeholders.append(sql.SQL(fn).format(srid=sql.Literal(STORE_SRID)))
        if not names:
            raise InvalidInput(
                f"No column of table {table} in the rows to insert",
                f"要写入的数据中没有表 {table} 的任何字段",
            )
        query = sql.SQL("INSERT INTO {t} ({cols}) VALUES ({vals}) RETURNING id").format(
            t=sql.Identifier(table),
            cols=sql.SQL(", ").join(map(sql.Identifier, names)),
            vals=sql.SQL(", ").join(placeholders),
        )
        rows = list(zip(*data, strict=True))
        raw = tx.connection.driver_connection
        assert isinstance(raw, psycopg.Connection)
        ids: list[int] = []
        with raw.cursor() as cur:
            cur.executemany(query, rows, returning=True)
            while True:
                row = cur.fetchone()
                if row is not None:
                    ids.append(int(row[0]))
                if not cur.nextset():
                    break
        return ids

    def _values(self, table: str, values: dict[str, Any]) -> dict[str, Any]:
        spec = TABLES[table]
        out: dict[str, Any] = {}
        for name, v in values.items():
            if name == "geom" and spec.geometry_type:
                wkb = _wkb([v])[0]
                expr = sa.func.ST_GeomFromWKB(sa.literal(wkb, sa.LargeBinary), STORE_SRID)
                out[name] = sa.func.ST_Multi(expr) if spec.geometry_type in _MULTI_TYPES else expr
            elif name == "id":
                out[name] = _py(None, v)
            else:
                out[name] = _py(spec.column(name), v)
        return out

    def _update(
        self, tx: Connection, table: str, values: dict[str, Any], where: dict[str, Any]
    ) -> int:
        t = self._table(table)
        stmt = (
            sa.update(t).where(*self._conditions(table, where)).values(self._values(table, values))
        )
        return tx.execute(stmt).rowcount

    def _delete(self, tx: Connection, table: str, where: dict[str, Any]) -> int:
        t = self._table(table)
        return tx.execute(sa.delete(t).where(*self._conditions(table, where))).rowcount

    def _select(
        self,
        table: str,
        where: dict[str, Any] | None = None,
        columns: list[str] | None = None,
        tx: Any = None,
    ) -> pd.DataFrame:
        t, spec = self._table(table), TABLES[table]
        wanted = (
            spec.column_names
            if columns is None
            else [c for c in columns if c not in ("id", "geom")]
        )
        with_geom = bool(spec.geometry_type) and (columns is None or "geom" in columns)
        cols: list[Any] = [t.c.id, *(t.c[c] for c in wanted)]
        if with_geom:
            cols.append(sa.type_coerce(sa.func.ST_AsBinary(t.c.geom), sa.LargeBinary).label("geom"))
        stmt = sa.select(*cols).where(*self._conditions(table, where)).order_by(t.c.id)
        with self._read(tx) as conn:
            result = conn.execute(stmt)
            keys = list(result.keys())
            rows = [tuple(r) for r in result]
        frame = pd.DataFrame.from_records(rows, columns=keys)
        if not with_geom:
            return frame
        blobs = np.asarray(frame["geom"].to_numpy(), dtype=object)
        frame["geom"] = shapely.from_wkb(blobs) if len(blobs) else np.array([], dtype=object)
        return gpd.GeoDataFrame(frame, geometry="geom", crs=STORE_CRS)

    def _count(self, table: str) -> int:
        t = self._table(table)
        with self._read(None) as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(t)).scalar_one())

    def _get_meta(self, key: str, tx: Any = None) -> str | None:
        """A meta value. Inside a transaction the key is locked first, so a
        read-modify-write (the plan version bump) is serialised across processes."""
        with self._read(tx) as conn:
            if tx is not None:
                conn.execute(
                    sa.text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 0))"),
                    {"k": f"gridgis.meta.{key}"},
                )
            return conn.execute(
                sa.select(STORE_META.c.value).where(STORE_META.c.key == key)
            ).scalar_one_or_none()

    def _meta_items(self, prefix: str) -> dict[str, str]:
        with self._read(None) as conn:
            rows = conn.execute(
                sa.select(STORE_META.c.key, STORE_META.c.value).where(
                    sa.func.left(STORE_META.c.key, len(prefix)) == prefix
                )
            ).all()
        return {k: v for k, v in rows}

    def _delete_meta(self, tx: Connection, keys: list[str]) -> None:
        tx.execute(sa.delete(STORE_META).where(STORE_META.c.key.in_(keys)))

    def _set_meta(self, tx: Connection, key: str, value: str) -> None:
        stmt = pg_insert(STORE_META).values(key=key, value=value)
        tx.execute(stmt.on_conflict_do_update(index_elements=["key"], set_={"value": value}))

    def _after_publish(self, tx: Connection, version: int) -> None:
        """NOTIFY listeners; PostgreSQL delivers it only if and when the publish commits."""
        tx.execute(sa.text("SELECT pg_notify(:ch, :v)"), {"ch": NOTIFY_CHANNEL, "v": str(version)})

    # ------------------------------------------------------------------ vector tiles
    #
    # Tiles are the hot path of the maps: each one is a single prepared statement on a
    # connection of the tiles' own psycopg pool (autocommit: one round trip, no BEGIN or
    # COMMIT; no pre-ping: a connection found broken is dropped and the tile retried on
    # a new one). The HTTP route awaits an asyncio pool it opens for the life of the app
    # (:meth:`open_async_tiles`), so an uncached tile costs no hop to the thread pool.

    def mvt_tile(self, kind: str, name: str, z: int, x: int, y: int, **options: Any) -> bytes:
        """One Mapbox Vector Tile made by ``ST_AsMVT`` (options: see :func:`mvt_statement`)."""
        query, params = mvt_statement(kind, name, z, x, y, **options)
        pool = self._tile_pool()
        for attempt in (1, 2):
            try:
                with pool.connection(timeout=_TILE_POOL_TIMEOUT) as conn:
                    row = conn.execute(query, params, binary=True).fetchone()
                return _mvt_bytes(row)
            except psycopg.OperationalError as e:  # a connection the server dropped
                if attempt == 2 or not _connection_lost(e):
                    raise self._tiles_unavailable(e) from e
                pool.check()
            except psycopg_pool.PoolTimeout as e:
                raise self._tiles_unavailable(e) from e
        raise AssertionError("unreachable")

    async def open_async_tiles(self) -> None:
        """Open the asyncio tile pool of the running event loop (for the app's lifetime)."""
        loop = asyncio.get_running_loop()
        if loop in self._async_tile_pools():
            return
        pool = psycopg_pool.AsyncConnectionPool(
            self._libpq_url(), kwargs=_TILE_CONN, min_size=1, max_size=_TILE_POOL_MAX,
            name="gridgis-tiles-async", open=False,
        )  # fmt: skip
        await pool.open(wait=False)
        self._async_tile_pools()[loop] = pool

    async def close_async_tiles(self) -> None:
        pool = self._async_tile_pools().pop(asyncio.get_running_loop(), None)
        if pool is not None:
            await pool.close()

    def async_tiles_open(self) -> bool:
        """True when :meth:`mvt_tile_async` can run in the current event loop."""
        try:
            return asyncio.get_running_loop() in self._async_tile_pools()
        except RuntimeError:
            return False

    async def mvt_tile_async(
        self, kind: str, name: str, z: int, x: int, y: int, **options: Any
    ) -> bytes:
        """:meth:`mvt_tile` on the event loop's pool (opened by :meth:`open_async_tiles`)."""
        _, params = mvt_statement(kind, name, z, x, y, **options)
        pool = self._async_tile_pools()[asyncio.get_running_loop()]
        for attempt in (1, 2):
            try:
                conn = await pool.getconn(timeout=_TILE_POOL_TIMEOUT)
                try:  # (getconn/putconn: the context manager's bookkeeping costs ~10 us a tile)
                    return await _run_prepared(conn, kind, params)
                finally:
                    await pool.putconn(conn)
            except psycopg.OperationalError as e:
                if attempt == 2 or not _connection_lost(e):
                    raise self._tiles_unavailable(e) from e
                await pool.check()
            except psycopg_pool.PoolTimeout as e:
                raise self._tiles_unavailable(e) from e
        raise AssertionError("unreachable")

    def _libpq_url(self) -> str:
        return self._sa_url.set(drivername="postgresql").render_as_string(hide_password=False)

    def _tile_pool(self) -> psycopg_pool.ConnectionPool:
        pool = getattr(self, "_tiles_sync", None)
        if pool is None:
            with _TILE_POOL_LOCK:
                pool = getattr(self, "_tiles_sync", None)
                if pool is None:
                    pool = psycopg_pool.ConnectionPool(
                        self._libpq_url(), kwargs=_TILE_CONN, min_size=1, max_size=_TILE_POOL_MAX,
                        name="gridgis-tiles", open=True,
                    )  # fmt: skip
                    self._tiles_sync = pool
        return pool

    def _async_tile_pools(self) -> dict[Any, psycopg_pool.AsyncConnectionPool]:
        pools = getattr(self, "_tiles_async", None)
        if pools is None:
            pools = self._tiles_async = {}
        return pools

    def _close_tile_pools(self) -> None:
        pool, self._tiles_sync = getattr(self, "_tiles_sync", None), None
        if pool is not None:
            pool.close()
        # an asyncio pool is closed by its app (close_async_tiles); one left open by an app
        # that did not shut down is dropped with its loop

    def _tiles_unavailable(self, e: BaseException) -> StoreUnavailable:
        reason = str(e).strip().splitlines()[-1] if str(e).strip() else type(e).__name__
        return StoreUnavailable(
            f"Cannot make the tile: the PostgreSQL server at {self.server_label} did not answer ({reason}).",
            f"无法生成瓦片：PostgreSQL 服务器 {self.server_label} 未响应（{reason}）。",
        )


def mvt_statement(
    kind: str,
    name: str,
    z: int,
    x: int,
    y: int,
    *,
    plan_id: int | None = None,
    zoom_band: int | None = None,
    max_level: int | None = None,
    slack: float = 0.0,
    extent: int = 4096,
    buffer: int = 64,
) -> tuple[str, dict[str, Any]]:
    """The ``ST_AsMVT`` statement of one tile and its parameters.

    ``kind`` is ``grids`` (the plan's grids up to ``max_level``, each from its
    ``grid_simplified`` row of ``zoom_band`` when there is one, else stored),
    ``enterprises`` or ``incidents``. Features are chosen by bounding box
    against the tile plus its buffer, as the embedded store's encoder does.
    """
    query = _MVT_QUERY.get(kind)
    if query is None:
        raise InvalidInput(f"No tiles of {kind!r}", f"没有 {kind!r} 的瓦片")
    params = {
        "z": z, "x": x, "y": y, "name": name, "extent": extent, "buffer": buffer,
        "margin": (buffer + 1) / extent, "plan": plan_id, "band": -1 if zoom_band is None else zoom_band,
        "max_level": max_level if max_level is not None else 99, "slack": slack,
    }  # fmt: skip
    return query, params


class _Statement(NamedTuple):
    """A tile statement in libpq's form: ``$n`` placeholders, parameter names and types."""

    name: bytes
    query: bytes
    params: tuple[str, ...]
    types: tuple[int, ...]

    @classmethod
    def of(cls, kind: str, query: str) -> _Statement:
        names: list[str] = []

        def placeholder(m: re.Match) -> str:
            if m.group(1) not in names:
                names.append(m.group(1))
            return f"${names.index(m.group(1)) + 1}"

        text = re.sub(r"%\((\w+)\)s", placeholder, query)
        oid = {"margin": 701, "slack": 701, "name": 25}  # float8, text; the others int4 (23)
        return cls(f"gridgis_mvt_{kind}".encode(), text.encode(), tuple(names),
                   tuple(oid.get(n, 23) for n in names))  # fmt: skip


#: connection -> the tile statements prepared on it (a reconnected one prepares them again)
_PREPARED: weakref.WeakKeyDictionary[Any, set[bytes]] = weakref.WeakKeyDictionary()


async def _run_prepared(conn: psycopg.AsyncConnection, kind: str, params: dict[str, Any]) -> bytes:
    """The tile statement of ``kind`` on ``conn`` through libpq itself: what
    ``await conn.execute(query, params, binary=True)`` does, prepared once per connection,
    without psycopg's per-query parsing, adaptation, cursor and row objects (about 40 us
    less a tile, a tenth of the service's own share of an uncached tile). The connection is
    the pool's, used by one request at a time; psycopg reads its state from libpq, so it
    stays consistent (an interrupted statement leaves it ACTIVE, and the pool drops it)."""
    stmt = _STATEMENTS[kind]
    pgconn = conn.pgconn
    prepared = _PREPARED.setdefault(conn, set())
    if stmt.name not in prepared:
        pgconn.send_prepare(stmt.name, stmt.query, param_types=stmt.types)
        _checked(await _results(pgconn), conn)
        prepared.add(stmt.name)
    values = [None if (v := params[n]) is None else str(v).encode() for n in stmt.params]
    pgconn.send_query_prepared(stmt.name, values, result_format=1)  # binary bytea: no hex
    res = _checked(await _results(pgconn), conn)
    value = res.get_value(0, 0) if res.ntuples else None
    return bytes(value) if value is not None else b""


async def _results(pgconn: Any) -> list[Any]:
    """Send what libpq holds, then every result of the statement (non-blocking libpq,
    waiting on the event loop as psycopg does)."""
    loop = asyncio.get_running_loop()
    while pgconn.flush():  # only when the statement did not fit the socket's buffer
        await _ready(loop, pgconn.socket, write=True)
    out = []
    while True:
        pgconn.consume_input()
        while not pgconn.is_busy():
            res = pgconn.get_result()
            if res is None:
                return out
            out.append(res)
        await _ready(loop, pgconn.socket)


async def _ready(loop: asyncio.AbstractEventLoop, fd: int, write: bool = False) -> None:
    fut = loop.create_future()
    if write:
        loop.add_writer(fd, _wake, fut)
    else:
        loop.add_reader(fd, _wake, fut)
    try:
        await fut
    finally:
        if write:
            loop.remove_writer(fd)
        else:
            loop.remove_reader(fd)


def _wake(fut: asyncio.Future) -> None:
    if not fut.done():
        fut.set_result(None)


def _checked(results: list[Any], conn: psycopg.AsyncConnection) -> Any:
    for res in results:
        if res.status not in (pq.ExecStatus.TUPLES_OK, pq.ExecStatus.COMMAND_OK):
            raise psycopg.errors.error_from_result(res, encoding=conn.info.encoding)
    return results[-1]


def _connection_lost(e: psycopg.OperationalError) -> bool:
    """True when the connection died (server restarted, network): the tile is retried once
    on another connection; an error of the query itself is not."""
    return e.sqlstate is None or e.sqlstate.startswith(("08", "57P"))


def _mvt_bytes(row: Any) -> bytes:
    return bytes(row[0]) if row and row[0] is not None else b""


#: connections of the tile pools: autocommit (one round trip a tile), every statement
#: prepared on first use (the three tile statements are all this pool runs)
_TILE_CONN = {
    "autocommit": True, "prepare_threshold": 0, "connect_timeout": 10,
    "application_name": "gridgis-tiles",
}  # fmt: skip
_TILE_POOL_MAX = 4
_TILE_POOL_TIMEOUT = 15.0
_TILE_POOL_LOCK = threading.Lock()

_MVT_GEOM = "ST_AsMVTGeom(ST_Transform({g}, 3857), env.tile, %(extent)s, %(buffer)s, true) AS geom"

#: the rows of each kind of tile layer. A grid's simplified geometry (its zoom band's row, by
#: index, else the stored grid) deviates from the stored one by at most the band's tolerance:
#: the index filter on the stored grid is widened by ``slack`` degrees, then the geometry drawn
#: is tested against the tile, as the embedded store's encoder tests it
_MVT_ROWS = {
    "grids": (
        "SELECT r.id, r.code, r.name, r.level, r.parent_code, "
        + _MVT_GEOM.format(g="r.geom")
        + " FROM env, (SELECT g.id, g.code, g.name, g.level, g.parent_code, COALESCE((SELECT s.geom FROM grid_simplified s"
        " WHERE s.plan_id = g.plan_id AND s.zoom_band = %(band)s AND s.code = g.code), g.geom) AS geom"
        " FROM env, grids g WHERE g.plan_id = %(plan)s AND g.level <= %(max_level)s"
        " AND g.geom && ST_Expand(env.area, %(slack)s) OFFSET 0) r WHERE r.geom && env.area"  # OFFSET 0: look up once
    ),
    "enterprises": (
        "SELECT e.id, e.credit_code, e.name, e.industry, e.risk_class, e.supervision_level, "
        + _MVT_GEOM.format(g="e.geom")
        + " FROM env, enterprises e WHERE e.geom && env.area"
    ),
    "incidents": (
        "SELECT i.id, i.category, i.source, i.status, "
        "to_char(i.reported_at AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS reported_on, "
        + _MVT_GEOM.format(g="i.geom")
        + " FROM env, incidents i WHERE i.geom && env.area"
    ),
}

#: the whole statement per kind. ST_AsMVT skips a row whose ST_AsMVTGeom is NULL (nothing
#: left in the tile), so there is no ``WHERE geom IS NOT NULL``: the planner pushed that
#: filter down and computed every ST_AsMVTGeom twice
_MVT_QUERY = {
    kind: (
        "WITH env AS (SELECT ST_TileEnvelope(%(z)s, %(x)s, %(y)s) AS tile, "
        "ST_Transform(ST_TileEnvelope(%(z)s, %(x)s, %(y)s, margin => %(margin)s), 4490) AS area) "
        "SELECT ST_AsMVT(t.*, %(name)s, %(extent)s, 'geom', 'id') FROM (" + rows + ") t"
    )
    for kind, rows in _MVT_ROWS.items()
}
_STATEMENTS = {kind: _Statement.of(kind, query) for kind, query in _MVT_QUERY.items()}
