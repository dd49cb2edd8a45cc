"""Atlas mode: one PDF with a notice-board page per child grid of a parent (like QGIS Atlas).

Each grid's pages are exactly the board :func:`gis.maps.prints.load_board` makes for that child grid
(the grid and its own children, if any), written with matplotlib's ``PdfPages`` so the CJK
font is embedded once (subset over all pages) instead of once per page.
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import matplotlib
from matplotlib.backends.backend_pdf import PdfPages

from gis.errors import NotFound


@dataclass
class AtlasGrid:
    """One grid's board in the atlas: it starts on ``first_page`` (1-based) and takes
    ``pages`` pages (more than one when its people table continues)."""

    code: str
    name: str
    first_page: int
    pages: int
    labels: int
    shortened: int
    skipped: int
    seconds: float


@dataclass
class Atlas:
    pdf: bytes
    parent_code: str
    parent_name: str
    grids: list[AtlasGrid] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def page_count(self) -> int:
        return sum(g.pages for g in self.grids)


def child_grids(store, plan_id: int, parent_code: str):
    """The parent's row and its children ordered by code (the grid itself when it has none)."""
    grids = store.grids(plan_id)
    rows = grids[grids["code"] == parent_code]
    if rows.empty:
        raise NotFound(
            f"Grid {parent_code} is not in plan {plan_id}",
            f"方案 {plan_id} 中没有网格 {parent_code}",
        )
    children = grids[grids["parent_code"] == parent_code].sort_values("code")
    if children.empty:
        children = rows
    return rows.iloc[0], children


def render_atlas(
    store,
    plan_id: int,
    parent_code: str,
    *,
    paper: str = "A4",
    orientation: str = "landscape",
    progress: Callable[[int, int, str], None] | None = None,
) -> Atlas:
    """Render one board page per child grid of ``parent_code`` into a single PDF."""
    from gis.maps.prints import load_board

    t0 = time.perf_counter()
    parent, children = child_grids(store, plan_id, parent_code)
    atlas = Atlas(b"", parent_code, str(parent["name"]))
    buf = io.BytesIO()
    # pdf.fonttype 42: TrueType (CID) embedding, as Board.pdf_bytes; the rc must hold
    # until PdfPages closes, since the fonts are written then.
    with matplotlib.rc_context({"pdf.fonttype": 42}):
        with PdfPages(
            buf, metadata={"Creator": "gridgis", "Title": f"{parent['name']}网格图集"}
        ) as pdf:
            n = len(children)
            for i, (code, name) in enumerate(
                zip(children["code"].astype(str), children["name"].astype(str), strict=True)
            ):
                t = time.perf_counter()
                board = load_board(store, plan_id, code, paper=paper, orientation=orientation)
                for figure in board.figures:  # the board, then its people table's continuation
                    pdf.savefig(figure)
                atlas.grids.append(AtlasGrid(code, name, atlas.page_count + 1, board.pages, len(board.labels),
                                             board.shortened, len(board.skipped), time.perf_counter() - t))  # fmt: skip
                for figure in board.figures:
                    figure.clear()
                if progress:
                    progress(i + 1, n, code)
    atlas.pdf = buf.getvalue()
    atlas.seconds = time.perf_counter() - t0
    return atlas
