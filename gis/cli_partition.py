"""``gridgis partition LAYER``: k balanced grids inside a parent grid, written as a draft plan."""

from __future__ import annotations

from typing import Annotated

import typer

DbOption = Annotated[
    str | None,
    typer.Option("--db", help="Store URL (postgresql://... or a .gpkg path); default from GRIDGIS_DATABASE_URL"),
]


def partition_command(
    layer: Annotated[str, typer.Argument(help="Layer key of the draft plan (e.g. environment)")],
    parent_code: Annotated[str, typer.Option("--parent-code", help="Grid code of the area to split (town: 9 digits)")],
    k: Annotated[int | None, typer.Option("--k", help="Number of grids (or --grid-workload)")] = None,
    units: Annotated[str, typer.Option(
        help="Units: villages (admin units below the parent), cells, or blocks (cut by the store's roads and "
             "rivers, then by cells; grids prefer the lines as borders)")] = "villages",
    cell_size: Annotated[float, typer.Option(help="Cell side in metres (--units cells or blocks)")] = 300.0,
    cell_shape: Annotated[str, typer.Option(help="square or hex (--units cells or blocks)")] = "square",
    cell_workload: Annotated[float | None, typer.Option(
        help="Size cells from the workload instead: about this many enterprises (the first point weight) "
             "per cell on average (--units cells or blocks; overrides --cell-size)")] = None,
    weights: Annotated[str, typer.Option(
        help="Comma-separated weights: enterprises, weighted_enterprises (with --enterprise-weights), "
             "incidents, area")] = "enterprises,area",
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same grids)")] = 0,
    tries: Annotated[int, typer.Option(
        help="Solve again from seed + 1, ... while a grid is outside its allowance, up to this many solves; "
             "the best is kept (its seed is in the notes)")] = 1,
    tolerance: Annotated[str, typer.Option(
        help="Allowed deviation from the mean: for every weight (0.02 = 2 %), or one per weight, "
             "e.g. enterprises=0.02,area=0.1")] = "0.02",
    plan_name: Annotated[str | None, typer.Option(help="Name of the draft plan")] = None,
    seed_unit: Annotated[list[str] | None, typer.Option(
        "--seed-unit", help="A unit (village code or cell id) to grow a grid from; repeatable")] = None,
    lock: Annotated[list[str] | None, typer.Option(
        "--lock", help="UNIT=GROUP: the group's units end in one grid and never move; repeatable")] = None,
    best_effort: Annotated[bool, typer.Option(
        "--best-effort", help="Partition even when the tolerance is provably out of reach (say so in notes)")] = False,
    grid_workload: Annotated[float | None, typer.Option(
        help="Instead of --k: grids of about this much work each, in --workload-weight (enterprises, "
             "incidents: a count; area: km2); k is the total over it, rounded")] = None,
    workload_weight: Annotated[str | None, typer.Option(
        help="The weight --grid-workload counts (default: the first of --weights)")] = None,
    enterprise_weights: Annotated[str | None, typer.Option(
        help="Weights of the weight weighted_enterprises by --enterprise-weight-by, e.g. "
             "major=4,high=3,medium=2,low=1 (an enterprise with an empty or unlisted value counts 1)")] = None,
    enterprise_weight_by: Annotated[str, typer.Option(
        help="risk_class or supervision_level (for --enterprise-weights)")] = "risk_class",
    db: DbOption = None,
) -> None:
    """Partition a parent grid into k contiguous grids (or grids of a target workload)
    balanced on the weights; write a draft plan."""
    from gis.cli import friendly

    friendly(_run)(layer, parent_code, k, units, cell_size, cell_shape, weights, seed, _parse_tolerance(tolerance),
                   plan_name, db,
                   seed_unit or [], lock or [], best_effort, cell_workload, grid_workload,
                   workload_weight, _parse_pairs(enterprise_weights, "--enterprise-weights", "VALUE=WEIGHT"),
                   enterprise_weight_by, tries)  # fmt: skip


def _parse_pairs(text: str | None, option: str, form: str) -> dict[str, float] | None:
    """``major=4,high=3`` -> {"major": 4.0, "high": 3.0}; ``form`` names the pair in errors."""
    if text is None:
        return None
    out = {}
    for item in text.split(","):
        key, sep, value = item.partition("=")
        try:
            out[key.strip()] = float(value)
        except ValueError:
            sep = ""
        if not sep or not key.strip():
            raise typer.BadParameter(f"{option} takes {form},..., got {item!r}")
    return out


def _parse_tolerance(text: str) -> float | dict[str, float]:
    """``0.02`` (every weight) or ``enterprises=0.02,area=0.1`` (one per weight)."""
    if "=" in text:
        return _parse_pairs(text, "--tolerance", "WEIGHT=TOLERANCE")
    try:
        return float(text)
    except ValueError:
        raise typer.BadParameter(
            f"--tolerance takes a number (0.02) or WEIGHT=TOLERANCE,..., got {text!r}") from None


def _parse_locks(items: list[str]) -> dict[str, str]:
    out = {}
    for item in items:
        unit, sep, group = item.partition("=")
        if not sep or not unit or not group:
            raise typer.BadParameter(f"--lock takes UNIT=GROUP, got {item!r}")
        out[unit.strip()] = group.strip()
    return out


def _run(layer, parent_code, k, units, cell_size, cell_shape, weights, seed, tolerance, plan_name, db,
         seed_units=(), locks=(), best_effort=False, cell_workload=None, grid_workload=None,
         workload_weight=None, enterprise_weights=None, enterprise_weight_by="risk_class", tries=1) -> None:  # fmt: skip
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
    from rich.table import Table

    from gis.cli import _open
    from gis.partition.job import PartitionRequest, run_partition

    request = PartitionRequest(
        layer=layer, parent_code=parent_code, k=k, units=units, cell_size=cell_size, cell_shape=cell_shape,
        weights=[w.strip() for w in weights.split(",") if w.strip()], seed=seed, tolerance=tolerance,
        plan_name=plan_name, seed_units=list(seed_units), locked=_parse_locks(list(locks)),
        best_effort=best_effort, cell_workload=cell_workload, grid_workload=grid_workload,
        workload_weight=workload_weight, enterprise_weights=enterprise_weights,
        enterprise_weight_by=enterprise_weight_by, tries=tries,
    )
    console = Console(stderr=True)
    with _open(db) as store, Progress(
        TextColumn("[bold]partition[/bold] {task.description:<10}"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(), console=console, transient=False,
    ) as bar:
        task = bar.add_task("start", total=1.0)
        outcome = run_partition(store, request, lambda f, stage: bar.update(task, completed=f, description=stage))
    out = Console(width=200)
    table = Table(title=f"{outcome.parent.name} {outcome.parent.code}: {outcome.result.k} grids")
    for col in outcome.table.columns:
        table.add_column(col, justify="right" if outcome.table[col].dtype.kind in "fiu" else "left")
    for row in outcome.table.itertuples(index=False):
        table.add_row(*[f"{v:,.2f}" if isinstance(v, float) else str(v) for v in row])
    out.print(table)
    dev = ", ".join(f"{w} {v:.2f} %" for w, v in outcome.result.max_dev_pct.items())
    typer.echo(f"max deviation: {dev}")
    for en, zh in outcome.result.notes:
        typer.echo(f"note: {en} / {zh}")
    typer.echo(f"draft plan {outcome.plan_id}")


def rebalance_command(
    layer: Annotated[str, typer.Argument(help="Layer key of the plan (e.g. community)")],
    parent_code: Annotated[str, typer.Option("--parent-code", help="Grid whose child grids are rebalanced (a town)")],
    plan: Annotated[int | None, typer.Option(help="Plan to start from; default: the layer's published plan")] = None,
    weights: Annotated[str, typer.Option(help="Comma-separated weights: enterprises, incidents, area")] = "enterprises,area",
    tolerance: Annotated[str, typer.Option(
        help="Target deviation from the mean: for every weight (0.05 = 5 %), or one per weight, "
             "e.g. enterprises=0.05,area=0.15")] = "0.05",
    moves_out: Annotated[str | None, typer.Option("--moves-out", help="Write the moves as CSV (UTF-8 with BOM)")] = None,
    plan_name: Annotated[str | None, typer.Option(help="Name of the draft plan")] = None,
    db: DbOption = None,
) -> None:
    """Rebalance the child grids of a grid by moving their sub-grids (people move along,
    codes renumbered), moving as few enterprises as possible; write a draft plan."""
    from gis.cli import friendly

    friendly(_rebalance)(layer, parent_code, plan, weights, _parse_tolerance(tolerance), moves_out, plan_name, db)


def _rebalance(layer, parent_code, plan, weights, tolerance, moves_out, plan_name, db) -> None:
    from gis.cli import _open
    from gis.partition.plan_rebalance import run_rebalance

    names = [w.strip() for w in weights.split(",") if w.strip()]
    with _open(db) as store:
        out = run_rebalance(store, layer, parent_code, names, tolerance=tolerance, plan_id=plan,
                            plan_name=plan_name)  # fmt: skip
    for name in names:
        typer.echo(f"{name}: max deviation {out.max_dev_pct_before[name]:.1f} % -> {out.max_dev_pct_after[name]:.1f} %")
    typer.echo(f"{len(out.moves)} sub-grids moved, {out.enterprises_moved:g} enterprises change grid "
               f"(lower bound {out.lower_bound:g}); draft plan {out.plan_id} from plan {out.base_plan_id}")  # fmt: skip
    if moves_out:
        out.moves.to_csv(moves_out, index=False, encoding="utf-8-sig")
        typer.echo(f"moves written to {moves_out}")
