"""A plan drawn as one inline SVG: the first map page, with no asset from anywhere.

Pure: GeoDataFrames in, markup out. Each grid is a path with a <title> (code and
name) so hovering names it; level-2 grids carry text labels. Coordinates are
projected with a local equirectangular scale (cos of the mean latitude), which is
enough for an overview of one district.
"""

from __future__ import annotations

import html

import geopandas as gpd
import numpy as np
import shapely

PALETTE = (
    "#8dd3c7", "#ffffb3", "#bebada", "#fb8072", "#80b1d3", "#fdb462",
    "#b3de69", "#fccde5", "#d9d9d9", "#bc80bd", "#ccebc5", "#ffed6f",
)  # fmt: skip
STROKE = {1: ("#222", 2.4), 2: ("#333", 1.4), 3: ("#666", 0.6), 4: ("#999", 0.25)}


def _path(geom, tx) -> str:
    parts = []
    for poly in getattr(geom, "geoms", [geom]):
        for ring in [poly.exterior, *poly.interiors]:
            xy = tx(np.asarray(ring.coords))
            parts.append("M" + "L".join(f"{x:.1f},{y:.1f}" for x, y in xy) + "Z")
    return "".join(parts)


def plan_svg(grids: gpd.GeoDataFrame, *, width: int = 1000, lines: gpd.GeoDataFrame | None = None) -> str:
    """The grids of a plan (any levels present) as an SVG element, filled by level-2 grid."""
    if grids.empty:
        return '<svg xmlns="http://www.w3.org/2000/svg" width="400" height="60"><text x="10" y="35">无网格 / no grids</text></svg>'
    geoms = grids.geometry.to_numpy()
    minx, miny, maxx, maxy = shapely.total_bounds(geoms)
    kx = float(np.cos(np.radians((miny + maxy) / 2)))
    scale = (width - 20) / max((maxx - minx) * kx, 1e-9)
    height = int((maxy - miny) * scale) + 20

    def tx(coords: np.ndarray) -> np.ndarray:
        return np.column_stack([10 + (coords[:, 0] - minx) * kx * scale, 10 + (maxy - coords[:, 1]) * scale])

    codes2 = sorted(grids.loc[grids["level"] == 2, "code"])
    colour = {c: PALETTE[i % len(PALETTE)] for i, c in enumerate(codes2)}

    def fill_of(code: str, level: int) -> str:
        if level == 1:
            return "none"
        for c in codes2:
            if code.startswith(c):
                return colour[c]
        return "#eee"

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="100%" '
        f'style="max-width:{width}px" role="img" aria-label="网格图">'
    ]
    for level in sorted(grids["level"].unique(), reverse=True):
        sub = grids[grids["level"] == level]
        stroke, sw = STROKE.get(int(level), ("#444", 0.5))
        for code, name, geom in zip(sub["code"], sub["name"], sub.geometry, strict=True):
            fill = fill_of(code, int(level)) if int(level) == max(grids["level"]) or int(level) == 2 else "none"
            out.append(
                f'<path d="{_path(geom, tx)}" fill="{fill}" fill-opacity="0.55" stroke="{stroke}" '
                f'stroke-width="{sw}" fill-rule="evenodd" data-code="{code}" data-level="{int(level)}">'
                f"<title>{html.escape(str(name))} {code}</title></path>"
            )
    if lines is not None and not lines.empty:
        for kind, name, geom in zip(lines["kind"], lines["name"], lines.geometry, strict=True):
            colour_l, w = ("#3b7dd8", 2.0) if kind == "river" else ("#b05a00", 1.0)
            d = "".join(
                "M" + "L".join(f"{x:.1f},{y:.1f}" for x, y in tx(np.asarray(part.coords)))
                for part in getattr(geom, "geoms", [geom])
            )
            out.append(
                f'<path d="{d}" fill="none" stroke="{colour_l}" stroke-width="{w}">'
                f"<title>{html.escape(str(name or ''))}</title></path>"
            )
    for code, name, geom in zip(grids["code"], grids["name"], grids.geometry, strict=True):
        if code in colour:
            x, y = tx(np.asarray(shapely.point_on_surface(geom).coords))[0]
            out.append(
                f'<text x="{x:.1f}" y="{y:.1f}" font-size="14" text-anchor="middle" '
                f'paint-order="stroke" stroke="#fff" stroke-width="3">{html.escape(str(name))}</text>'
            )
    out.append("</svg>")
    return "".join(out)
