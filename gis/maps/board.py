"""Printable notice-board map (网格化管理公示图) of one grid and its children.

Pure: frames in, a matplotlib Figure (and PDF / PNG bytes) out. The figure is the
paper size (A4/A3, landscape/portrait), so one point in the layout is one point on
paper: every label is >= 8 pt when printed at 100 %. Shapes are drawn in the
projected CRS (:func:`gis.crs.projected_crs_for`, CGCS2000 Gauss-Kruger), so areas,
angles and the scale bar are true.

Grid labels are placed greedily, largest grid first: for each grid, candidate
positions inside its polygon (pole of inaccessibility, point on surface, centroid,
shifted variants) x sizes 10/9/8 pt for the full label (name + code), then the
short label (the code's last digits after the parent code) at 9/8 pt; a label box
must lie inside its polygon and overlap no other label, scale bar or north arrow.
Grids that get the short label are counted as ``shortened``. A grid too small for
any label gets its short label beside it (8 pt, on a leader line to its pole), in
free space within 64 pt; only a grid for which no such place exists is ``skipped``.
The people table lists every grid's full code (grids without people included) and
goes on to continuation pages when it does not fit beside the map.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass, field
from datetime import date as Date
from pathlib import Path

import geopandas as gpd
import matplotlib
import numpy as np
import pandas as pd
import shapely
import shapely.ops
from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, PathPatch, Rectangle
from matplotlib.patches import Polygon as MplPolygon
from matplotlib.path import Path as MplPath

from gis.crs import geoms_from_store, projected_crs_for
from gis.maps.fonts import CJKFont, check_coverage, find_cjk_font, font_properties
from gis.model import ROLE_ZH

PAPER_MM = {"A4": (297.0, 210.0), "A3": (420.0, 297.0)}  # landscape width, height
MM = 72.0 / 25.4  # points per millimetre
MIN_PT = 8.0
FULL_SIZES = (10.0, 9.0, 8.0)
SHORT_SIZES = (9.0, 8.0)
FILLS = ("#cfe8cf", "#fde3b8", "#d6e2f5", "#f6d0d8", "#e7dcf3", "#fff4b0", "#d3efec")


@dataclass
class PlacedLabel:
    code: str
    text: str
    size_pt: float
    box_pt: tuple[float, float, float, float]  # x0, y0, x1, y1 on paper, points from lower left
    shortened: bool
    artist: object = field(repr=False, default=None)
    leader: bool = False  # placed beside its grid on a leader line (the grid is too small)


@dataclass
class Board:
    figure: Figure
    paper: str
    orientation: str
    labels: list[PlacedLabel]
    shortened: int
    skipped: list[str]
    min_font_pt: float
    people_rows: int
    crs: str
    scale_denominator: float
    texts: list[str]
    #: every page: the board, then continuation pages while the people table goes on
    figures: list[Figure] = field(default_factory=list)

    @property
    def pages(self) -> int:
        return len(self.figures)

    def pdf_bytes(self) -> bytes:
        """All pages in one PDF, the CJK font embedded once (TrueType subset)."""
        buf = io.BytesIO()
        with matplotlib.rc_context({"pdf.fonttype": 42}):
            with PdfPages(buf, metadata={"Creator": "gridgis", "Title": self.texts[0]}) as pdf:
                for figure in self.figures:
                    pdf.savefig(figure)
        return buf.getvalue()

    def png_bytes(self, dpi: int = 300, page: int = 1) -> bytes:
        """One page as PNG (the board itself by default)."""
        buf = io.BytesIO()
        self.figures[page - 1].savefig(buf, format="png", dpi=dpi, facecolor="white")
        return buf.getvalue()


def paper_size_pt(paper: str, orientation: str) -> tuple[float, float]:
    if paper not in PAPER_MM:
        raise ValueError(f"paper must be one of {sorted(PAPER_MM)}")
    w, h = PAPER_MM[paper]
    if orientation == "portrait":
        w, h = h, w
    elif orientation != "landscape":
        raise ValueError("orientation must be landscape or portrait")
    return w * MM, h * MM


# ------------------------------------------------------------------ geometry helpers


def _poly_path(geom) -> MplPath:
    verts, codes = [], []
    for poly in getattr(geom, "geoms", [geom]):
        for ring in [poly.exterior, *poly.interiors]:
            xy = np.asarray(ring.coords)[:, :2]
            verts.append(xy)
            c = np.full(len(xy), MplPath.LINETO, dtype=np.uint8)
            c[0], c[-1] = MplPath.MOVETO, MplPath.CLOSEPOLY
            codes.append(c)
    return MplPath(np.concatenate(verts), np.concatenate(codes))


def _colouring(geoms: np.ndarray) -> list[int]:
    """Greedy colouring so that touching grids get different fills."""
    tree = shapely.STRtree(geoms)
    left, right = tree.query(geoms, predicate="intersects")
    neighbours: dict[int, set[int]] = {}
    for a, b in zip(left.tolist(), right.tolist(), strict=True):
        if a != b:
            neighbours.setdefault(a, set()).add(b)
    colour: list[int] = [-1] * len(geoms)
    for i in sorted(range(len(geoms)), key=lambda k: -len(neighbours.get(k, ()))):
        used = {colour[j] for j in neighbours.get(i, ())}
        colour[i] = next(c for c in range(len(FILLS) + len(used) + 1) if c not in used) % len(FILLS)
    return colour


def _nice_length(max_m: float) -> float:
    exp = 10 ** math.floor(math.log10(max_m))
    for m in (5, 2.5, 2, 1):
        if m * exp <= max_m:
            return m * exp
    return exp


def _short_name(name: str, parent_name: str) -> str:
    return (
        name[len(parent_name) :]
        if parent_name and name.startswith(parent_name) and len(name) > len(parent_name)
        else name
    )


class _TextMeasure:
    """Text extents in points (figure dpi 72), cached per string and size."""

    def __init__(self, fig: Figure, font: CJKFont) -> None:
        from matplotlib.backends.backend_agg import FigureCanvasAgg

        self.canvas = FigureCanvasAgg(fig)
        self.renderer = self.canvas.get_renderer()
        self.font = font
        self.cache: dict[tuple[str, float], tuple[float, float]] = {}

    def size(self, text: str, pt: float, linespacing: float = 1.15) -> tuple[float, float]:
        key = (text, pt)
        if key not in self.cache:
            prop = font_properties(self.font, size=pt)
            widths = [
                self.renderer.get_text_width_height_descent(line, prop, ismath=False)[0]
                for line in text.split("\n")
            ]
            n = len(widths)
            self.cache[key] = (
                max(widths) * 72.0 / self.renderer.dpi,
                pt * (1.0 + linespacing * (n - 1)) * 1.05,
            )
        return self.cache[key]


def _overlaps(box, boxes: list[tuple[float, float, float, float]], pad: float = 1.0) -> bool:
    x0, y0, x1, y1 = box
    return any(
        x0 - pad < b[2] and b[0] < x1 + pad and y0 - pad < b[3] and b[1] < y1 + pad for b in boxes
    )


# ------------------------------------------------------------------ the board


def render_board(
    parent: pd.Series,
    children: gpd.GeoDataFrame,
    people: pd.DataFrame,
    lines: gpd.GeoDataFrame | None,
    *,
    plan_label: str,
    map_date: str | None = None,
    attribution: list[str] | None = None,
    title: str | None = None,
    paper: str = "A4",
    orientation: str = "landscape",
    font: CJKFont | None = None,
) -> Board:
    """Lay out the board. ``parent``: the grid row (code, name, geom in the store CRS);
    ``children``: its child grids (the grid itself when it has none); ``people``: rows of
    the people table (grid_code, role, name, phone, optional photo_path)."""
    font = font or find_cjk_font()
    W, H = paper_size_pt(paper, orientation)
    fig = Figure(figsize=(W / 72.0, H / 72.0), dpi=72, facecolor="white")
    measure = _TextMeasure(fig, font)
    fp = lambda size, bold=False: font_properties(font, bold=bold, size=size)  # noqa: E731
    texts: list[str] = []

    parent_name = str(parent["name"])
    title = title or f"{parent_name}网格化管理公示图"
    map_date = map_date or Date.today().isoformat()
    attribution = list(attribution or [])

    # ---- project
    crs = projected_crs_for(np.array([parent["geom"]], dtype=object))
    parent_geom = geoms_from_store(np.array([parent["geom"]], dtype=object), crs.to_wkt())[0]
    child_geoms = geoms_from_store(children.geometry.to_numpy(), crs.to_wkt())
    order = np.argsort(children["code"].to_numpy())
    child_geoms = child_geoms[order]
    child_rows = children.iloc[order]

    # ---- page frame
    margin = 10 * MM
    title_size = 22.0 if paper == "A4" else 30.0
    sub_size = 10.0 if paper == "A4" else 12.0
    top = H - margin
    fig.text(
        W / 2 / W,
        (top - title_size) / H,
        title,
        ha="center",
        va="baseline",
        fontproperties=fp(title_size, True),
    )
    subtitle = f"网格编码 {parent['code']}　|　{plan_label}　|　制图日期 {map_date}"
    fig.text(
        0.5,
        (top - title_size - sub_size * 1.9) / H,
        subtitle,
        ha="center",
        va="baseline",
        fontproperties=fp(sub_size),
    )
    texts += [title, subtitle]
    body_top = top - title_size - sub_size * 3.2
    footer_size = 8.0
    crs_name = f"{crs.name} (EPSG:{crs.to_epsg()})"
    credit = [f"数据：{'；'.join(attribution)}"] if attribution else []
    footer = "　".join([*credit, f"坐标系：{crs_name}", "图中网格界线不作为权属争议依据"])
    fig.text(
        margin / W,
        (margin * 0.6) / H,
        footer,
        ha="left",
        va="baseline",
        fontproperties=fp(footer_size),
    )
    texts.append(footer)
    body_bottom = margin * 0.6 + footer_size * 2.0

    if orientation == "landscape":
        panel_w = min(0.34 * W, 100 * MM if paper == "A4" else 130 * MM)
        map_box = (margin, body_bottom, W - 2 * margin - panel_w - 6 * MM, body_top - body_bottom)
        panel_box = (W - margin - panel_w, body_bottom, panel_w, body_top - body_bottom)
    else:
        panel_h = 0.34 * (body_top - body_bottom)
        map_box = (
            margin,
            body_bottom + panel_h + 5 * MM,
            W - 2 * margin,
            body_top - body_bottom - panel_h - 5 * MM,
        )
        panel_box = (margin, body_bottom, W - 2 * margin, panel_h)

    # ---- map axes with an exact data -> paper transform
    minx, miny, maxx, maxy = parent_geom.bounds
    pad = 0.04 * max(maxx - minx, maxy - miny)
    minx, miny, maxx, maxy = minx - pad, miny - pad, maxx + pad, maxy + pad
    bx, by, bw, bh = map_box
    s = min(bw / (maxx - minx), bh / (maxy - miny))  # points per metre
    aw, ah = bw / s, bh / s  # extent in metres filling the box
    cx, cy = (minx + maxx) / 2, (miny + maxy) / 2
    x0, y0 = cx - aw / 2, cy - ah / 2
    ax = fig.add_axes((bx / W, by / H, bw / W, bh / H))
    ax.set_xlim(x0, x0 + aw)
    ax.set_ylim(y0, y0 + ah)
    ax.set_aspect("equal", adjustable="box")
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_linewidth(0.8)

    def to_pt(x: float, y: float) -> tuple[float, float]:
        return bx + (x - x0) * s, by + (y - y0) * s

    def to_data(px: float, py: float) -> tuple[float, float]:
        return x0 + (px - bx) / s, y0 + (py - by) / s

    # ---- grids, lines, outline
    colours = _colouring(child_geoms)
    for geom, c in zip(child_geoms, colours, strict=True):
        ax.add_patch(
            PathPatch(
                _poly_path(geom), facecolor=FILLS[c], edgecolor="#555555", linewidth=0.6, zorder=1
            )
        )
    line_labels: list[tuple[str, object]] = []
    if lines is not None and not lines.empty:
        lgeoms = geoms_from_store(lines.geometry.to_numpy(), crs.to_wkt())
        lgeoms = shapely.clip_by_rect(lgeoms, x0, y0, x0 + aw, y0 + ah)
        for kind, name, cls, g in zip(
            lines["kind"],
            lines["name"],
            lines.get("class", [None] * len(lines)),
            lgeoms,
            strict=True,
        ):
            if g is None or g.is_empty:
                continue
            river = kind == "river"
            width = 2.2 if river else (1.6 if cls in ("expressway", "arterial") else 0.9)
            colour = "#4a90d9" if river else "#a0522d"
            for part in getattr(g, "geoms", [g]):
                if part.geom_type != "LineString":
                    continue
                xy = np.asarray(part.coords)
                ax.plot(
                    xy[:, 0],
                    xy[:, 1],
                    color=colour,
                    linewidth=width,
                    solid_capstyle="round",
                    zorder=2,
                )
            if isinstance(name, str) and name:
                line_labels.append((name, g))
    ax.add_patch(
        PathPatch(
            _poly_path(parent_geom), facecolor="none", edgecolor="#c00000", linewidth=2.4, zorder=3
        )
    )

    occupied: list[tuple[float, float, float, float]] = []

    # ---- north arrow (true north: the meridian convergence of the Gauss-Kruger zone)
    from pyproj import Transformer

    inv = Transformer.from_crs(crs, "EPSG:4490", always_xy=True)
    fwd = Transformer.from_crs("EPSG:4490", crs, always_xy=True)
    lon, lat = inv.transform(cx, cy)
    nx, ny = fwd.transform(lon, lat + 0.01)
    conv = math.atan2(nx - cx, ny - cy)
    ax_top_right = (bx + bw - 14 * MM, by + bh - 20 * MM)
    ah_pt = 12 * MM
    tip = (
        ax_top_right[0] + math.sin(conv) * ah_pt / 2,
        ax_top_right[1] + math.cos(conv) * ah_pt / 2,
    )
    base = (
        ax_top_right[0] - math.sin(conv) * ah_pt / 2,
        ax_top_right[1] - math.cos(conv) * ah_pt / 2,
    )
    perp = (math.cos(conv) * 3 * MM, -math.sin(conv) * 3 * MM)
    tri_pts = [
        tip,
        (base[0] + perp[0], base[1] + perp[1]),
        ax_top_right,
        (base[0] - perp[0], base[1] - perp[1]),
    ]
    ax.add_patch(
        MplPolygon(
            [to_data(*p) for p in tri_pts],
            closed=True,
            facecolor="#222",
            edgecolor="#222",
            zorder=6,
        )
    )
    fig.text(
        tip[0] / W, (tip[1] + 2) / H, "北", ha="center", va="bottom", fontproperties=fp(11, True)
    )
    texts.append("北")
    occupied.append(
        (ax_top_right[0] - 5 * MM, base[1] - 2 * MM, ax_top_right[0] + 5 * MM, tip[1] + 7 * MM)
    )

    # ---- scale bar (metres in the projected CRS)
    bar_m = _nice_length(aw * 0.28)
    bar_pt = bar_m * s
    sb_x, sb_y = bx + 6 * MM, by + 6 * MM
    segs = 4
    for i in range(segs):
        px = sb_x + i * bar_pt / segs
        lx, ly = to_data(px, sb_y)
        ax.add_patch(Rectangle((lx, ly), bar_m / segs, 1.6 * MM / s, facecolor="#222" if i % 2 == 0 else "white",
                               edgecolor="#222", linewidth=0.6, zorder=6))  # fmt: skip
    unit = (lambda m: f"{m / 1000:g} 千米") if bar_m >= 1000 else (lambda m: f"{m:g} 米")
    for frac in (0.0, 0.5, 1.0):
        label = "0" if frac == 0 else unit(bar_m * frac)
        fig.text(
            (sb_x + frac * bar_pt) / W,
            (sb_y + 2.6 * MM) / H,
            label,
            ha="center",
            va="bottom",
            fontproperties=fp(8),
        )
        texts.append(label)
    denominator = 1.0 / (s / MM / 1000.0)  # metres on the ground per metre on paper
    nice_den = round(denominator, -int(math.floor(math.log10(denominator))) + 1)
    scale_text = f"比例尺 1:{nice_den:,.0f}"
    fig.text(
        sb_x / W, (sb_y - 4.2 * MM) / H, scale_text, ha="left", va="bottom", fontproperties=fp(8)
    )
    texts.append(scale_text)
    occupied.append((sb_x - 4 * MM, sb_y - 5 * MM, sb_x + bar_pt + 8 * MM, sb_y + 7 * MM))

    # ---- grid labels: greedy placement, largest grid first
    labels: list[PlacedLabel] = []
    skipped: list[str] = []
    pending: list[tuple[str, str, tuple[float, float]]] = []  # (code, short text, anchor pt)
    map_rect = shapely.box(bx + 1, by + 1, bx + bw - 1, by + bh - 1)
    parent_code = str(parent["code"])
    areas = shapely.area(child_geoms)
    for i in np.argsort(-areas):
        code, name, geom = (
            str(child_rows["code"].iloc[i]),
            str(child_rows["name"].iloc[i]),
            child_geoms[i],
        )
        if len(child_geoms) == 1 and code == parent_code:
            full, short = f"{name}\n{code}", code
        else:
            full, short = (
                f"{_short_name(name, parent_name)}\n{code}",
                code[len(parent_code) :] if code.startswith(parent_code) else code,
            )
        part = max(getattr(geom, "geoms", [geom]), key=lambda g: g.area)
        prepared = part.buffer(0.5 / s)
        shapely.prepare(prepared)
        anchors = []
        for pt in (shapely.ops.polylabel(part, tolerance=max(1.0, 2.0 / s)) if part.area > 0 else part.centroid,
                   part.point_on_surface(), part.centroid):  # fmt: skip
            anchors.append(to_pt(pt.x, pt.y))
        base_pt = anchors[0]
        for dx, dy in ((0, 12), (0, -12), (18, 0), (-18, 0), (0, 24), (0, -24)):
            anchors.append((base_pt[0] + dx, base_pt[1] + dy))
        placed = None
        for text, sizes, is_short in ((full, FULL_SIZES, False), (short, SHORT_SIZES, True)):
            for size in sizes:
                tw, th = measure.size(text, size)
                for px, py in anchors:
                    box = (px - tw / 2 - 1, py - th / 2 - 1, px + tw / 2 + 1, py + th / 2 + 1)
                    if _overlaps(box, occupied) or not map_rect.covers(shapely.box(*box)):
                        continue
                    d0, d1 = to_data(box[0], box[1]), to_data(box[2], box[3])
                    if not prepared.covers(shapely.box(d0[0], d0[1], d1[0], d1[1])):
                        continue
                    placed = (text, size, is_short, px, py, box)
                    break
                if placed:
                    break
            if placed:
                break
        if not placed:
            skipped.append(code)
            pending.append((code, short, anchors[0]))
            continue
        text, size, is_short, px, py, box = placed
        occupied.append(box)
        artist = fig.text(px / W, py / H, text, ha="center", va="center", multialignment="center",
                          linespacing=1.15, fontproperties=fp(size), color="#111", zorder=7)  # fmt: skip
        labels.append(PlacedLabel(code, text, size, box, is_short, artist))
        texts.append(text)

    # ---- callouts: a grid too small for its label gets it beside it, on a leader line
    for code, short, (ax0, ay0) in pending:
        tw, th = measure.size(short, 8.0)
        spot = None
        for dist in (14.0, 20.0, 28.0, 38.0, 50.0, 64.0):
            for deg in range(0, 360, 20):
                px, py = ax0 + dist * math.cos(math.radians(deg)), ay0 + dist * math.sin(math.radians(deg))
                box = (px - tw / 2 - 1, py - th / 2 - 1, px + tw / 2 + 1, py + th / 2 + 1)
                if not _overlaps(box, occupied) and map_rect.covers(shapely.box(*box)):
                    spot = (px, py, box)
                    break
            if spot:
                break
        if spot is None:
            continue
        px, py, box = spot
        occupied.append(box)
        lead = shapely.LineString([(ax0, ay0), (px, py)]).difference(shapely.box(*box))
        if not lead.is_empty:
            (x0, y0), (x1, y1) = lead.coords[0], lead.coords[-1]
            fig.add_artist(Line2D([x0 / W, x1 / W], [y0 / H, y1 / H], transform=fig.transFigure,
                                  linewidth=0.6, color="#333", zorder=6))  # fmt: skip
            fig.add_artist(Line2D([ax0 / W], [ay0 / H], transform=fig.transFigure, marker="o",
                                  markersize=1.8, color="#333", zorder=6))  # fmt: skip
        artist = fig.text(px / W, py / H, short, ha="center", va="center", fontproperties=fp(8.0),
                          color="#111", zorder=7,
                          bbox={"boxstyle": "square,pad=0.1", "facecolor": "white", "alpha": 0.85,
                                "edgecolor": "none"})  # fmt: skip
        labels.append(PlacedLabel(code, short, 8.0, box, True, artist, leader=True))
        texts.append(short)
        skipped.remove(code)

    # road / river names: same rule, lower priority, 8 pt, never shortened
    seen: set[str] = set()
    for name, g in sorted(line_labels, key=lambda t: -t[1].length):
        if name in seen:
            continue
        seen.add(name)
        part = max(getattr(g, "geoms", [g]), key=lambda p: p.length)
        tw, th = measure.size(name, 8.0)
        for frac in (0.5, 0.3, 0.7, 0.15, 0.85):
            p = part.interpolate(frac, normalized=True)
            px, py = to_pt(p.x, p.y)
            box = (px - tw / 2 - 1, py - th / 2 - 1, px + tw / 2 + 1, py + th / 2 + 1)
            if _overlaps(box, occupied) or not map_rect.covers(shapely.box(*box)):
                continue
            occupied.append(box)
            fig.text(px / W, py / H, name, ha="center", va="center", fontproperties=fp(8), color="#1f4e8c" if "河" in name or "浦" in name else "#6b3410",
                     bbox={"boxstyle": "square,pad=0.05", "facecolor": "white", "alpha": 0.75, "edgecolor": "none"}, zorder=6)  # fmt: skip
            texts.append(name)
            break

    # ---- panel: legend, then the people table
    px0, py0, pw, ph = panel_box
    cursor = py0 + ph
    legend_title = "图　例"
    fig.text(
        px0 / W,
        (cursor - 11) / H,
        legend_title,
        ha="left",
        va="baseline",
        fontproperties=fp(11, True),
    )
    texts.append(legend_title)
    cursor -= 16
    handles = [
        Line2D([], [], color="#c00000", linewidth=2.4, label=f"{parent_name}界线"),
        Patch(
            facecolor=FILLS[0], edgecolor="#555555", linewidth=0.6, label="网格（标注：名称／编码）"
        ),
        Line2D([], [], color="#a0522d", linewidth=1.6, label="道路"),
        Line2D([], [], color="#4a90d9", linewidth=2.2, label="河流"),
    ]
    texts += [h.get_label() for h in handles]
    fig.legend(handles=handles, loc="upper left", bbox_to_anchor=(px0 / W, cursor / H), frameon=False,
                     prop=fp(9), ncol=2 if orientation == "portrait" else 1, borderaxespad=0, handlelength=2.2)  # fmt: skip
    leg_h = (2 if orientation == "portrait" else 4) * 9 * 1.75 + 4
    cursor -= leg_h
    short_note = (
        "网格内仅标编号末位时，完整编码见下表" if any(lbl.shortened for lbl in labels) else ""
    )
    if short_note:
        fig.text(
            px0 / W,
            (cursor - 8) / H,
            short_note,
            ha="left",
            va="baseline",
            fontproperties=fp(8),
            color="#444",
        )
        texts.append(short_note)
        cursor -= 13

    table_title = "网格责任人员"
    fig.text(
        px0 / W,
        (cursor - 12) / H,
        table_title,
        ha="left",
        va="baseline",
        fontproperties=fp(11, True),
    )
    texts.append(table_title)
    cursor -= 18
    rows, photos = _people_rows(people, child_rows, parent)
    box = (px0, py0, pw, cursor - py0)
    if not rows:
        msg = "（暂无人员信息）"
        fig.text(px0 / W, (cursor - 10) / H, msg, ha="left", va="baseline", fontproperties=fp(9))
        texts.append(msg)
    done = _draw_table(fig, rows, photos, box, measure, fp, texts, W, H,
                       "……另有 {left} 人，见续页")  # fmt: skip
    figures = [fig]
    while done < len(rows):  # the full table, on as many continuation pages as it takes
        page, n = _continuation_page(W, H, f"{parent_name}网格责任人员", subtitle, footer, len(figures) + 1,
                                     rows[done:], photos, font, fp, texts)  # fmt: skip
        figures.append(page)
        done += n

    check_coverage(font, texts)
    return Board(fig, paper, orientation, labels, sum(lbl.shortened for lbl in labels), skipped,
                 min([lbl.size_pt for lbl in labels] + [8.0]), len(rows), crs_name, float(denominator), texts,
                 figures)  # fmt: skip


PersonRow = tuple[str, str, str, str, str | None]  # grid, role, name, phone, photo path


def _people_rows(people, child_rows, parent) -> tuple[list[PersonRow], bool]:
    """The people table's rows, parent grid first then children by code, roles in order
    (a child grid without people gets a row saying so: the table names every grid's full
    code); and whether any row has a photo file (then every row leaves room for one)."""
    codes = [str(c) for c in child_rows["code"]]
    if people is None or people.empty:
        people = pd.DataFrame(columns=["grid_code", "role", "name", "phone"])
    staffed = set(people["grid_code"].astype(str))
    vacant = [c for c in codes if c not in staffed and c != str(parent["code"])]
    if vacant:  # every grid is listed, with its full code, staffed or not
        people = pd.concat([people, pd.DataFrame(
            {"grid_code": vacant, "role": "", "name": "（未配置人员）", "phone": ""})], ignore_index=True)  # fmt: skip
    if people.empty:
        return [], False
    names = {str(parent["code"]): str(parent["name"])}
    names.update(zip(child_rows["code"].astype(str), child_rows["name"].astype(str), strict=True))
    parent_name = str(parent["name"])
    role_order = {r.value: i for i, r in enumerate(ROLE_ZH)}
    ppl = people.assign(
        lvl_=people["grid_code"].astype(str).str.len(),
        ro_=people["role"].map(lambda r: role_order.get(str(r), 9)),
    ).sort_values(["lvl_", "grid_code", "ro_"])
    photos = bool(
        "photo_path" in ppl
        and ppl["photo_path"].map(lambda p: isinstance(p, str) and Path(p).is_file()).any()
    )
    rows: list[PersonRow] = []
    for r in ppl.itertuples():
        code = str(r.grid_code)
        name = names.get(code, "")
        grid = f"{code} {_short_name(name, parent_name) if code != str(parent['code']) else name}"
        role = ROLE_ZH.get(str(r.role), str(r.role))
        photo = getattr(r, "photo_path", None) if photos else None
        rows.append(
            (grid, role, str(r.name), str(r.phone),
             photo if isinstance(photo, str) and Path(photo).is_file() else None)
        )  # fmt: skip
    return rows, photos


def _draw_table(
    fig, rows: list[PersonRow], photos: bool, box, measure, fp, texts, W, H, more: str
) -> int:
    """Draw as many rows as fit in ``box`` (columns side by side, 8 pt); returns how many.

    When not all fit, the last slot holds ``more`` (formatted with the number left), so
    the reader knows the table goes on. The grid is named on its first row and again at
    the top of a column (or page) that continues it.
    """
    x, y, w, h = box
    size = 8.0
    header = ("网格", "角色", "姓名", "电话")
    cols = [max(measure.size(t[i], size)[0] for t in [header, *rows]) + 10 for i in range(4)]
    row_h = size * 1.55 * (2.2 if photos else 1)
    col_w = sum(cols) + (row_h if photos else 0) + 10
    ncols = max(1, int(w // col_w))
    per_col = max(1, int((h - row_h) // row_h))
    capacity = ncols * per_col
    drawn = rows if len(rows) <= capacity else rows[: capacity - 1]
    left = len(rows) - len(drawn)
    for idx, row in enumerate([*drawn, None] if left else drawn):
        c, k = divmod(idx, per_col)
        cx = x + c * col_w
        if k == 0:
            hx = cx + (row_h if photos else 0)
            for i, t in enumerate(header):
                fig.text(hx / W, (y + h - row_h * 0.8) / H, t, ha="left", va="baseline",
                         fontproperties=fp(size, True))  # fmt: skip
                hx += cols[i]
            texts.extend(header)
        ry = y + h - row_h * (k + 1.8)
        if row is None:
            msg = more.format(left=left)
            fig.text(cx / W, ry / H, msg, ha="left", va="baseline", fontproperties=fp(size), color="#444")
            texts.append(msg)
            continue
        shown = row if k == 0 or idx == 0 or drawn[idx - 1][0] != row[0] else ("", *row[1:])
        tx = cx
        if photos:
            if row[4]:
                import matplotlib.image as mpimg

                try:
                    img = mpimg.imread(row[4])
                    iax = fig.add_axes(((cx + 1) / W, (ry - 2) / H, (row_h - 2) / W, (row_h - 2) / H))
                    iax.imshow(img)
                    iax.set_axis_off()
                except (OSError, ValueError, SyntaxError):
                    pass
            tx += row_h
        for i, t in enumerate(shown[:4]):
            fig.text(tx / W, ry / H, t, ha="left", va="baseline", fontproperties=fp(size))
            tx += cols[i]
        texts.extend(shown[:4])
    return len(drawn)


def _continuation_page(
    W, H, title: str, subtitle: str, footer: str, page: int, rows, photos, measure_font, fp, texts
) -> tuple[Figure, int]:
    """A page that carries the people table on: title, the table over the whole page."""
    fig = Figure(figsize=(W / 72.0, H / 72.0), dpi=72, facecolor="white")
    measure = _TextMeasure(fig, measure_font)
    margin = 10 * MM
    top = H - margin
    head = f"{title}（续，第 {page} 页）"
    fig.text(0.5, (top - 14) / H, head, ha="center", va="baseline", fontproperties=fp(14, True))
    fig.text(0.5, (top - 30) / H, subtitle, ha="center", va="baseline", fontproperties=fp(9))
    fig.text(margin / W, (margin * 0.6) / H, footer, ha="left", va="baseline", fontproperties=fp(8))
    texts += [head, subtitle, footer]
    bottom = margin * 0.6 + 16
    box = (margin, bottom, W - 2 * margin, top - 40 - bottom)
    n = _draw_table(fig, rows, photos, box, measure, fp, texts, W, H, "……续表见下页（另有 {left} 人）")
    return fig, n
