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


def load_cards(store, plan_id: int, parent_code: str, *, url_template: str | None = None):
    """Contact cards (a :class:`gis.maps.cards.Sheet`) of the child grids of ``parent_code``
    (the grid itself when it has none)."""
    from gis.maps.atlas import child_grids
    from gis.maps.cards import render_cards

    plan = store.plan(plan_id)
    parent, children = child_grids(store, plan_id, parent_code)
    people = store.people(plan_id)
    people = people[people["grid_code"].isin(list(children["code"]))]
    label = f"{plan.name}（第 {plan.version} 版）"
    return render_cards(
        children,
        people,
        parent_name=str(parent["name"]),
        plan_label=label,
        url_template=url_template,
    )


@friendly
def atlas_command(
    plan_id: int,
    parent_code: str,
    out: Path,
    paper: Annotated[Paper, typer.Option(help="Paper size")] = Paper.A4,
    orientation: Annotated[
        Orientation, typer.Option(help="Page orientation")
    ] = Orientation.landscape,
    db: DbOption = None,
) -> None:
    """Atlas: one PDF with a notice-board page per child grid of PARENT_CODE (like QGIS Atlas)."""
    from gis.maps.atlas import render_atlas

    with _open(db) as store:
        atlas = render_atlas(
            store, plan_id, parent_code, paper=paper.value, orientation=orientation.value,
            progress=lambda i, n, code: typer.echo(f"  page {i}/{n}: {code}", err=True),
        )  # fmt: skip
    out.write_bytes(atlas.pdf)
    n = len(atlas.pages)
    typer.echo(
        f"wrote {out}: {n} pages ({paper.value} {orientation.value}) for the grids of "
        f"{atlas.parent_name} {parent_code} in {atlas.seconds:.1f} s ({atlas.seconds / n:.2f} s/page)"
    )


@friendly
def cards_command(
    plan_id: int,
    parent_code: str,
    out: Path,
    qr_url: Annotated[
        str | None,
        typer.Option(
            "--qr-url",
            help='QR content as a URL template, e.g. "https://example.org/grids/{code}" '
            "({code}, {name}); default: a vCard of the grid leader",
        ),
    ] = None,
    db: DbOption = None,
) -> None:
    """Contact cards (网格联系卡) of the child grids of PARENT_CODE: A4 sheets with a QR code each."""
    if qr_url is not None and "{code}" not in qr_url:
        raise typer.BadParameter("--qr-url must contain {code}")
    t0 = time.perf_counter()
    with _open(db) as store:
        sheet = load_cards(store, plan_id, parent_code, url_template=qr_url)
    out.write_bytes(sheet.pdf)
    typer.echo(
        f"wrote {out}: {len(sheet.cards)} cards on {sheet.pages} A4 pages "
        f"(QR: {'URL' if qr_url else 'vCard'}) in {time.perf_counter() - t0:.1f} s"
    )
