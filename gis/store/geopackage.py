"""The embedded default store: one real GeoPackage file (SQLite), no system package.

Why write SQL by hand instead of through GDAL: an import across several tables
must be ONE transaction (pyogrio writes one layer per call), and the store keeps
constraints (unique codes per plan, foreign keys, allowed values) that GDAL would
not create. The file still is a plain GeoPackage 1.4: every table is registered in
``gpkg_contents`` / ``gpkg_geometry_columns``, geometries are GeoPackage blobs,
each geometry column has the spec's R-tree index with its triggers (their ``ST_*``
functions are registered on our connections, see ``gpkg_blob``), and
``gpkg_ogr_contents`` counts are kept right on every write, so QGIS and GDAL open the live
file directly. WAL mode lets them read while the service writes.

No CHECK constraint calls a custom SQL function: QGIS must be able to edit the
file without our functions.

Never open the live store file with GDAL (pyogrio) in the process that holds this
store: GDAL bundles its own SQLite, the two libraries do not see each other's POSIX
locks within one process, and GDAL closing the file would delete the WAL under our
connection. Other processes (QGIS, ogr2ogr) are safe.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pyproj import CRS

from gis.errors import Conflict, StoreUnavailable
from gis.model import STORE_SRID, TABLES, TableSpec
from gis.store import gpkg_blob
from gis.store.base import Store

_APPLICATION_ID = 0x47504B47  # "GPKG"
_USER_VERSION = 10400  # GeoPackage 1.4.0
_META = "gridgis_meta"
_SQL_TYPES = {"text": "TEXT", "int": "INTEGER", "float": "DOUBLE", "timestamp": "DATETIME", "json": "TEXT"}

#: foreign keys (deferred, so a bundle may insert children before parents)
_FOREIGN_KEYS = {
    "plans": ['FOREIGN KEY ("layer_key") REFERENCES "layers" ("key")'],
    "grids": [
        'FOREIGN KEY ("plan_id") REFERENCES "plans" ("id")',
        'FOREIGN KEY ("plan_id", "parent_code") REFERENCES "grids" ("plan_id", "code") DEFERRABLE INITIALLY DEFERRED',
    ],
    "people": [
        'FOREIGN KEY ("plan_id", "grid_code") REFERENCES "grids" ("plan_id", "code") DEFERRABLE INITIALLY DEFERRED'
    ],
    "admin_units": ['FOREIGN KEY ("parent_code") REFERENCES "admin_units" ("code") DEFERRABLE INITIALLY DEFERRED'],
}


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _table_ddl(spec: TableSpec) -> list[str]:
    cols = ['"id" INTEGER PRIMARY KEY AUTOINCREMENT']
    if spec.geometry_type:
        cols.append(f'"geom" {spec.geometry_type} NOT NULL')
    for c in spec.columns:
        sql = f"{_q(c.name)} {_SQL_TYPES[c.kind]}"
        if c.required:
            sql += " NOT NULL"
        if c.choices:
            allowed = ", ".join("'" + v + "'" for v in c.choices)
            sql += f" CHECK ({_q(c.name)} IN ({allowed}))"
        cols.append(sql)
    for uniq in spec.unique:
        cols.append(f"UNIQUE ({', '.join(_q(u) for u in uniq)})")
    cols += _FOREIGN_KEYS.get(spec.name, [])
    stmts = [f"CREATE TABLE {_q(spec.name)} (\n  " + ",\n  ".join(cols) + "\n)"]
    if spec.name == "grids":
        stmts.append('CREATE INDEX "grids_plan_level" ON "grids" ("plan_id", "level")')
    if spec.name == "people":
        stmts.append('CREATE INDEX "people_plan_grid" ON "people" ("plan_id", "grid_code")')
    return stmts


def _rtree_ddl(t: str) -> list[str]:
    """The R-tree spatial index and its triggers, as in GeoPackage 1.4 annex F.3."""
    r = f"rtree_{t}_geom"
    env = "ST_MinX(NEW.geom), ST_MaxX(NEW.geom), ST_MinY(NEW.geom), ST_MaxY(NEW.geom)"
    return [
        f'CREATE VIRTUAL TABLE "{r}" USING rtree(id, minx, maxx, miny, maxy)',
        f'CREATE TRIGGER "{r}_insert" AFTER INSERT ON "{t}" WHEN (new.geom NOT NULL AND NOT ST_IsEmpty(NEW.geom)) '
        f'BEGIN INSERT OR REPLACE INTO "{r}" VALUES (NEW.id, {env}); END',
        f'CREATE TRIGGER "{r}_update6" AFTER UPDATE OF geom ON "{t}" WHEN OLD.id = NEW.id AND '
        "(NEW.geom NOTNULL AND NOT ST_IsEmpty(NEW.geom)) AND (OLD.geom NOTNULL AND NOT ST_IsEmpty(OLD.geom)) "
        f'BEGIN UPDATE "{r}" SET minx = ST_MinX(NEW.geom), maxx = ST_MaxX(NEW.geom), '
        "miny = ST_MinY(NEW.geom), maxy = ST_MaxY(NEW.geom) WHERE id = NEW.id; END",
        f'CREATE TRIGGER "{r}_update7" AFTER UPDATE OF geom ON "{t}" WHEN OLD.id = NEW.id AND '
        "(NEW.geom NOTNULL AND NOT ST_IsEmpty(NEW.geom)) AND (OLD.geom ISNULL OR ST_IsEmpty(OLD.geom)) "
        f'BEGIN INSERT INTO "{r}" VALUES (NEW.id, {env}); END',
        f'CREATE TRIGGER "{r}_update2" AFTER UPDATE OF geom ON "{t}" WHEN OLD.id = NEW.id AND '
        f'(NEW.geom ISNULL OR ST_IsEmpty(NEW.geom)) BEGIN DELETE FROM "{r}" WHERE id = OLD.id; END',
        f'CREATE TRIGGER "{r}_update5" AFTER UPDATE ON "{t}" WHEN OLD.id != NEW.id AND '
        f'(NEW.geom NOTNULL AND NOT ST_IsEmpty(NEW.geom)) BEGIN DELETE FROM "{r}" WHERE id = OLD.id; '
        f'INSERT OR REPLACE INTO "{r}" VALUES (NEW.id, {env}); END',
        f'CREATE TRIGGER "{r}_update4" AFTER UPDATE ON "{t}" WHEN OLD.id != NEW.id AND '
        f'(NEW.geom ISNULL OR ST_IsEmpty(NEW.geom)) BEGIN DELETE FROM "{r}" WHERE id IN (OLD.id, NEW.id); END',
        f'CREATE TRIGGER "{r}_delete" AFTER DELETE ON "{t}" WHEN old.geom NOT NULL '
        f'BEGIN DELETE FROM "{r}" WHERE id = OLD.id; END',
        "INSERT INTO gpkg_extensions (table_name, column_name, extension_name, definition, scope) "
        f"VALUES ('{t}', 'geom', 'gpkg_rtree_index', 'http://www.geopackage.org/spec120/#extension_rtree', 'write-only')",
    ]


_CORE_DDL = [
    "CREATE TABLE gpkg_spatial_ref_sys (srs_name TEXT NOT NULL, srs_id INTEGER PRIMARY KEY, "
    "organization TEXT NOT NULL, organization_coordsys_id INTEGER NOT NULL, definition TEXT NOT NULL, description TEXT)",
    "CREATE TABLE gpkg_contents (table_name TEXT NOT NULL PRIMARY KEY, data_type TEXT NOT NULL, "
    "identifier TEXT UNIQUE, description TEXT DEFAULT '', "
    "last_change DATETIME NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')), "
    "min_x DOUBLE, min_y DOUBLE, max_x DOUBLE, max_y DOUBLE, srs_id INTEGER, "
    "CONSTRAINT fk_gc_r_srs_id FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys(srs_id))",
    "CREATE TABLE gpkg_geometry_columns (table_name TEXT NOT NULL, column_name TEXT NOT NULL, "
    "geometry_type_name TEXT NOT NULL, srs_id INTEGER NOT NULL, z TINYINT NOT NULL, m TINYINT NOT NULL, "
    "CONSTRAINT pk_geom_cols PRIMARY KEY (table_name, column_name), CONSTRAINT uk_gc_table_name UNIQUE (table_name), "
    "CONSTRAINT fk_gc_tn FOREIGN KEY (table_name) REFERENCES gpkg_contents(table_name), "
    "CONSTRAINT fk_gc_srs FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys (srs_id))",
    "CREATE TABLE gpkg_extensions (table_name TEXT, column_name TEXT, extension_name TEXT NOT NULL, "
    "definition TEXT NOT NULL, scope TEXT NOT NULL, CONSTRAINT ge_tce UNIQUE (table_name, column_name, extension_name))",
    "CREATE TABLE gpkg_ogr_contents (table_name TEXT NOT NULL PRIMARY KEY, feature_count INTEGER DEFAULT NULL)",
    f'CREATE TABLE "{_META}" ("id" INTEGER PRIMARY KEY AUTOINCREMENT, "key" TEXT NOT NULL UNIQUE, "value" TEXT)',
]


def _srs_rows() -> list[tuple]:
    rows = [
        ("Undefined cartesian SRS", -1, "NONE", -1, "undefined", "undefined cartesian coordinate reference system"),
        ("Undefined geographic SRS", 0, "NONE", 0, "undefined", "undefined geographic coordinate reference system"),
    ]
    for code in sorted({4326, STORE_SRID}):
        crs = CRS.from_epsg(code)
        rows.append((crs.name, code, "EPSG", code, crs.to_wkt("WKT1_GDAL"), crs.name))
    return rows


def _to_sql_value(value: Any, kind: str) -> Any:
    if value is None or (not isinstance(value, (str, bytes, list, dict)) and pd.isna(value)):
        return None
    if kind == "timestamp":
        ts = pd.Timestamp(value)
        ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
        return ts.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if kind == "json":
        return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    if kind == "int":
        return int(value)
    if kind == "float":
        return float(value)
    if isinstance(value, np.generic):
        return value.item()
    return str(value) if not isinstance(value, str) else value


class GeoPackageStore(Store):
    """The store in one GeoPackage file; one SQLite connection per thread."""

    backend = "gpkg"

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        super().__init__(f"gpkg://{self.path.resolve()}")
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ connection

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
            except (sqlite3.Error, OSError) as exc:
                raise StoreUnavailable(
                    f"Cannot open the GeoPackage store {self.path}: {exc}",
                    f"无法打开 GeoPackage 数据库 {self.path}：{exc}",
                ) from exc
            for name, fn in gpkg_blob.SQL_FUNCTIONS.items():
                conn.create_function(name, 1, fn, deterministic=True)
            conn.execute("PRAGMA foreign_keys = ON")
            conn.execute("PRAGMA busy_timeout = 30000")
            self._local.conn = conn
            with self._lock:
                self._connections.append(conn)
        return conn

    def close(self) -> None:
        with self._lock:
            for conn in self._connections:
                try:
                    conn.close()
                except sqlite3.Error:
                    pass
            self._connections.clear()
        self._local = threading.local()

    # ------------------------------------------------------------------ schema

    def init(self) -> None:
        conn = self._conn()
        exists = conn.execute(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'gpkg_contents'"
        ).fetchone()[0]
        if not exists:
            # GDAL reads application_id from the file header itself, so set it
            # before WAL mode and checkpoint once the schema is written.
            conn.execute(f"PRAGMA application_id = {_APPLICATION_ID}")
            conn.execute(f"PRAGMA user_version = {_USER_VERSION}")
            conn.execute("PRAGMA journal_mode = WAL")
            self._create_schema(conn)
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        else:
            conn.execute("PRAGMA journal_mode = WAL")
            app_id = conn.execute("PRAGMA application_id").fetchone()[0]
            if app_id != _APPLICATION_ID:
                raise StoreUnavailable(
                    f"{self.path} is not a GeoPackage (application_id {app_id:#x})",
                    f"{self.path} 不是 GeoPackage 文件",
                )
            have = {r[0] for r in conn.execute("SELECT table_name FROM gpkg_contents")}
            missing = [t for t in TABLES if t not in have]
            if missing:
                with self._transaction() as tx:
                    for name in missing:
                        self._create_table(tx, TABLES[name])
        self._seed_layers()

    def _create_schema(self, conn: sqlite3.Connection) -> None:
        with self._transaction() as tx:
            for stmt in _CORE_DDL:
                tx.execute(stmt)
            tx.executemany("INSERT INTO gpkg_spatial_ref_sys VALUES (?, ?, ?, ?, ?, ?)", _srs_rows())
            tx.execute(
                "INSERT INTO gpkg_contents (table_name, data_type, identifier, description) VALUES (?, 'attributes', ?, ?)",
                (_META, _META, "gridgis store metadata (plan version)"),
            )
            tx.execute("INSERT INTO gpkg_ogr_contents VALUES (?, 0)", (_META,))
            for spec in TABLES.values():
                self._create_table(tx, spec)

    def _create_table(self, tx: sqlite3.Connection, spec: TableSpec) -> None:
        for stmt in _table_ddl(spec):
            tx.execute(stmt)
        if spec.geometry_type:
            tx.execute(
                "INSERT INTO gpkg_contents (table_name, data_type, identifier, description, srs_id) "
                "VALUES (?, 'features', ?, ?, ?)",
                (spec.name, spec.name, f"{spec.title} / {spec.title_zh}", STORE_SRID),
            )
            tx.execute(
                "INSERT INTO gpkg_geometry_columns VALUES (?, 'geom', ?, ?, 0, 0)",
                (spec.name, spec.geometry_type, STORE_SRID),
            )
            for stmt in _rtree_ddl(spec.name):
                tx.execute(stmt)
        else:
            tx.execute(
                "INSERT INTO gpkg_contents (table_name, data_type, identifier, description) VALUES (?, 'attributes', ?, ?)",
                (spec.name, spec.name, f"{spec.title} / {spec.title_zh}"),
            )
        tx.execute("INSERT INTO gpkg_ogr_contents VALUES (?, 0)", (spec.name,))

    # ------------------------------------------------------------------ primitives

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
            conn.execute("COMMIT")
        except sqlite3.IntegrityError as exc:
            conn.execute("ROLLBACK")
            raise Conflict(
                f"The store refused the change: {exc}",
                f"数据库拒绝了本次修改：{exc}",
            ) from exc
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def _insert(self, tx: sqlite3.Connection, table: str, frame: pd.DataFrame) -> list[int]:
        spec = TABLES[table]
        if frame.empty:
            return []
        cols = [c for c in spec.columns if c.name in frame.columns]
        names = [c.name for c in cols]
        data = [[_to_sql_value(v, c.kind) for v in frame[c.name].tolist()] for c in cols]
        if spec.geometry_type:
            geoms = np.asarray(frame["geom"].to_numpy(), dtype=object)
            names.append("geom")
            data.append(gpkg_blob.encode(geoms, STORE_SRID))
        start = tx.execute(f"SELECT coalesce(max(id), 0) FROM {_q(table)}").fetchone()[0]
        seq = tx.execute("SELECT seq FROM sqlite_sequence WHERE name = ?", (table,)).fetchone()
        start = max(start, seq[0] if seq else 0)
        sql = f"INSERT INTO {_q(table)} ({', '.join(map(_q, names))}) VALUES ({', '.join('?' * len(names))})"
        tx.executemany(sql, list(zip(*data, strict=True)))
        if spec.geometry_type:
            self._extend_extent(tx, table, geoms)
        self._touch(tx, table)
        return list(range(start + 1, start + 1 + len(frame)))

    @staticmethod
    def _touch(tx: sqlite3.Connection, table: str) -> None:
        """Keep ``gpkg_ogr_contents`` and ``last_change`` right after a change.

        A recount, not GDAL's count triggers: GDAL drops those triggers whenever it
        opens the file for update (a QGIS edit), after which they would be missing.
        """
        tx.execute(
            f"UPDATE gpkg_ogr_contents SET feature_count = (SELECT count(*) FROM {_q(table)}) WHERE table_name = ?",
            (table,),
        )
        tx.execute(
            "UPDATE gpkg_contents SET last_change = strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE table_name = ?",
            (table,),
        )

    def _extend_extent(self, tx: sqlite3.Connection, table: str, geoms: np.ndarray) -> None:
        import shapely

        b = shapely.total_bounds(geoms)
        if not np.all(np.isfinite(b)):
            return
        tx.execute(
            "UPDATE gpkg_contents SET min_x = min(coalesce(min_x, ?1), ?1), min_y = min(coalesce(min_y, ?2), ?2), "
            "max_x = max(coalesce(max_x, ?3), ?3), max_y = max(coalesce(max_y, ?4), ?4) WHERE table_name = ?5",
            (float(b[0]), float(b[1]), float(b[2]), float(b[3]), table),
        )

    @staticmethod
    def _where(where: dict[str, Any] | None) -> tuple[str, list[Any]]:
        if not where:
            return "", []
        parts, params = [], []
        for key, value in where.items():
            if isinstance(value, (list, tuple, set, np.ndarray, pd.Series)):
                values = [v.item() if isinstance(v, np.generic) else v for v in value]
                if not values:
                    parts.append("0")
                    continue
                parts.append(f"{_q(key)} IN ({', '.join('?' * len(values))})")
                params += values
            elif value is None:
                parts.append(f"{_q(key)} IS NULL")
            else:
                parts.append(f"{_q(key)} = ?")
                params.append(value.item() if isinstance(value, np.generic) else value)
        return " WHERE " + " AND ".join(parts), params

    def _update(self, tx: sqlite3.Connection, table: str, values: dict[str, Any], where: dict[str, Any]) -> int:
        spec = TABLES[table]
        sets = ", ".join(f"{_q(k)} = ?" for k in values)
        params = [_to_sql_value(v, spec.column(k).kind) for k, v in values.items()]
        clause, wparams = self._where(where)
        n = tx.execute(f"UPDATE {_q(table)} SET {sets}{clause}", params + wparams).rowcount
        self._touch(tx, table)
        return n

    def _delete(self, tx: sqlite3.Connection, table: str, where: dict[str, Any]) -> int:
        clause, params = self._where(where)
        n = tx.execute(f"DELETE FROM {_q(table)}{clause}", params).rowcount
        self._touch(tx, table)
        return n

    def _select(
        self,
        table: str,
        where: dict[str, Any] | None = None,
        columns: list[str] | None = None,
        tx: Any = None,
    ) -> pd.DataFrame:
        spec = TABLES[table]
        with_geom = columns is None and spec.geometry_type is not None
        cols = ["id"] + [c for c in (columns if columns is not None else spec.column_names) if c != "id"]
        select = [*cols, "geom"] if with_geom else cols
        clause, params = self._where(where)
        conn = tx or self._conn()
        rows = conn.execute(
            f"SELECT {', '.join(map(_q, select))} FROM {_q(table)}{clause} ORDER BY id", params
        ).fetchall()
        frame = pd.DataFrame.from_records(rows, columns=select)
        if with_geom:
            frame["geom"] = gpkg_blob.decode(frame["geom"].tolist()) if len(frame) else np.array([], dtype=object)
        return frame

    def _count(self, table: str) -> int:
        return int(self._conn().execute(f"SELECT count(*) FROM {_q(table)}").fetchone()[0])

    def _get_meta(self, key: str, tx: Any = None) -> str | None:
        row = (tx or self._conn()).execute(f'SELECT "value" FROM "{_META}" WHERE "key" = ?', (key,)).fetchone()
        return None if row is None else row[0]

    def _meta_items(self, prefix: str) -> dict[str, str]:
        rows = self._conn().execute(
            f'SELECT "key", "value" FROM "{_META}" WHERE substr("key", 1, ?) = ?', (len(prefix), prefix)
        ).fetchall()
        return dict(rows)

    def _delete_meta(self, tx: sqlite3.Connection, keys: list[str]) -> None:
        tx.executemany(f'DELETE FROM "{_META}" WHERE "key" = ?', [(k,) for k in keys])
        self._touch(tx, _META)

    def _set_meta(self, tx: sqlite3.Connection, key: str, value: str) -> None:
        tx.execute(
            f'INSERT INTO "{_META}" ("key", "value") VALUES (?, ?) ON CONFLICT("key") DO UPDATE SET "value" = excluded."value"',
            (key, value),
        )
        self._touch(tx, _META)
