"""Contact cards (网格联系卡): a printable A4 sheet of cards, one per grid.

Each card: grid name and code, the parent grid, the people with their roles (Chinese) and
phones, and a QR code. Residents' phones cannot reach the government intranet, so the QR
content is configurable: by default a vCard 3.0 of the grid's leader (falling back to the
grid worker, then anyone listed) with the grid in ORG/NOTE, which a phone saves as a
contact; with ``url_template`` (``"https://example.org/grids/{code}"``) a public URL.

The QR code is drawn as vector squares (one path per card, horizontal runs of dark
modules merged), so it is sharp at any print resolution; :attr:`Card.qr_box_pt` records
where it is on its page so a test can sample the rendered modules.

Layout: A4 portrait, 2 x 5 cards of 90 x 54 mm, each with a dashed cut border, and crop
marks in the page margin on every cut line. Every text is >= 8 pt.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import PathPatch
from matplotlib.path import Path as MplPath

from gis.maps.board import MM, _TextMeasure
from gis.maps.fonts import CJKFont, check_coverage, find_cjk_font, font_properties
from gis.model import ROLE_ZH, Role

PAGE_PT = (210 * MM, 297 * MM)  # A4 portrait
CARD_MM = (90.0, 54.0)  # the common business-card size
COLS, ROWS = 2, 5
PAD = 4 * MM
QR_MM = 26.0
QUIET = 4  # QR quiet zone, modules (kept free of ink around the symbol)
ROLE_ORDER = [Role.GRID_LEADER, Role.GRID_WORKER, Role.RESPONSIBLE_OFFICER, Role.SUPERVISOR]


@dataclass
class Card:
    code: str
    name: str
    page: int  # 1-based
    payload: str
    modules: int  # QR symbol size without quiet zone
    qr_box_pt: tuple[float, float, float]  # x0, y0 (lower left, page points), side
    people: int


@dataclass
class Sheet:
    pdf: bytes
    pages: int
    cards: list[Card] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)


# ------------------------------------------------------------------ QR payload and matrix


def _vcard_escape(text: str) -> str:
    return (
        str(text).replace("\\", "\\\\").replace("\n", "\\n").replace(",", "\\,").replace(";", "\\;")
    )


def contact_person(people: pd.DataFrame) -> pd.Series | None:
    """The person a card's vCard names: grid leader, else grid worker, else the first listed."""
    if people is None or people.empty:
        return None
    rank = people["role"].map(
        lambda r: ROLE_ORDER.index(Role(r)) if r in set(Role) else len(ROLE_ORDER)
    )
    return people.iloc[int(np.argmin(rank.to_numpy()))]


def qr_payload(
    code: str,
    name: str,
    people: pd.DataFrame | None,
    *,
    url_template: str | None = None,
    parent_name: str | None = None,
) -> str:
    """The QR content of a grid's card: ``url_template.format(code=..., name=...)`` when
    given, else a vCard 3.0 (CRLF lines) of the grid's contact person."""
    if url_template:
        return url_template.format(code=code, name=name)
    person = contact_person(people) if people is not None else None
    grid = f"{parent_name} {name}" if parent_name and not name.startswith(parent_name) else name
    lines = ["BEGIN:VCARD", "VERSION:3.0"]
    if person is not None:
        pname = str(person["name"])
        family, given = (pname[:1], pname[1:]) if len(pname) > 1 else (pname, "")
        role = ROLE_ZH.get(str(person["role"]), str(person["role"]))
        lines += [
            f"N:{_vcard_escape(family)};{_vcard_escape(given)};;;",
            f"FN:{_vcard_escape(pname)}",
            f"TITLE:{_vcard_escape(role)}",
            f"TEL;TYPE=CELL,VOICE:{_vcard_escape(str(person['phone']))}",
        ]
    else:
        lines += [f"N:{_vcard_escape(name)};;;;", f"FN:{_vcard_escape(name)}"]
    lines += [
        f"ORG:{_vcard_escape(grid)}",
        f"NOTE:{_vcard_escape(f'网格编码 {code} {name}')}",
        "END:VCARD",
    ]
    return "\r\n".join(lines) + "\r\n"


def qr_matrix(payload: str) -> np.ndarray:
    """The QR symbol (error correction M, byte mode UTF-8) as a bool array, True = dark,
    without quiet zone."""
    import qrcode
    from qrcode.constants import ERROR_CORRECT_M

    qr = qrcode.QRCode(error_correction=ERROR_CORRECT_M, border=0)
    qr.add_data(payload.encode("utf-8"))
    qr.make(fit=True)
    return np.array(qr.get_matrix(), dtype=bool)


def _qr_path(matrix: np.ndarray) -> MplPath:
    """Dark modules as rectangles, one per horizontal run; x right, y down (module units)."""
    verts, codes = [], []
    for i, row in enumerate(matrix):
        padded = np.concatenate([[False], row, [False]]).astype(np.int8)
        edges = np.flatnonzero(np.diff(padded))
        for a, b in zip(edges[::2], edges[1::2], strict=True):
            verts += [(a, i), (b, i), (b, i + 1), (a, i + 1), (a, i)]
            codes += [
                MplPath.MOVETO,
                MplPath.LINETO,
                MplPath.LINETO,
                MplPath.LINETO,
                MplPath.CLOSEPOLY,
            ]
    return MplPath(np.array(verts, dtype=float), np.array(codes, dtype=np.uint8))


# ------------------------------------------------------------------ the sheet


def render_cards(
    grids: pd.DataFrame,
    people: pd.DataFrame,
    *,
    parent_name: str = "",
    plan_label: str = "",
    url_template: str | None = None,
    font: CJKFont | None = None,
) -> Sheet:
    """Lay out one card per row of ``grids`` (code, name) on A4 pages; ``people``: rows of
    the people table (grid_code, role, name, phone)."""
    font = font or find_cjk_font()
    W, H = PAGE_PT
    cw, ch = CARD_MM[0] * MM, CARD_MM[1] * MM
    mx, my = (W - COLS * cw) / 2, (H - ROWS * ch) / 2
    per_page = COLS * ROWS
    fps: dict[tuple[float, bool], object] = {}

    def fp(size: float, bold: bool = False):
        if (size, bold) not in fps:
            fps[(size, bold)] = font_properties(font, bold=bold, size=size)
        return fps[(size, bold)]

    grids = grids.sort_values("code")
    by_grid = {str(k): v for k, v in people.groupby(people["grid_code"].astype(str))} if not people.empty else {}  # fmt: skip
    sheet = Sheet(b"", 0)
    buf = io.BytesIO()
    rows = list(zip(grids["code"].astype(str), grids["name"].astype(str), strict=True))
    n_pages = max(1, -(-len(rows) // per_page))
    with matplotlib.rc_context({"pdf.fonttype": 42}):
        with PdfPages(
            buf, metadata={"Creator": "gridgis", "Title": f"{parent_name}网格联系卡"}
        ) as pdf:
            for page in range(n_pages):
                fig = Figure(figsize=(W / 72.0, H / 72.0), dpi=72, facecolor="white")
                measure = _TextMeasure(fig, font)
                texts: list[str] = []
                chunk = rows[page * per_page : (page + 1) * per_page]
                _crop_marks(fig, W, H, mx, my, cw, ch)
                header = f"{parent_name}网格联系卡　第 {page + 1}/{n_pages} 页" + (f"　{plan_label}" if plan_label else "")  # fmt: skip
                fig.text((mx + 2 * MM) / W, (H - my + 2.5 * MM) / H, header, ha="left", va="baseline", fontproperties=fp(8), color="#444")  # fmt: skip
                texts.append(header)
                for k, (code, name) in enumerate(chunk):
                    c, r = k % COLS, k // COLS
                    x0, y0 = mx + c * cw, H - my - (r + 1) * ch
                    ppl = by_grid.get(code, people.iloc[0:0])
                    card = _draw_card(fig, measure, fp, texts, (x0, y0, cw, ch), code, name, ppl,
                                      parent_name, url_template, W, H)  # fmt: skip
                    card.page = page + 1
                    sheet.cards.append(card)
                check_coverage(font, texts)
                sheet.texts += texts
                pdf.savefig(fig)
    sheet.pdf = buf.getvalue()
    sheet.pages = n_pages
    return sheet


def _crop_marks(fig, W, H, mx, my, cw, ch) -> None:
    """Crop marks in the margin on every cut line (3 mm off the cards, 5 mm long)."""
    gap, length = 3 * MM, 5 * MM
    kw = {"color": "#000", "linewidth": 0.4, "transform": fig.transFigure}
    for c in range(COLS + 1):
        x = (mx + c * cw) / W
        for ya, yb in ((my - gap, my - gap - length), (H - my + gap, H - my + gap + length)):
            fig.add_artist(Line2D([x, x], [ya / H, yb / H], **kw))
    for r in range(ROWS + 1):
        y = (my + r * ch) / H
        for xa, xb in ((mx - gap, mx - gap - length), (W - mx + gap, W - mx + gap + length)):
            fig.add_artist(Line2D([xa / W, xb / W], [y, y], **kw))


def _fit(measure, text: str, sizes, width: float) -> float | None:
    for size in sizes:
        if measure.size(text, size)[0] <= width:
            return size
    return None


def _draw_card(
    fig, measure, fp, texts, box, code, name, people, parent_name, url_template, W, H
) -> Card:
    x0, y0, cw, ch = box
    T = lambda x, y: (x / W, y / H)  # noqa: E731
    # dashed cut border
    fig.add_artist(
        Line2D([x0 / W, (x0 + cw) / W, (x0 + cw) / W, x0 / W, x0 / W],
               [y0 / H, y0 / H, (y0 + ch) / H, (y0 + ch) / H, y0 / H],
               transform=fig.transFigure, color="#888", linewidth=0.5, linestyle=(0, (4, 3)))
    )  # fmt: skip
    top = y0 + ch - PAD
    # QR, top right, with its quiet zone inside the card padding
    payload = qr_payload(code, name, people, url_template=url_template, parent_name=parent_name)
    matrix = qr_matrix(payload)
    n = matrix.shape[0]
    side = QR_MM * MM
    module = side / (n + 2 * QUIET)
    qx, qy = x0 + cw - PAD - side + QUIET * module, top - side + QUIET * module
    sym = n * module
    ax = fig.add_axes((qx / W, qy / H, sym / W, sym / H))
    ax.set_xlim(0, n)
    ax.set_ylim(n, 0)
    ax.set_axis_off()
    ax.add_patch(PathPatch(_qr_path(matrix), facecolor="black", edgecolor="none", linewidth=0))
    caption = "扫码访问网格页面" if url_template else "扫码保存联系人"
    fig.text(*T(x0 + cw - PAD - side / 2, top - side - 1), caption, ha="center", va="top", fontproperties=fp(8), color="#333")  # fmt: skip
    texts.append(caption)

    # header, left of the QR
    text_w = cw - 2 * PAD - side - 2 * MM
    size = _fit(measure, name, (12.0, 11.0, 10.0, 9.0, 8.0), text_w) or 8.0
    y = top - size
    fig.text(*T(x0 + PAD, y), name, ha="left", va="baseline", fontproperties=fp(size, True))
    code_text = f"网格编码 {code}"
    y -= 13
    fig.text(*T(x0 + PAD, y), code_text, ha="left", va="baseline", fontproperties=fp(9))
    texts += [name, code_text]
    if parent_name:
        up = f"所属：{parent_name}"
        y -= 12
        fig.text(*T(x0 + PAD, y), up, ha="left", va="baseline", fontproperties=fp(8), color="#444")
        texts.append(up)

    # people table: under the header (left of the QR) and then below it at full width
    role_rank = {r.value: i for i, r in enumerate(ROLE_ORDER)}
    ppl = people.assign(ro_=people["role"].map(lambda r: role_rank.get(str(r), 9))).sort_values(
        "ro_"
    )
    row_h = 12.5
    y -= 16
    qr_bottom = top - side - 12
    count = 0
    if ppl.empty:
        msg = "（暂无人员信息）"
        fig.text(*T(x0 + PAD, y), msg, ha="left", va="baseline", fontproperties=fp(9))
        texts.append(msg)
    rows = list(ppl.itertuples())
    for i, p in enumerate(rows):
        if y < y0 + PAD:
            msg = f"……另有 {len(rows) - i} 人"
            fig.text(*T(x0 + PAD, y + row_h), msg, ha="left", va="baseline", fontproperties=fp(8))
            texts.append(msg)
            break
        width = text_w if y > qr_bottom else cw - 2 * PAD
        role = ROLE_ZH.get(str(p.role), str(p.role))
        cells = (role, str(p.name), str(p.phone))
        size = 9.0
        widths = [measure.size(t, size)[0] for t in cells]
        if sum(widths) + 16 > width:
            size = 8.0
        x = x0 + PAD
        col = (5 * size + 5, 3 * size + 5)  # role (up to 5 characters), name (up to 3)
        for j, t in enumerate(cells):
            fig.text(*T(x, y), t, ha="left", va="baseline", fontproperties=fp(size, j == 2))
            if j < 2:
                x += max(col[j], measure.size(t, size)[0] + 5)
        texts += list(cells)
        count += 1
        y -= row_h
    return Card(code, name, 0, payload, n, (qx, qy, sym), count)
