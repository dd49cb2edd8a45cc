"""The one entry point for people: ``gridgis <command>`` (typer).

Each command is a thin shell: parse, call the library, print a report. Errors
from the library are printed in English and Chinese with exit code 1, never as a
stack trace.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Annotated, Any

import typer

from gis.errors import GridGisError
from gis.settings import Settings

app = typer.Typer(
    help="gridgis: grid-based supervision (网格化监管) — store, import/export, plans, service.",
    no_args_is_help=True,
    add_completion=False,
)
plan_app = typer.Typer(help="Grid plans: list, show, publish, delete drafts.", no_args_is_help=True)
layer_app = typer.Typer(help="Grid layers (sectors): list, add.", no_args_is_help=True)
app.add_typer(plan_app, name="plan")
app.add_typer(layer_app, name="layer")

DbOption = Annotated[
    str | None,
    typer.Option("--db", help="Store URL (postgresql://... or a .gpkg path); default from GRIDGIS_DATABASE_URL"),
]


def _url(db: str | None) -> str:
    return db or Settings().store.resolved_url()


def _open(db: str | None):
    from gis.coverage.gate import install
    from gis.store import open_store

    return install(open_store(_url(db)))  # publishing goes through the coverage gate


def friendly(fn: Callable) -> Callable:
    """Print domain errors as text and exit 1 instead of showing a traceback."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except GridGisError as exc:
            typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
            raise typer.Exit(1) from None

    return wrapper


def _masked(url: str) -> str:
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        cred, host = rest.rsplit("@", 1)
        user = cred.split(":", 1)[0]
        return f"{scheme}://{user}{':***' if ':' in cred else ''}@{host}"
    return url


# ------------------------------------------------------------------------ service


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Bind address (GRIDGIS_HOST)")] = None,
    port: Annotated[int | None, typer.Option(help="Port (GRIDGIS_PORT)")] = None,
    workers: Annotated[int | None, typer.Option(help="Worker processes (GRIDGIS_WORKERS)")] = None,
    db: DbOption = None,
) -> None:
    """Run the HTTP API (OpenAPI docs at /docs, map at /maps)."""
    import os

    import uvicorn

    settings = Settings()
    if db:
        os.environ["GRIDGIS_DATABASE_URL"] = db
    h = host or settings.server.host
    p = port or settings.server.port
    typer.echo(f"gridgis serving {_masked(_url(db))} on http://{h}:{p} (docs: /docs, map: /maps)")
    uvicorn.run(
        "api.app:create_app",
        factory=True,
        host=h,
        port=p,
        workers=workers or settings.server.workers,
        log_level="info",
    )


@app.command("check-db")
@friendly
def check_db(db: DbOption = None) -> None:
    """Open the store (creating or migrating it) and print what it holds."""
    store = _open(db)
    with store:
        typer.echo(f"backend:      {store.backend}")
        typer.echo(f"url:          {_masked(store.url)}")
        extra = getattr(store, "server_info", None)
        if callable(extra):
            for k, v in extra().items():
                typer.echo(f"{k + ':':<13} {v}")
        typer.echo(f"plan version: {store.plan_version()}")
        for table, n in store.counts().items():
            typer.echo(f"  {table:<12} {n:>8}")
        for p in store.plans(status="published"):
            typer.echo(f"  published: {p.layer_key} plan {p.id} v{p.version} {p.name}")
    typer.echo("ok")


# ------------------------------------------------------------------------ sample


@app.command()
@friendly
def sample(
    seed: Annotated[int, typer.Option(help="Random seed; the same seed gives the same district")] = 20261125,
    outline: Annotated[Path | None, typer.Option(help="Fill a real outline (GeoJSON/GPKG/Shapefile)")] = None,
    outline_crs: Annotated[str | None, typer.Option(help="CRS of the outline (wgs84, gcj02, bd09, EPSG:n)")] = None,
    force: Annotated[bool, typer.Option(help="Replace an existing embedded store")] = False,
    if_empty: Annotated[bool, typer.Option("--if-empty", help="Do nothing when the store already has grids")] = False,
    boundaries: Annotated[Path | None, typer.Option(help="Also write the admin boundaries as GeoJSON here")] = None,
    db: DbOption = None,
) -> None:
    """Generate the deterministic sample district and load it into the store."""
    from gis.sample import generate_district, load_district, write_boundaries
    from gis.store import is_postgres_url, open_store

    url = _url(db)
    if not is_postgres_url(url):
        path = Path(url.removeprefix("gpkg://"))
        if path.exists():
            with open_store(url) as existing:
                has_data = existing.counts()["grids"] > 0
            if has_data and if_empty:
                typer.echo(f"store {path} already holds grids; sample not loaded again")
                return
            if has_data and not force:
                raise GridGisError(
                    f"The store {path} already holds data; pass --force to replace it",
                    f"数据库 {path} 已有数据；如需替换请加 --force",
                )
            for suffix in ("", "-wal", "-shm"):
                Path(str(path) + suffix).unlink(missing_ok=True)
    from gis.coverage.gate import install

    store = install(open_store(url))  # the sample's plans pass the gate and get their simplified copies
    with store:
        if store.counts()["grids"] and if_empty:
            typer.echo("store already holds grids; sample not loaded again")
            return
        if store.counts()["grids"]:
            raise GridGisError(
                "The PostGIS store already holds grids; load the sample into an empty database",
                "PostGIS 数据库已有网格，请将样例载入空库",
            )
        typer.echo(f"generating sample district (seed {seed}) ...")
        district = generate_district(seed=seed, outline=outline, outline_crs=outline_crs)
        summary = load_district(store, district)
        if boundaries:
            write_boundaries(district, boundaries)
    typer.echo(json.dumps(summary, ensure_ascii=False, indent=1, default=str))


# ------------------------------------------------------------------------ maps


@app.command("map")
@friendly
def map_(
    plan_id: int,
    out: Annotated[Path, typer.Argument(help="The standalone HTML file to write")],
    db: DbOption = None,
) -> None:
    """Write the interactive map of a plan as one standalone HTML file (works offline)."""
    from gis.maps.assets import inline
    from gis.maps.folium_map import store_map

    with _open(db) as store:
        page = inline(store_map(store, plan_id, inline_max=10**9).get_root().render())
    out.write_text(page, encoding="utf-8")
    typer.echo(f"wrote {out} ({len(page.encode()) / 1e6:.1f} MB)")


# ------------------------------------------------------------------------ lookup


@app.command()
@friendly
def lookup(
    lon: Annotated[float, typer.Argument(help="longitude (or x) in --crs")],
    lat: Annotated[float, typer.Argument(help="latitude (or y) in --crs")],
    crs: Annotated[str | None, typer.Option(help="wgs84, cgcs2000, gcj02, bd09 or EPSG:n")] = None,
    layers: Annotated[str | None, typer.Option(help="comma-separated layer keys; default all")] = None,
    db: DbOption = None,
) -> None:
    """Whose grid is this point: every layer's grids and people, as JSON."""
    from gis.live import load_snapshot
    from gis.lookup.engine import LookupOptions, answer

    settings = Settings()
    with _open(db) as store:
        snap = load_snapshot(store)
    options = LookupOptions(settings.lookup.near_m, settings.lookup.snap_m, settings.lookup.enterprise_m)
    keys = [k for k in layers.split(",") if k] if layers else None
    result = answer(snap, lon, lat, crs, default_crs=settings.geo.default_crs or None, options=options, layers=keys)
    typer.echo(json.dumps(result, ensure_ascii=False, indent=1))


@app.command("lookup-batch")
@friendly
def lookup_batch(
    source: Annotated[Path, typer.Argument(help="CSV with lon/lat (or 经度/纬度) columns")],
    out: Annotated[Path, typer.Argument(help="CSV to write: the input columns plus a code per layer")],
    crs: Annotated[str | None, typer.Option(help="CRS of the points")] = None,
    layers: Annotated[str | None, typer.Option(help="comma-separated layer keys; default all")] = None,
    level: Annotated[int | None, typer.Option(min=1, max=4, help="level to answer; default the finest")] = None,
    db: DbOption = None,
) -> None:
    """Grid codes for every row of a CSV, streamed in chunks (any number of rows)."""
    from gis.crs import normalize_crs
    from gis.live import load_snapshot
    from gis.lookup.batch import layer_keys, stream_csv

    name = crs or Settings().geo.default_crs
    if not name:
        raise GridGisError("Name the CRS of the points with --crs", "请用 --crs 指定坐标系")
    with _open(db) as store:
        snap = load_snapshot(store)
    keys = layer_keys(snap, layers)
    with source.open("rb") as src, out.open("wb") as dst:
        for chunk in stream_csv(snap, src, normalize_crs(name), keys, level):
            dst.write(chunk)
    typer.echo(f"wrote {out} (plan version {snap.plan_version}, layers {', '.join(keys)})")


# ------------------------------------------------------------------------ import / export


@app.command("import")
@friendly
def import_(
    path: Annotated[Path, typer.Argument(help="GeoJSON, GeoPackage, Shapefile or CSV (lon/lat)")],
    table: Annotated[str | None, typer.Option(help="Target table; default: GeoPackage layers named like tables")] = None,
    crs: Annotated[str | None, typer.Option(help="CRS of the data: wgs84, cgcs2000, gcj02, bd09 or EPSG:n")] = None,
    layer: Annotated[str | None, typer.Option(help="Layer inside a GeoPackage")] = None,
    encoding: Annotated[str | None, typer.Option(help="Attribute encoding, e.g. gbk")] = None,
    plan: Annotated[int | None, typer.Option(help="Existing draft plan id for grids/people")] = None,
    new_plan: Annotated[str | None, typer.Option(help="Create a draft plan in this layer for grids/people")] = None,
    plan_name: Annotated[str, typer.Option(help="Name of the new draft plan")] = "导入方案",
    make_valid: Annotated[bool, typer.Option(help="Repair invalid geometries and report each repair")] = False,
    attribution: Annotated[
        list[str] | None,
        typer.Option(help='Credit the data needs on every map, e.g. "Vonng/adcode, CC BY 4.0" (repeatable)'),
    ] = None,
    db: DbOption = None,
) -> None:
    """Import features into the store: all or nothing, every problem reported by row and field."""
    from gis.attribution import add as add_credits
    from gis.attribution import for_source
    from gis.importer import import_file
    from gis.store import NewPlan

    settings = Settings()
    target: Any = plan if plan is not None else (NewPlan(new_plan, plan_name) if new_plan else None)
    with _open(db) as store:
        outcome = import_file(
            store,
            path,
            table=table,
            layer=layer,
            crs=crs,
            default_crs=settings.geo.default_crs or None,
            encoding=encoding,
            make_valid=make_valid,
            plan=target,
            max_distance_km=settings.geo.max_distance_from_area_km,
        )
        new_credits = [*(attribution or []), *for_source(path)]
        credited = add_credits(store, *new_credits) if new_credits else []
    for tbl, report in outcome.reports:
        typer.echo(f"{tbl}: {report.rows} rows from {path.name}; CRS {report.crs_used} ({report.crs_source})")
        for w in report.warnings:
            typer.secho(f"  warning: {w}", fg=typer.colors.YELLOW)
        for r in report.repairs:
            typer.echo(f"  repaired: {r}")
        if report.dropped_columns:
            typer.echo(f"  ignored columns: {', '.join(report.dropped_columns)}")
    written = outcome.written
    assert written is not None
    typer.echo(f"stored: {written.inserted}" + (f" in plan {written.plan_id}" if written.plan_id else ""))
    if credited:
        typer.echo(f"credited on maps: {'; '.join(credited)}")


@app.command()
@friendly
def export(
    path: Annotated[Path, typer.Argument(help="Output file: .geojson, .gpkg, .shp or .csv")],
    table: Annotated[str | None, typer.Option(help="Table to export; default all tables (GeoPackage only)")] = None,
    plan: Annotated[int | None, typer.Option(help="Only this plan's grids/people")] = None,
    crs: Annotated[str, typer.Option(help="CRS to write: wgs84, cgcs2000, gcj02, bd09 or EPSG:n")] = "cgcs2000",
    db: DbOption = None,
) -> None:
    """Export tables to files that GDAL and QGIS open (CSV as UTF-8 with BOM)."""
    from gis.io import write_table, write_tables
    from gis.model import DATA_TABLES, TABLES

    store = _open(db)
    with store:

        def frame(name: str):
            where = {"plan_id": plan} if plan is not None and TABLES[name].plan_scoped else None
            return store.read(name, where)

        if table is None:
            if path.suffix.lower() != ".gpkg":
                raise GridGisError("Exporting all tables needs a .gpkg path, or pass --table", "导出全部表需使用 .gpkg 文件，或指定 --table")
            frames = {name: frame(name) for name in DATA_TABLES}
            write_tables(frames, path, crs=crs)
            typer.echo(f"wrote {', '.join(f'{k} {len(v)}' for k, v in frames.items())} to {path}")
        else:
            f = frame(table)
            write_table(f, path, crs=crs, table=table)
            typer.echo(f"wrote {len(f)} {table} rows to {path} ({crs})")


# ------------------------------------------------------------------------ plans and layers


@plan_app.command("list")
@friendly
def plan_list(layer: Annotated[str | None, typer.Option()] = None, db: DbOption = None) -> None:
    """List plans."""
    with _open(db) as store:
        for p in store.plans(layer):
            typer.echo(f"{p.id:>4}  {p.layer_key:<14} v{p.version:<3} {p.status:<10} {p.name}")


@plan_app.command("publish")
@friendly
def plan_publish(
    plan_id: int,
    acknowledge: Annotated[
        list[str] | None, typer.Option("--acknowledge", help="Accept coverage warnings of this kind (repeatable)")
    ] = None,
    db: DbOption = None,
) -> None:
    """Make a draft the published plan of its layer (its predecessor is archived).

    Refused while the coverage check finds errors or unacknowledged warnings."""
    with _open(db) as store:
        p = store.publish(plan_id, acknowledge=acknowledge)
        typer.echo(f"published plan {p.id} ({p.layer_key} v{p.version}); store plan version {store.plan_version()}")


@plan_app.command("delete")
@friendly
def plan_delete(plan_id: int, db: DbOption = None) -> None:
    """Delete a draft plan with its grids and people."""
    with _open(db) as store:
        store.delete_plan(plan_id)
        typer.echo(f"deleted draft plan {plan_id}")


@layer_app.command("list")
@friendly
def layer_list(db: DbOption = None) -> None:
    """List grid layers."""
    with _open(db) as store:
        for row in store.layers().to_dict("records"):
            typer.echo(f"{row['key']:<14} {row['name_zh']}  (levels 1-{row['max_level']})")


@layer_app.command("add")
@friendly
def layer_add(
    key: str,
    name_zh: str,
    name_en: Annotated[str, typer.Option()] = "",
    max_level: Annotated[int, typer.Option()] = 3,
    db: DbOption = None,
) -> None:
    """Add a sector layer."""
    with _open(db) as store:
        store.add_layer(key, name_zh, name_en, max_level)
        typer.echo(f"added layer {key}")


from gis.cli_coverage import app as coverage_app  # noqa: E402  (defined after the shared helpers)
from gis.cli_coverage import assign_command, diff_command, stats_command  # noqa: E402

app.add_typer(coverage_app, name="coverage")
app.command("stats")(stats_command)
app.command("assign")(assign_command)
app.command("diff")(diff_command)
from gis.cli_maps import board_command  # noqa: E402

app.command("board")(board_command)
from gis.cli_maps import atlas_command, cards_command  # noqa: E402

app.command("atlas")(atlas_command)
app.command("cards")(cards_command)
from gis.cli_partition import partition_command, rebalance_command  # noqa: E402

app.command("partition")(partition_command)
app.command("rebalance")(rebalance_command)


def main() -> None:  # pragma: no cover - console entry
    app(prog_name="gridgis")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
