"""``gridgis coverage ...`` and ``gridgis stats``: check, repair, per-grid statistics."""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Annotated, Any

import typer

# gis.cli imports this module at its end to register it; importing gis.cli back here
# at import time would be circular when it runs as ``python -m gis.cli``, so its
# helpers are looked up when a command runs.
DbOption = Annotated[
    str | None,
    typer.Option(
        "--db",
        help="Store URL (postgresql://... or a .gpkg path); default from GRIDGIS_DATABASE_URL",
    ),
]


def _open(db: str | None):
    from gis.cli import _open as open_gated

    return open_gated(db)


def friendly(fn: Callable) -> Callable:
    """gis.cli.friendly, resolved at call time."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from gis.cli import friendly as cli_friendly

        return cli_friendly(fn)(*args, **kwargs)

    return wrapper


app = typer.Typer(help="Coverage of a plan: check (全覆盖、无盲区), repair.", no_args_is_help=True)


@app.command("check")
@friendly
def check(
    plan_id: int,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the report as JSON (findings as GeoJSON)")
    ] = False,
    findings: Annotated[
        Path | None, typer.Option(help="Also write the findings to a .gpkg or .geojson file")
    ] = None,
    map_html: Annotated[
        Path | None, typer.Option("--map", help="Also write a standalone map (HTML) of the plan and its findings")
    ] = None,
    db: DbOption = None,
) -> None:
    """Check a plan's coverage: gaps, overlaps, slivers, nesting, codes, people. Exit 1 on errors."""
    from gis.coverage.gate import check_plan
    from gis.coverage.report import summary, to_json, write_findings

    with _open(db) as store:
        report = check_plan(store, plan_id)
        if map_html:
            from gis.maps.assets import inline
            from gis.maps.folium_map import store_map

            page = store_map(store, plan_id, findings=report.findings).get_root().render()
            map_html.write_text(inline(page), encoding="utf-8")
    if as_json:
        typer.echo(json.dumps(to_json(report), ensure_ascii=False, indent=1))
    else:
        typer.echo(summary(report, f"plan {plan_id}"))
    if findings:
        write_findings(report, findings)
        typer.echo(f"wrote {len(report.findings)} findings to {findings}", err=as_json)
    if map_html:
        typer.echo(f"wrote the map of the findings to {map_html}", err=as_json)
    if not report.ok:
        raise typer.Exit(1)


@app.command("repair")
@friendly
def repair(
    plan_id: int,
    gap_width: Annotated[
        float,
        typer.Option("--gap-width", help="Repair gaps/overlaps/crossings up to this width (m)"),
    ],
    snap: Annotated[float, typer.Option("--snap", help="Snap vertices closer than this (m)")],
    name: Annotated[str | None, typer.Option(help="Name of the new draft plan")] = None,
    db: DbOption = None,
) -> None:
    """Repair a plan's coverage into a NEW draft plan (the plan itself is not touched); print every change."""
    from gis.coverage.gate import plan_inputs
    from gis.coverage.repair import repair_coverage
    from gis.coverage.report import summary
    from gis.store import NewPlan

    with _open(db) as store:
        plan = store.plan(plan_id)
        grids, people, outline = plan_inputs(store, plan_id)
        result = repair_coverage(grids, people, outline, gap_width_m=gap_width, snap_m=snap)
        for c in result.changes:
            typer.echo(f"changed {c}")
        cols = [
            c
            for c in ("code", "name", "level", "parent_code", "admin_code", "geom")
            if c in result.grids
        ]
        people_cols = [
            c
            for c in ("grid_code", "role", "name", "phone", "department", "photo_path")
            if c in people
        ]
        written = store.write(
            {"grids": result.grids[cols], "people": people[people_cols]},
            plan=NewPlan(
                plan.layer_key,
                name or f"{plan.name} (修复)",
                f"repair of plan {plan_id}: gap width {gap_width} m, snap {snap} m",
            ),
        )
    typer.echo(f"{len(result.changes)} grid(s) changed; new draft plan {written.plan_id}")
    typer.echo(summary(result.after, f"plan {written.plan_id}"))


def stats(
    plan_id: int,
    out: Annotated[
        Path | None, typer.Option(help="Write the table: .csv (UTF-8 with BOM) or .xlsx")
    ] = None,
    db: DbOption = None,
) -> None:
    """Per-grid statistics of a plan: area, enterprises, incidents, people, load per grid worker."""
    from gis.coverage.stats import grid_stats, write_stats

    with _open(db) as store:
        store.plan(plan_id)
        result = grid_stats(
            store.grids(plan_id),
            store.read("enterprises"),
            store.read("incidents"),
            store.people(plan_id),
        )
    if out:
        write_stats(result, out)
        typer.echo(f"wrote {len(result.table)} grids to {out}")
    else:
        typer.echo(result.table.to_string(max_rows=40))
    for lv, sums in result.level_sums().items():
        typer.echo(
            f"level {lv}: enterprises {sums['enterprises']} / {result.totals['enterprises']}, "
            f"incidents {sums['incidents']} / {result.totals['incidents']} (outside: {result.outside[lv]})"
        )


stats_command = friendly(stats)


# ---------------------------------------------------------------------- assignment (issue 5, item 4/6)


def _published_plans(store, layer: str | None) -> dict:
    from gis.errors import NotFound

    keys = [layer] if layer else list(store.layers()["key"])
    plans = {}
    for key in keys:
        plan = store.published_plan(key)
        if plan is not None:
            plans[key] = (plan.id, store.grids(plan.id))
    if not plans:
        raise NotFound(
            f"No published plan{' of layer ' + layer if layer else ''}",
            f"{'图层 ' + layer + ' ' if layer else ''}没有已发布的方案",
        )
    return plans


def assign_points_cmd(
    layer: Annotated[str | None, typer.Option(help="Only this layer (default: every layer with a published plan)")] = None,
    out: Annotated[Path | None, typer.Option(help="Write the assignment: .csv (UTF-8 with BOM), .gpkg or .geojson")] = None,
    outside: Annotated[Path | None, typer.Option(help="Also write what no grid covers (per layer/level)")] = None,
    db: DbOption = None,
) -> None:
    """Assign every enterprise and incident to its grid in every layer and level (published plans)."""
    from gis.coverage.assign import assign, write_points_table

    with _open(db) as store:
        plans = _published_plans(store, layer)
        result = assign(plans, store.read("enterprises"), store.read("incidents"))
    typer.echo(result.summary().to_string(index=False))
    if out:
        write_points_table(result.export_table(), out)
        typer.echo(f"wrote {len(result.table)} rows to {out}")
    if outside:
        missing = result.outside()
        write_points_table(missing, outside, layer="outside")
        typer.echo(f"wrote {len(missing)} outside rows to {outside}")


def diff_cmd(
    plan_a: int,
    plan_b: int,
    out: Annotated[Path | None, typer.Option(help="Write the changes: .csv (UTF-8 with BOM), .gpkg or .geojson")] = None,
    all_incidents: Annotated[bool, typer.Option("--all-incidents", help="Also closed incidents")] = False,
    db: DbOption = None,
) -> None:
    """Which enterprises and open incidents change grid from plan A to plan B (same layer)."""
    from gis.coverage.assign import plan_diff, write_points_table
    from gis.errors import InvalidInput

    with _open(db) as store:
        a, b = store.plan(plan_a), store.plan(plan_b)
        if a.layer_key != b.layer_key:
            raise InvalidInput(
                f"Plans {plan_a} ({a.layer_key}) and {plan_b} ({b.layer_key}) are of different layers",
                f"方案 {plan_a}（{a.layer_key}）与方案 {plan_b}（{b.layer_key}）不属于同一图层",
            )
        changes = plan_diff(
            store.grids(plan_a),
            store.grids(plan_b),
            store.read("enterprises"),
            store.read("incidents"),
            open_only=not all_incidents,
        )
    typer.echo(f"{len(changes)} change(s) from plan {plan_a} to plan {plan_b}")
    if len(changes):
        counts = changes.groupby(["level", "kind"]).size().rename("changes").reset_index()
        typer.echo(counts.to_string(index=False))
    if out:
        write_points_table(changes, out, layer="diff")
        typer.echo(f"wrote {len(changes)} rows to {out}")
    elif len(changes):
        typer.echo(changes.drop(columns=["x", "y"]).to_string(index=False, max_rows=40))


def assign_file_cmd(
    points: Annotated[Path, typer.Argument(help="A .parquet or .csv file with columns x, y (EPSG:4490 lon/lat)")],
    layer: Annotated[str, typer.Option(help="Layer whose published plan to use")],
    out: Annotated[Path, typer.Option(help="Output .parquet: the input row order, one code column per level")],
    level: Annotated[list[int] | None, typer.Option(help="Level(s) (default: all levels of the plan)")] = None,
    x: Annotated[str, typer.Option(help="x column")] = "x",
    y: Annotated[str, typer.Option(help="y column")] = "y",
    chunk: Annotated[int, typer.Option(help="Points per chunk")] = 1_000_000,
    dask: Annotated[str | None, typer.Option(help="Run on Dask: 'local' (LocalCluster) or a scheduler address")] = None,
    db: DbOption = None,
) -> None:
    """Assign a large point file in chunks (numpy, bounded memory), in process or on Dask."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    from gis.coverage.assign import assign_chunks, csv_chunks, level_indexes, parquet_chunks

    with _open(db) as store:
        plan_id, grids = _published_plans(store, layer)[layer]
    indexes = level_indexes(grids)
    levels = sorted(level or indexes)
    chosen = [indexes[lv] for lv in levels if lv in indexes]
    names = [f"level_{lv}" for lv in levels if lv in indexes]

    def table(pos: np.ndarray) -> pa.Table:
        pos = pos.reshape(len(pos), -1)
        cols = {}
        for j, ix in enumerate(chosen):
            codes = pa.array(ix.codes.tolist(), type=pa.string())
            p = pa.array(pos[:, j], mask=pos[:, j] < 0)
            cols[names[j]] = pa.DictionaryArray.from_arrays(p, codes).dictionary_decode()
        return pa.table(cols)

    n = 0
    if dask:
        from gis.coverage.dask import assign_dask

        pos = assign_dask(str(points), chosen, x=x, y=y, address=None if dask == "local" else dask)
        pq.write_table(table(pos), out)
        n = len(pos)
    else:
        reader = csv_chunks if points.suffix.lower() == ".csv" else parquet_chunks
        writer = None
        try:
            for pos in assign_chunks(chosen, reader(points, x, y, chunk)):
                t = table(pos)
                writer = writer or pq.ParquetWriter(out, t.schema)
                writer.write_table(t)
                n += len(pos)
        finally:
            if writer is not None:
                writer.close()
    typer.echo(f"assigned {n} points to plan {plan_id} ({layer}) levels {levels}; wrote {out}")


assign_command = friendly(assign_points_cmd)
diff_command = friendly(diff_cmd)
assign_file_command = friendly(assign_file_cmd)
app.command("assign")(assign_command)
app.command("diff")(diff_command)
app.command("assign-file")(assign_file_command)
