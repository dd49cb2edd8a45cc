"""Assignment of enterprises and incidents to grids, and of large point sets in chunks.

Pure apart from the chunk readers at the bottom (files, a database cursor), which
only yield coordinate arrays.

Every point goes to the grid of every level of every layer that covers it, by the
lookup engine (:class:`gis.lookup.GridIndex`: ST_Covers semantics, on a shared edge
or vertex the LOWEST code wins). An enterprise also gets its *responsible* grid:
the grid at the level of its supervision level (district -> 1, town -> 2,
village -> 3, :data:`gis.model.SUPERVISION_GRID_LEVEL`). What no grid of a level
covers is listed by :meth:`Assignment.outside`; :func:`plan_diff` lists what
changes grid between two plans of a layer.

Large point sets (tens of millions of historical incidents) never become shapely
objects: coordinates stream in chunks of about a million as float64 arrays
(:func:`parquet_chunks`, :func:`csv_chunks`, :func:`cursor_chunks`) through ONE chunk
function, :func:`locate_chunk`, which :func:`assign_chunks` maps in process and
:mod:`gis.coverage.dask` maps over the partitions of a Dask dataframe.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gis.errors import InvalidInput
from gis.lookup.index import GridIndex
from gis.model import STORE_CRS, SUPERVISION_GRID_LEVEL

#: points per chunk when streaming
CHUNK_ROWS = 1_000_000

ENTITY_KINDS = ("enterprise", "incident")


# --------------------------------------------------------------------------- the chunk function


def level_indexes(grids: pd.DataFrame) -> dict[int, GridIndex]:
    """One :class:`GridIndex` per level of a plan's grids (rows keep their frame order)."""
    g = grids.reset_index(drop=True)
    levels = g["level"].astype(int).to_numpy()
    geoms = np.asarray(g.geometry.to_numpy(), dtype=object)
    codes = g["code"].astype(str).to_numpy(dtype=object)
    out = {}
    for lv in sorted(set(levels.tolist())):
        rows = levels == lv
        out[int(lv)] = GridIndex(geoms[rows], codes[rows])
    return out


def locate_chunk(index_or_indexes: GridIndex | Sequence[GridIndex], x, y) -> np.ndarray:
    """THE chunk function: grid positions of the points ``(x, y)`` (store CRS, float64).

    One index: an int32 array ``(n,)``; several: ``(n, k)``, column j for index j.
    A position is the row of the grid in its index (``index.codes[pos]``), -1 where
    no grid covers the point (and for NaN coordinates). Used unchanged in process
    (:func:`assign_chunks`) and on Dask (:mod:`gis.coverage.dask`).
    """
    x = np.ascontiguousarray(x, dtype=np.float64).reshape(-1)
    y = np.ascontiguousarray(y, dtype=np.float64).reshape(-1)
    if isinstance(index_or_indexes, GridIndex):
        return index_or_indexes.locate(x, y).astype(np.int32)
    indexes = list(index_or_indexes)
    out = np.empty((len(x), len(indexes)), dtype=np.int32)
    for j, index in enumerate(indexes):
        out[:, j] = index.locate(x, y)
    return out


def assign_chunks(
    index_or_indexes: GridIndex | Sequence[GridIndex],
    chunks: Iterable[tuple[np.ndarray, np.ndarray]],
) -> Iterator[np.ndarray]:
    """Stream: for each ``(x, y)`` chunk, its positions by :func:`locate_chunk`.

    Memory is one chunk's coordinates and answers at a time (plus what the caller
    keeps): about 20 bytes a point for one index.
    """
    if not isinstance(index_or_indexes, GridIndex):
        index_or_indexes = list(index_or_indexes)
    for x, y in chunks:
        yield locate_chunk(index_or_indexes, x, y)


def codes_at(index: GridIndex, positions: np.ndarray) -> np.ndarray:
    """Codes (object array) of positions; None where -1."""
    pos = np.asarray(positions)
    out = np.full(pos.shape, None, dtype=object)
    hit = pos >= 0
    out[hit] = index.codes[pos[hit]]
    return out


# --------------------------------------------------------------------------- chunk readers


def parquet_chunks(
    path: str | os.PathLike[str], x: str = "x", y: str = "y", rows: int = CHUNK_ROWS
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Coordinate chunks of a Parquet file (columns ``x``, ``y``): a row group at a time
    when it holds at most ``2 * rows`` rows (the fast path), else ``rows`` at a time."""
    import pyarrow.parquet as pq

    def arrays(table) -> tuple[np.ndarray, np.ndarray]:
        return (
            np.asarray(table.column(0).to_numpy(), dtype=np.float64),
            np.asarray(table.column(1).to_numpy(), dtype=np.float64),
        )

    with pq.ParquetFile(path) as f:
        for i in range(f.num_row_groups):
            if f.metadata.row_group(i).num_rows <= 2 * rows:
                yield arrays(f.read_row_group(i, columns=[x, y]))
            else:
                for batch in f.iter_batches(batch_size=rows, row_groups=[i], columns=[x, y]):
                    yield arrays(batch)


def csv_chunks(
    path: str | os.PathLike[str], x: str = "x", y: str = "y", rows: int = CHUNK_ROWS
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Coordinate chunks of a CSV file (columns ``x``, ``y``; others are not parsed)."""
    with pd.read_csv(path, usecols=[x, y], dtype={x: "float64", y: "float64"}, chunksize=rows) as reader:
        for frame in reader:
            yield frame[x].to_numpy(), frame[y].to_numpy()


def cursor_chunks(
    url: str,
    query: str = "SELECT ST_X(geom), ST_Y(geom) FROM incidents ORDER BY id",
    rows: int = CHUNK_ROWS,
    params: Sequence | None = None,
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Coordinate chunks from PostgreSQL: a server-side (named) cursor over ``query``,
    which yields two float columns; ``rows`` fetched at a time, never all at once."""
    import psycopg

    url = url.replace("postgresql+psycopg://", "postgresql://", 1)
    with psycopg.connect(url) as conn, conn.cursor(name="gridgis_assign_points") as cur:
        cur.itersize = rows
        cur.execute(query, params)
        while True:
            batch = cur.fetchmany(rows)
            if not batch:
                break
            xy = np.array(batch, dtype=np.float64).reshape(-1, 2)
            yield np.ascontiguousarray(xy[:, 0]), np.ascontiguousarray(xy[:, 1])


# --------------------------------------------------------------------------- enterprises and incidents


def _xy(frame: gpd.GeoDataFrame) -> tuple[np.ndarray, np.ndarray]:
    geoms = np.asarray(frame.geometry.to_numpy(), dtype=object)
    if not len(geoms):
        return np.empty(0), np.empty(0)
    bad = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    geoms = np.where(bad, None, geoms)
    # a multipoint counts at its first point (the store keeps points as POINT)
    first = shapely.get_geometry(geoms, 0)
    pts = np.where(shapely.get_type_id(geoms) == 4, first, geoms)
    return shapely.get_x(pts), shapely.get_y(pts)


def _ids(frame: pd.DataFrame) -> np.ndarray:
    return (frame["id"] if "id" in frame else pd.Series(frame.index)).to_numpy()


def _entities(enterprises: pd.DataFrame | None, incidents: pd.DataFrame | None) -> pd.DataFrame:
    """kind, id, ref, supervision_level, status, x, y of all points to assign."""
    parts = []
    if enterprises is not None and len(enterprises):
        x, y = _xy(enterprises)
        parts.append(
            pd.DataFrame(
                {
                    "kind": "enterprise",
                    "id": _ids(enterprises),
                    "ref": enterprises["credit_code"].to_numpy() if "credit_code" in enterprises else None,
                    "name": enterprises["name"].to_numpy() if "name" in enterprises else None,
                    "supervision_level": (
                        enterprises["supervision_level"].astype(object).to_numpy()
                        if "supervision_level" in enterprises
                        else None
                    ),
                    "status": None,
                    "x": x,
                    "y": y,
                }
            )
        )
    if incidents is not None and len(incidents):
        x, y = _xy(incidents)
        parts.append(
            pd.DataFrame(
                {
                    "kind": "incident",
                    "id": _ids(incidents),
                    "ref": incidents["category"].to_numpy() if "category" in incidents else None,
                    "name": None,
                    "supervision_level": None,
                    "status": incidents["status"].astype(object).to_numpy() if "status" in incidents else None,
                    "x": x,
                    "y": y,
                }
            )
        )
    cols = ["kind", "id", "ref", "name", "supervision_level", "status", "x", "y"]
    if not parts:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in cols})
    return pd.concat(parts, ignore_index=True)[cols]


def _level_col(lv: int) -> str:
    return f"level_{lv}"


@dataclass
class Assignment:
    """``table``: one row per (layer, point): layer, plan_id, kind, id, ref, name,
    supervision_level, status, x, y, ``level_1``..``level_n`` (the covering grid's
    code per level, None outside), ``responsible_level`` and ``responsible_code``
    (enterprises: the grid at their supervision level; None for incidents)."""

    table: pd.DataFrame

    @property
    def level_columns(self) -> list[str]:
        return sorted(
            (c for c in self.table.columns if c.startswith("level_")), key=lambda c: int(c[6:])
        )

    def outside(self) -> pd.DataFrame:
        """What no grid covers, one row per (layer, level, point): layer, plan_id, level,
        kind, id, ref, name, x, y. A level a layer does not have is not listed."""
        rows = []
        for col in self.level_columns:
            lv = int(col[6:])
            for _layer, part in self.table.groupby("layer", sort=True):
                miss = part[part[col].isna() & part[f"has_{col}"]]
                if len(miss):
                    rows.append(
                        miss[["layer", "plan_id", "kind", "id", "ref", "name", "x", "y"]].assign(level=lv)
                    )
        cols = ["layer", "plan_id", "level", "kind", "id", "ref", "name", "x", "y"]
        if not rows:
            return pd.DataFrame({c: pd.Series(dtype=object) for c in cols})
        return pd.concat(rows, ignore_index=True)[cols].sort_values(
            ["layer", "level", "kind", "id"], kind="stable", ignore_index=True
        )

    def summary(self) -> pd.DataFrame:
        """Per layer, level and kind: points, assigned, outside."""
        out = []
        for col in self.level_columns:
            lv = int(col[6:])
            for (layer, kind), part in self.table.groupby(["layer", "kind"], sort=True):
                if not part[f"has_{col}"].any():
                    continue
                n_in = int(part[col].notna().sum())
                out.append({"layer": layer, "level": lv, "kind": kind, "points": len(part),
                            "assigned": n_in, "outside": len(part) - n_in})
        cols = ["layer", "level", "kind", "points", "assigned", "outside"]
        return pd.DataFrame(out, columns=cols).sort_values(["layer", "level", "kind"], ignore_index=True)

    def export_table(self) -> pd.DataFrame:
        """The table without the helper columns (``has_level_n``)."""
        return self.table[[c for c in self.table.columns if not c.startswith("has_")]]


def assign_layer(
    layer: str,
    plan_id: int | None,
    grids: pd.DataFrame,
    enterprises: pd.DataFrame | None,
    incidents: pd.DataFrame | None,
    *,
    _entities_frame: pd.DataFrame | None = None,
    _indexes: Mapping[int, GridIndex] | None = None,
) -> pd.DataFrame:
    """The rows of :class:`Assignment` for one layer's plan (all its levels)."""
    ent = _entities_frame if _entities_frame is not None else _entities(enterprises, incidents)
    indexes = dict(_indexes) if _indexes is not None else level_indexes(grids)
    table = ent.copy()
    table.insert(0, "plan_id", plan_id)
    table.insert(0, "layer", layer)
    x = table["x"].to_numpy(dtype=np.float64)
    y = table["y"].to_numpy(dtype=np.float64)
    levels = sorted(indexes)
    pos = locate_chunk([indexes[lv] for lv in levels], x, y)
    for j, lv in enumerate(levels):
        table[_level_col(lv)] = codes_at(indexes[lv], pos[:, j])
        table[f"has_{_level_col(lv)}"] = True
    resp_level = np.full(len(table), None, dtype=object)
    resp_code = np.full(len(table), None, dtype=object)
    sup = table["supervision_level"].astype(object).to_numpy()
    is_ent = (table["kind"] == "enterprise").to_numpy()
    for s, lv in SUPERVISION_GRID_LEVEL.items():
        sel = is_ent & (sup == s.value)
        if lv in indexes:
            resp_level[sel] = lv
            resp_code[sel] = table[_level_col(lv)].to_numpy()[sel]
    table["responsible_level"] = pd.array(resp_level, dtype="Int64") if len(table) else pd.array([], dtype="Int64")
    table["responsible_code"] = resp_code
    return table


def assign(
    plans: Mapping[str, tuple[int | None, pd.DataFrame]],
    enterprises: pd.DataFrame | None,
    incidents: pd.DataFrame | None,
) -> Assignment:
    """Every enterprise and incident to its grid in every layer and level.

    ``plans``: layer key -> (plan id, that plan's grids, all levels), usually the
    published plan of each layer. Levels a layer lacks are None (and ``has_level_n``
    False), not "outside".
    """
    ent = _entities(enterprises, incidents)
    parts = [
        assign_layer(layer, plan_id, grids, None, None, _entities_frame=ent)
        for layer, (plan_id, grids) in sorted(plans.items())
    ]
    if not parts:
        return Assignment(ent.iloc[:0].assign(layer=None, plan_id=None))
    table = pd.concat(parts, ignore_index=True)
    for c in table.columns:
        if c.startswith("has_"):
            table[c] = table[c].astype("boolean").fillna(False).astype(bool)
    lvl = sorted((c for c in table.columns if c.startswith("level_")), key=lambda c: int(c[6:]))
    front = ["layer", "plan_id", "kind", "id", "ref", "name", "supervision_level", "status", "x", "y"]
    rest = ["responsible_level", "responsible_code"]
    return Assignment(table[front + lvl + rest + [f"has_{c}" for c in lvl]])


# --------------------------------------------------------------------------- plan diff


def plan_diff(
    old_grids: pd.DataFrame,
    new_grids: pd.DataFrame,
    enterprises: pd.DataFrame | None,
    incidents: pd.DataFrame | None,
    *,
    open_only: bool = True,
) -> pd.DataFrame:
    """What changes grid between two plans of a layer: one row per (point, level) whose
    covering grid differs: kind, id, ref, name, level, old_code, new_code (None: outside
    that plan), and ``responsible`` (True when that level is the enterprise's
    responsible level). Incidents: only open ones unless ``open_only`` is False.
    Levels present in only one plan compare against None."""
    if incidents is not None and open_only and "status" in incidents:
        incidents = incidents[incidents["status"].astype(object) == "open"]
    ent = _entities(enterprises, incidents)
    old = assign_layer("old", None, old_grids, None, None, _entities_frame=ent)
    new = assign_layer("new", None, new_grids, None, None, _entities_frame=ent)
    levels = sorted(
        {int(c[6:]) for c in [*old.columns, *new.columns] if c.startswith("level_")}
    )
    sup = ent["supervision_level"].astype(object).to_numpy()
    resp_lv = np.array([SUPERVISION_GRID_LEVEL.get(s) if isinstance(s, str) else None for s in sup], dtype=object)
    rows = []
    for lv in levels:
        col = _level_col(lv)
        a = old[col].to_numpy() if col in old else np.full(len(ent), None, dtype=object)
        b = new[col].to_numpy() if col in new else np.full(len(ent), None, dtype=object)
        changed = np.array([u != v for u, v in zip(a, b, strict=True)], dtype=bool)
        if changed.any():
            part = ent.loc[changed, ["kind", "id", "ref", "name", "x", "y"]].copy()
            part["level"] = lv
            part["old_code"] = a[changed]
            part["new_code"] = b[changed]
            part["responsible"] = resp_lv[changed] == lv
            rows.append(part)
    cols = ["kind", "id", "ref", "name", "level", "old_code", "new_code", "responsible", "x", "y"]
    if not rows:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in cols})
    return pd.concat(rows, ignore_index=True)[cols].sort_values(
        ["level", "kind", "id"], kind="stable", ignore_index=True
    )


# --------------------------------------------------------------------------- output


def write_points_table(frame: pd.DataFrame, path: str | os.PathLike[str], layer: str = "assignment") -> Path:
    """A table with x, y columns to .csv (UTF-8 with BOM, opens in Excel) or .gpkg
    (points in the store CRS) / .geojson."""
    dst = Path(path)
    suffix = dst.suffix.lower()
    if suffix == ".csv":
        frame.to_csv(dst, index=False, encoding="utf-8-sig")
    elif suffix in (".gpkg", ".geojson"):
        data = frame.drop(columns=["x", "y"]).copy()
        for c in data.columns:
            if data[c].dtype == object:
                data[c] = data[c].map(lambda v: None if v is None or (isinstance(v, float) and np.isnan(v)) else str(v))
        gdf = gpd.GeoDataFrame(
            data, geometry=shapely.points(frame["x"].to_numpy(float), frame["y"].to_numpy(float)), crs=STORE_CRS
        )
        if dst.exists():
            dst.unlink()
        gdf.to_file(dst, layer=layer, engine="pyogrio", driver="GPKG" if suffix == ".gpkg" else "GeoJSON")
    else:
        raise InvalidInput(
            f"Assignment goes to .csv, .gpkg or .geojson, not {dst.name}",
            f"分配结果须输出为 .csv、.gpkg 或 .geojson，而非 {dst.name}",
        )
    return dst
