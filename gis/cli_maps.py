"""``gridgis board``: the printable notice-board map (公示图) of a grid and its children."""

from __future__ import annotations

import time
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from gis.cli_coverage import DbOption, _open, friendly
from gis.errors import NotFound

STATUS_ZH = {"draft": "草稿", "published": "已发布", "archived": "已归档"}


class Paper(StrEnum):
    A3 = "A3"
    A4 = "A4"


class Orientation(StrEnum):
    landscape = "landscape"
    portrait = "portrait"


def load_board(
    store, plan_id: int, grid_code: str, *, paper: str = "A4", orientation: str = "landscape"
):
    """Read what a board needs from the store and lay it out (a :class:`gis.maps.board.Board`)."""
    from gis.maps.board import ADCODE_ATTRIBUTION, SAMPLE_ATTRIBUTION, render_board

    plan = store.plan(plan_id)
    grids = store.grids(plan_id)
    rows = grids[grids["code"] == grid_code]
    if rows.empty:
        raise NotFound(
            f"Grid {grid_code} is not in plan {plan_id}", f"方案 {plan_id} 中没有网格 {grid_code}"
        )
    parent = rows.iloc[0]
    children = grids[grids["parent_code"] == grid_code]
    if children.empty:
        children = rows
    people = store.people(plan_id)
    people = people[people["grid_code"].isin([grid_code, *children["code"]])]
    lines = store.read("lines")
    if not lines.empty:
        lines = lines[lines.intersects(parent["geom"].buffer(0.005))]
    attribution = [SAMPLE_ATTRIBUTION]
    source = str(store.get_setting("outline_source", "") or "")
    if "adcode" in source.lower():
        attribution.append(ADCODE_ATTRIBUTION)
    layer = store.layers()
    layer_name = dict(zip(layer["key"], layer["name_zh"], strict=True)).get(
        plan.layer_key, plan.layer_key
    )
    when = (plan.published_at or plan.created_at or "")[:10]
    plan_label = f"{layer_name}·{plan.name}（第 {plan.version} 版，{STATUS_ZH.get(str(plan.status), str(plan.status))} {when}）"
    return render_board(
        parent, children, people, lines, plan_label=plan_label, map_date=date.today().isoformat(),
        attribution=attribution, paper=paper, orientation=orientation,
    )  # fmt: skip


@friendly
def board_command(
    plan_id: int,
    grid_code: str,
    out: Path,
    png: Annotated[Path | None, typer.Option("--png", help="Also write a 300 dpi PNG")] = None,
    paper: Annotated[Paper, typer.Option(help="Paper size")] = Paper.A4,
    orientation: Annotated[
        Orientation, typer.Option(help="Page orientation")
    ] = Orientation.landscape,
    db: DbOption = None,
) -> None:
    """Printable notice-board map (公示图) of a grid and its children: PDF, optionally a 300 dpi PNG."""
    t0 = time.perf_counter()
    with _open(db) as store:
        board = load_board(
            store, plan_id, grid_code, paper=paper.value, orientation=orientation.value
        )
    out.write_bytes(board.pdf_bytes())
    if png:
        png.write_bytes(board.png_bytes(300))
    took = time.perf_counter() - t0
    typer.echo(
        f"wrote {out}{' and ' + str(png) if png else ''} ({paper.value} {orientation.value}, {took:.1f} s): "
        f"{len(board.labels)} labels ({board.shortened} shortened, {len(board.skipped)} skipped), "
        f"min {board.min_font_pt:g} pt, {board.people_rows} people rows"
        + (f" ({board.people_omitted} omitted)" if board.people_omitted else "")
        + f", scale 1:{board.scale_denominator:,.0f}"
    )
