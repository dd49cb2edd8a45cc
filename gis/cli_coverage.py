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
    db: DbOption = None,
) -> None:
    """Check a plan's coverage: gaps, overlaps, slivers, nesting, codes, people. Exit 1 on errors."""
    from gis.coverage.gate import check_plan
    from gis.coverage.report import summary, to_json, write_findings

    with _open(db) as store:
        report = check_plan(store, plan_id)
    if as_json:
        typer.echo(json.dumps(to_json(report), ensure_ascii=False, indent=1))
    else:
        typer.echo(summary(report, f"plan {plan_id}"))
    if findings:
        write_findings(report, findings)
        typer.echo(f"wrote {len(report.findings)} findings to {findings}", err=as_json)
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
