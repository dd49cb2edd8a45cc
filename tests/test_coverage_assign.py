"""Assignment of enterprises and incidents (issue 5, items 4 and 6).

Against PostGIS ST_Covers on the sample district, responsible grids, the outside
list, a crafted plan diff, chunked streaming == one shot, Dask == in process,
and the CLI commands.
"""

from __future__ import annotations

import secrets
import shutil
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import psycopg
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import shapely
from psycopg import sql
from typer.testing import CliRunner

from gis.coverage.assign import (
    assign,
    assign_chunks,
    codes_at,
    csv_chunks,
    cursor_chunks,
    level_indexes,
    locate_chunk,
    parquet_chunks,
    plan_diff,
)
from gis.lookup.index import GridIndex
from gis.model import SUPERVISION_GRID_LEVEL


def _plans(district) -> dict:
    return {key: (i + 1, grids) for i, (key, (grids, _)) in enumerate(sorted(district.plans.items()))}


@pytest.fixture(scope="module")
def assignment(sample_district):
    return assign(_plans(sample_district), sample_district.enterprises, sample_district.incidents)


def _points(bounds, n: int, seed: int = 3) -> tuple[np.ndarray, np.ndarray]:
    minx, miny, maxx, maxy = bounds
    rng = np.random.default_rng(seed)
    return rng.uniform(minx - 0.01, maxx + 0.01, n), rng.uniform(miny - 0.01, maxy + 0.01, n)


# --------------------------------------------------------------------------- vs PostGIS


@pytest.mark.postgis
def test_assignment_equals_postgis_st_covers_join(sample_district, assignment, pg_url) -> None:
    ent = sample_district.enterprises.reset_index(drop=True)
    t_g, t_e = (f"asg_{name}_{secrets.token_hex(3)}" for name in ("grids", "ent"))
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("CREATE TABLE {} (layer text, level int, code text, geom geometry(Geometry, 4490))").format(
                sql.Identifier(t_g)
            )
        )
        conn.execute(sql.SQL("CREATE TABLE {} (id int, geom geometry(Point, 4490))").format(sql.Identifier(t_e)))
        with conn.cursor().copy(sql.SQL("COPY {} (layer, level, code, geom) FROM STDIN").format(sql.Identifier(t_g))) as cp:
            for key, (grids, _) in sample_district.plans.items():
                geoms = shapely.set_srid(np.asarray(grids.geometry.to_numpy(), dtype=object), 4490)
                hexes = shapely.to_wkb(geoms, hex=True, include_srid=True)
                for lv, code, h in zip(grids["level"], grids["code"], hexes, strict=True):
                    cp.write_row((key, int(lv), str(code), h))
        with conn.cursor().copy(sql.SQL("COPY {} (id, geom) FROM STDIN").format(sql.Identifier(t_e))) as cp:
            hexes = shapely.to_wkb(shapely.set_srid(ent.geometry.to_numpy(), 4490), hex=True, include_srid=True)
            for i, h in enumerate(hexes):
                cp.write_row((i, h))
        conn.execute(sql.SQL("CREATE INDEX ON {} USING gist (geom)").format(sql.Identifier(t_g)))
        conn.execute(sql.SQL("ANALYZE {}").format(sql.Identifier(t_g)))
        rows = conn.execute(
            sql.SQL(
                'SELECT e.id, g.layer, g.level, min(g.code COLLATE "C") FROM {} e JOIN {} g '
                "ON ST_Covers(g.geom, e.geom) GROUP BY e.id, g.layer, g.level"
            ).format(sql.Identifier(t_e), sql.Identifier(t_g))
        ).fetchall()
        conn.execute(sql.SQL("DROP TABLE {}, {}").format(sql.Identifier(t_g), sql.Identifier(t_e)))
    pg = {(int(i), layer, int(lv)): code for i, layer, lv, code in rows}
    table = assignment.table[assignment.table["kind"] == "enterprise"]
    compared = 0
    for layer, part in table.groupby("layer"):
        for col in assignment.level_columns:
            lv = int(col[6:])
            if not part[f"has_{col}"].any():
                continue
            ours = part[col].to_numpy()
            theirs = [pg.get((i, layer, lv)) for i in range(len(ent))]
            assert list(ours) == theirs, (layer, lv)
            compared += len(ours)
    assert compared == len(ent) * sum(
        len(set(g["level"])) for g, _ in sample_district.plans.values()
    )


# --------------------------------------------------------------------------- responsible, outside


def test_responsible_grid_by_supervision_level(sample_district, assignment) -> None:
    t = assignment.table
    ent = t[t["kind"] == "enterprise"]
    assert len(ent) == len(sample_district.enterprises) * len(sample_district.plans)
    for s, lv in SUPERVISION_GRID_LEVEL.items():
        part = ent[ent["supervision_level"] == s.value]
        assert len(part)
        assert (part["responsible_level"] == lv).all()
        assert (part["responsible_code"].to_numpy() == part[f"level_{lv}"].to_numpy()).all()
        assert part["responsible_code"].notna().all()
        # the responsible grid's code has the level's length
        assert part["responsible_code"].str.len().eq({1: 6, 2: 9, 3: 12}[lv]).all()
    inc = t[t["kind"] == "incident"]
    assert inc["responsible_code"].isna().all() and inc["responsible_level"].isna().all()
    # nesting: a level's code extends the code of the level above
    for col_a, col_b in zip(assignment.level_columns, assignment.level_columns[1:], strict=False):
        both = t[t[col_a].notna() & t[col_b].notna()]
        assert all(b.startswith(a) for a, b in zip(both[col_a], both[col_b], strict=True))


def test_outside_lists_points_no_grid_covers_per_layer_and_level(sample_district) -> None:
    grids, _ = sample_district.plans["environment"]
    dropped = grids[grids["level"] == 3].iloc[5]
    holey = grids[grids["code"] != dropped["code"]]
    ent = sample_district.enterprises.reset_index(drop=True)
    far = gpd.GeoDataFrame(
        {"credit_code": ["FAR"], "name": ["远方企业"], "supervision_level": ["town"]},
        geometry=[shapely.Point(100.0, 20.0)],
        crs=ent.crs,
    )
    ents = pd.concat([ent, far], ignore_index=True)
    result = assign({"environment": (9, holey)}, ents, sample_district.incidents.iloc[:0])
    out = result.outside()
    inside_dropped = set(np.flatnonzero(shapely.covers(dropped["geom"], ents.geometry.to_numpy())))
    assert inside_dropped  # the dropped grid held enterprises
    far_id = len(ents) - 1
    assert set(out.loc[out["level"] == 3, "id"]) == inside_dropped | {far_id}
    assert set(out.loc[out["level"] == 2, "id"]) == {far_id}
    assert set(out.loc[out["level"] == 1, "id"]) == {far_id}
    assert (out["layer"] == "environment").all() and (out["plan_id"] == 9).all()
    summary = result.summary().set_index(["level", "kind"])
    assert summary.loc[(3, "enterprise"), "outside"] == len(inside_dropped) + 1
    # a level the layer does not have is not "outside"
    both = assign({"environment": (9, holey), "community": (8, sample_district.plans["community"][0])}, far, None)
    assert set(both.outside().query("layer == 'environment'")["level"]) == {1, 2, 3}
    assert set(both.outside().query("layer == 'community'")["level"]) == {1, 2, 3, 4}


# --------------------------------------------------------------------------- plan diff


def _moved_plan(grids: gpd.GeoDataFrame, ent: gpd.GeoDataFrame):
    """Move the boundary between two neighbouring level-3 grids of one town: a strip
    of B along A goes to A. Returns (new grids, A code, B code, strip)."""
    g3 = grids[grids["level"] == 3].reset_index(drop=True)
    geoms = g3.geometry.to_numpy()
    tree = shapely.STRtree(geoms)
    pts = ent.geometry.to_numpy()
    best = None
    for i, j in zip(*tree.query(geoms, predicate="touches"), strict=True):
        if i >= j or g3.loc[i, "parent_code"] != g3.loc[j, "parent_code"]:
            continue
        if shapely.length(shapely.intersection(geoms[i], geoms[j])) <= 0:
            continue
        strip = shapely.intersection(geoms[j], shapely.buffer(geoms[i], 0.004))
        n = int(shapely.contains_properly(strip, pts).sum())
        if best is None or n > best[0]:
            best = (n, i, j, strip)
    n, i, j, strip = best
    assert n >= 3
    new = grids.copy()
    a_code, b_code = g3.loc[i, "code"], g3.loc[j, "code"]
    new.loc[new["code"] == a_code, "geom"] = shapely.union(geoms[i], strip)
    new.loc[new["code"] == b_code, "geom"] = shapely.difference(geoms[j], strip)
    return new, a_code, b_code, strip


@pytest.fixture(scope="module")
def moved(sample_district):
    grids, _ = sample_district.plans["environment"]
    return _moved_plan(grids, sample_district.enterprises)


def test_plan_diff_lists_exactly_the_enterprises_in_the_moved_strip(sample_district, moved) -> None:
    grids, _ = sample_district.plans["environment"]
    new, a_code, b_code, strip = moved
    ent = sample_district.enterprises.reset_index(drop=True)
    inc = sample_district.incidents.reset_index(drop=True)
    diff = plan_diff(grids, new, ent, inc, open_only=False)
    in_strip = shapely.contains_properly(strip, ent.geometry.to_numpy())
    e = diff[diff["kind"] == "enterprise"]
    assert set(e["id"]) == set(np.flatnonzero(in_strip))
    assert (e["level"] == 3).all() and (e["old_code"] == b_code).all() and (e["new_code"] == a_code).all()
    assert (e["responsible"] == (ent.loc[e["id"], "supervision_level"].to_numpy() == "village")).all()
    i = diff[diff["kind"] == "incident"]
    assert set(i["id"]) == set(np.flatnonzero(shapely.contains_properly(strip, inc.geometry.to_numpy())))
    # only open incidents by default
    open_diff = plan_diff(grids, new, ent, inc)
    opened = set(np.flatnonzero((inc["status"] == "open").to_numpy()))
    assert set(open_diff.loc[open_diff["kind"] == "incident", "id"]) == set(i["id"]) & opened
    assert plan_diff(grids, grids, ent, inc).empty


# --------------------------------------------------------------------------- chunks


@pytest.fixture(scope="module")
def indexes(sample_district) -> dict[int, GridIndex]:
    return level_indexes(sample_district.plans["community"][0])


def test_chunked_streaming_equals_one_shot(sample_district, indexes, tmp_path: Path) -> None:
    x, y = _points(sample_district.outline.bounds, 100_000)
    ix = indexes[4]
    one = ix.locate(x, y)
    chunks = ((x[a : a + 7_777], y[a : a + 7_777]) for a in range(0, len(x), 7_777))
    assert np.array_equal(np.concatenate(list(assign_chunks(ix, chunks))), one)
    many = [indexes[lv] for lv in sorted(indexes)]
    both = locate_chunk(many, x, y)
    assert both.shape == (len(x), 4) and both.dtype == np.int32
    assert all(np.array_equal(both[:, j], many[j].locate(x, y)) for j in range(4))
    assert (codes_at(ix, one)[one < 0] == None).all()  # noqa: E711

    # Parquet: small row groups (whole) and one large row group (read in batches)
    for name, group in (("small.parquet", 30_000), ("large.parquet", 100_000)):
        path = tmp_path / name
        pq.write_table(pa.table({"x": x, "y": y}), path, row_group_size=group)
        got = np.concatenate(list(assign_chunks(ix, parquet_chunks(path, rows=20_000))))
        assert np.array_equal(got, one)
    csv = tmp_path / "p.csv"
    pd.DataFrame({"id": np.arange(len(x)), "x": x, "y": y}).to_csv(csv, index=False, float_format="%.17g")
    got = np.concatenate(list(assign_chunks(ix, csv_chunks(csv, rows=30_000))))
    assert np.array_equal(got, one)


@pytest.mark.postgis
def test_cursor_chunks_from_postgis(sample_district, indexes, pg_url) -> None:
    x, y = _points(sample_district.outline.bounds, 50_000, seed=5)
    table = f"asg_pts_{secrets.token_hex(3)}"
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE TABLE {} (id int, geom geometry(Point, 4490))").format(sql.Identifier(table)))
        with conn.cursor().copy(sql.SQL("COPY {} (id, geom) FROM STDIN").format(sql.Identifier(table))) as cp:
            hexes = shapely.to_wkb(shapely.set_srid(shapely.points(x, y), 4490), hex=True, include_srid=True)
            for i, h in enumerate(hexes):
                cp.write_row((i, h))
    try:
        query = f"SELECT ST_X(geom), ST_Y(geom) FROM {table} ORDER BY id"
        sizes = []
        parts = []
        for pos in assign_chunks(indexes[4], cursor_chunks(pg_url, query, rows=12_000)):
            sizes.append(len(pos))
            parts.append(pos)
        assert sizes == [12_000] * 4 + [2_000]
        assert np.array_equal(np.concatenate(parts), indexes[4].locate(x, y))
    finally:
        with psycopg.connect(pg_url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP TABLE {}").format(sql.Identifier(table)))


# --------------------------------------------------------------------------- Dask


def test_dask_equals_in_process(sample_district, indexes, tmp_path: Path) -> None:
    dd = pytest.importorskip("dask.dataframe")
    pytest.importorskip("distributed")
    from gis.coverage.dask import GridSpec, assign_dask, dask_client, load_indexes, read_points

    x, y = _points(sample_district.outline.bounds, 100_000, seed=11)
    many = [indexes[lv] for lv in sorted(indexes)]
    path = tmp_path / "pts.parquet"
    pq.write_table(pa.table({"x": x, "y": y}), path, row_group_size=25_000)
    spec = GridSpec.of(many)
    assert GridSpec.of(many).digest == spec.digest
    rebuilt = load_indexes(spec)
    assert load_indexes(spec) is rebuilt  # built once per process
    with dask_client(n_workers=2, processes=False) as client:
        one = assign_dask(read_points(path), indexes[4], client=client)
        assert np.array_equal(one, indexes[4].locate(x, y))
        ddf = dd.from_pandas(pd.DataFrame({"lon": x, "lat": y}), npartitions=3)
        all_levels = assign_dask(ddf, spec, x="lon", y="lat", client=client)
    assert np.array_equal(all_levels, locate_chunk(many, x, y))


# --------------------------------------------------------------------------- CLI


def test_cli_assign_diff_and_assign_file(sample_gpkg: Path, sample_district, moved, tmp_path: Path) -> None:
    from gis.cli import app
    from gis.store import NewPlan, open_store

    db = tmp_path / "s.gpkg"
    shutil.copy(sample_gpkg, db)
    runner = CliRunner()
    out = tmp_path / "a.csv"
    res = runner.invoke(app, ["coverage", "assign", "--layer", "environment", "--out", str(out), "--db", str(db)])
    assert res.exit_code == 0, res.output
    table = pd.read_csv(out, encoding="utf-8-sig", dtype=str)
    n = len(sample_district.enterprises) + len(sample_district.incidents)
    assert len(table) == n and table["level_3"].notna().all()

    new, a_code, b_code, strip = moved
    with open_store(str(db)) as store:
        old_id = store.published_plan("environment").id
        cols = ["code", "name", "level", "parent_code", "admin_code", "geom"]
        new_id = store.write({"grids": new[cols]}, plan=NewPlan("environment", "moved")).plan_id
    diff_out = tmp_path / "d.gpkg"
    res = runner.invoke(app, ["coverage", "diff", str(old_id), str(new_id), "--out", str(diff_out), "--db", str(db)])
    assert res.exit_code == 0, res.output
    d = gpd.read_file(diff_out)
    in_strip = int(shapely.contains_properly(strip, sample_district.enterprises.geometry.to_numpy()).sum())
    assert (d["kind"] == "enterprise").sum() == in_strip
    assert set(d["old_code"]) == {b_code} and set(d["new_code"]) == {a_code}

    pts = tmp_path / "pts.parquet"
    x, y = _points(sample_district.outline.bounds, 20_000, seed=2)
    pq.write_table(pa.table({"x": x, "y": y}), pts)
    res = runner.invoke(
        app,
        ["coverage", "assign-file", str(pts), "--layer", "environment", "--out", str(tmp_path / "o.parquet"),
         "--chunk", "6000", "--db", str(db)],
    )
    assert res.exit_code == 0, res.output
    got = pq.read_table(tmp_path / "o.parquet")
    ix = level_indexes(sample_district.plans["environment"][0])
    assert got.column_names == ["level_1", "level_2", "level_3"]
    assert got.column("level_3").to_pylist() == codes_at(ix[3], ix[3].locate(x, y)).tolist()
