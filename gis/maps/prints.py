"""Printed outputs read from the store: notice boards, atlases and contact cards.

The renderers (:mod:`gis.maps.board`, :mod:`gis.maps.atlas`, :mod:`gis.maps.cards`) are
pure layout over frames; this module is their edge to the store, shared by the CLI and
the API. :func:`render_print` turns one :class:`PrintRequest` into file bytes;
:func:`render_in_process` is the same call by store URL, for the API's process pool
(rendering is seconds of matplotlib holding the GIL: it must never run in a thread of
an API worker that also answers lookups).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import date
from urllib.parse import quote

from gis.attribution import credits
from gis.errors import InvalidInput, NotFound, Problem

STATUS_ZH = {"draft": "草稿", "published": "已发布", "archived": "已归档"}
PAPERS = ("A3", "A4")
ORIENTATIONS = ("landscape", "portrait")
KINDS = ("board", "atlas", "cards")


def load_board(
    store, plan_id: int, grid_code: str, *, paper: str = "A4", orientation: str = "landscape"
):
    """Read what a board needs from the store and lay it out (a :class:`gis.maps.board.Board`)."""
    from gis.maps.board import render_board

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
    attribution = credits(store)
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


@dataclass(frozen=True)
class PrintRequest:
    """One printed output: a board (PDF or PNG), an atlas (PDF) or contact cards (PDF)."""

    kind: str
    plan_id: int
    code: str
    format: str = "pdf"
    paper: str = "A4"
    orientation: str = "landscape"
    dpi: int = 300
    qr_url: str | None = None
    page: int = 1  # which page of a board as PNG (continuation pages carry the people table on)

    def check(self) -> None:
        """Refuse a request that cannot be rendered, naming the field (before any work)."""
        bad: list[Problem] = []
        if self.kind not in KINDS:
            bad.append(Problem(f"must be one of {KINDS}", f"须为 {KINDS} 之一", field="kind"))
        if self.format not in ("pdf", "png") or (self.format == "png" and self.kind != "board"):
            bad.append(Problem("only a board is also made as png; atlas and cards are pdf",
                               "只有公示图可输出 png，图集和联系卡为 pdf", field="format"))  # fmt: skip
        if self.paper not in PAPERS:
            bad.append(Problem(f"paper must be one of {PAPERS}", f"纸张须为 {PAPERS} 之一", field="paper"))
        if self.orientation not in ORIENTATIONS:
            bad.append(Problem(f"orientation must be one of {ORIENTATIONS}",
                               f"方向须为 {ORIENTATIONS} 之一", field="orientation"))  # fmt: skip
        if self.page < 1:
            bad.append(Problem("page must be 1 or more", "页码须不小于 1", field="page"))
        if not 72 <= self.dpi <= 600:
            bad.append(Problem("dpi must be between 72 and 600", "dpi 须在 72 到 600 之间", field="dpi"))
        if self.qr_url is not None and "{code}" not in self.qr_url:
            bad.append(Problem("the QR URL template must contain {code}",
                               "二维码网址模板须包含 {code}", field="qr_url"))  # fmt: skip
        if bad:
            raise InvalidInput("The print request is not valid", "打印请求无效", bad)

    @property
    def media_type(self) -> str:
        return "image/png" if self.format == "png" else "application/pdf"

    def filename(self, name: str = "") -> tuple[str, str]:
        """(ASCII name, UTF-8 name with the grid's Chinese name) for Content-Disposition."""
        suffix = {"board": "board", "atlas": "atlas", "cards": "cards"}[self.kind]
        zh = {"board": "网格公示图", "atlas": "网格图集", "cards": "网格联系卡"}[self.kind]
        part = f"-p{self.page}" if self.format == "png" and self.page > 1 else ""
        ascii_name = f"{self.code}-{suffix}{part}.{self.format}"
        return ascii_name, f"{self.code}{name}{zh}{part}.{self.format}"


@dataclass
class Printed:
    """The rendered file and what a caller reports about it."""

    data: bytes
    media_type: str
    filename: str
    filename_utf8: str
    pages: int
    seconds: float
    summary: dict

    def content_disposition(self) -> str:
        return f"attachment; filename=\"{self.filename}\"; filename*=UTF-8''{quote(self.filename_utf8)}"


def render_print(store, req: PrintRequest) -> Printed:
    """Render ``req`` from ``store`` (errors: NotFound for a plan or grid, InvalidInput)."""
    req.check()
    t0 = time.perf_counter()
    if req.kind == "board":
        board = load_board(store, req.plan_id, req.code, paper=req.paper, orientation=req.orientation)
        if req.format == "png" and req.page > board.pages:
            raise InvalidInput(
                f"The board has {board.pages} page(s); page {req.page} does not exist",
                f"该公示图共 {board.pages} 页，没有第 {req.page} 页",
                [Problem(f"at most {board.pages}", f"最大为 {board.pages}", field="page")],
            )
        data = board.png_bytes(req.dpi, req.page) if req.format == "png" else board.pdf_bytes()
        pages, name = board.pages, ""
        summary = {"labels": len(board.labels), "shortened": board.shortened,
                   "skipped": len(board.skipped), "min_font_pt": board.min_font_pt,
                   "people_rows": board.people_rows}  # fmt: skip
    elif req.kind == "atlas":
        from gis.maps.atlas import render_atlas

        atlas = render_atlas(store, req.plan_id, req.code, paper=req.paper, orientation=req.orientation)
        data, pages, name = atlas.pdf, atlas.page_count, atlas.parent_name
        summary = {"grids": [g.code for g in atlas.grids]}
    else:
        sheet = load_cards(store, req.plan_id, req.code, url_template=req.qr_url)
        data, pages, name = sheet.pdf, sheet.pages, ""
        summary = {"cards": len(sheet.cards), "qr": "url" if req.qr_url else "vcard"}
    ascii_name, utf8_name = req.filename(name)
    return Printed(data, req.media_type, ascii_name, utf8_name, pages,
                   time.perf_counter() - t0, summary)  # fmt: skip


def render_in_process(url: str, request: dict) -> Printed:
    """Entry point for a worker process: open the store by URL, render, close.

    Domain errors (NotFound, InvalidInput) pickle with both texts and their problems,
    so the caller re-raises them as they are.
    """
    from gis.store import open_store

    store = open_store(url, init=False)
    try:
        return render_print(store, PrintRequest(**request))
    finally:
        store.close()

