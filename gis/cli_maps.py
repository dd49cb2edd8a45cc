"""``gridgis board``: the printable notice-board map (公示图) of a grid and its children."""

from __future__ import annotations

import time
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from gis.cli_coverage import DbOption, _open, friendly
from gis.maps.prints import load_board, load_cards


class Paper(StrEnum):
    A3 = "A3"
    A4 = "A4"


class Orientation(StrEnum):
    landscape = "landscape"
    portrait = "portrait"


PaperOption = Annotated[Paper, typer.Option(help="Paper size")]
OrientationOption = Annotated[Orientation, typer.Option(help="Page orientation")]


@friendly
def board_command(
    plan_id: int,
    grid_code: str,
    out: Path,
    png: Annotated[Path | None, typer.Option("--png", help="Also write a 300 dpi PNG")] = None,
    paper: PaperOption = Paper.A4,
    orientation: OrientationOption = Orientation.landscape,
    db: DbOption = None,
) -> None:
    """Printable notice-board map (公示图) of a grid and its children: PDF, optionally a 300 dpi PNG."""
    t0 = time.perf_counter()
    with _open(db) as store:
        board = load_board(
            store, plan_id, grid_code, paper=paper.value, orientation=orientation.value
        )
    out.write_bytes(board.pdf_bytes())
    if png:  # the board, and its continuation pages beside it as NAME-p2.png, ...
        png.write_bytes(board.png_bytes(300))
        for page in range(2, board.pages + 1):
            png.with_name(f"{png.stem}-p{page}{png.suffix}").write_bytes(board.png_bytes(300, page))
    took = time.perf_counter() - t0
    typer.echo(
        f"wrote {out}{' and ' + str(png) if png else ''} ({paper.value} {orientation.value}, {took:.1f} s): "
        f"{len(board.labels)} labels ({board.shortened} shortened, {len(board.skipped)} skipped), "
        f"min {board.min_font_pt:g} pt, {board.people_rows} people rows, {board.pages} page(s)"
        + f", scale 1:{board.scale_denominator:,.0f}"
    )


@friendly
def atlas_command(
    plan_id: int,
    parent_code: str,
    out: Path,
    paper: PaperOption = Paper.A4,
    orientation: OrientationOption = Orientation.landscape,
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
    n = len(atlas.grids)
    typer.echo(
        f"wrote {out}: {n} grids on {atlas.page_count} pages ({paper.value} {orientation.value}) for the grids of "
        f"{atlas.parent_name} {parent_code} in {atlas.seconds:.1f} s ({atlas.seconds / atlas.page_count:.2f} s/page)"
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
