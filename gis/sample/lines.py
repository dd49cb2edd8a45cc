"""Roads and rivers: expressways across the district, arterials between towns, local
streets in the built-up cores, and meandering rivers.

Expressways, arterials and rivers also go into the noded arrangement, so unit
grid boundaries follow them where they run (boundaries follow roads and rivers,
as in real grid plans); local streets do not, to keep built-up unit grids near
10,000 m^2.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from gis.sample import names
from gis.sample.tessellate import Seats


@dataclass
class Lines:
    """Line geometries (metres) with kind, name and class; ``major`` lines shape the grids."""

    geoms: np.ndarray
    kind: np.ndarray
    name: np.ndarray
    cls: np.ndarray
    major: np.ndarray
    #: per seat, the local street names (for addresses)
    streets: list[list[str]]


def wavy(
    rng: np.random.Generator,
    a: np.ndarray,
    b: np.ndarray,
    amplitude: float,
    n: int = 120,
    waves: int = 3,
) -> np.ndarray:
    """Points from a to b displaced sideways by a sum of sines that vanish at both ends."""
    t = np.linspace(0.0, 1.0, n)
    d = b - a
    length = float(np.hypot(*d))
    normal = np.array([-d[1], d[0]]) / max(length, 1e-9)
    off = np.zeros(n)
    for k in range(1, waves + 1):
        off += rng.normal(0.0, 1.0) / k * np.sin(np.pi * k * t) * amplitude
    return a[None, :] + t[:, None] * d[None, :] + off[:, None] * normal[None, :]


def meander(
    rng: np.random.Generator, a: np.ndarray, b: np.ndarray, amplitude: float, n: int = 600
) -> np.ndarray:
    """A river centre line from a to b: a slow swing plus meanders of 0.6-2 km wavelength."""
    t = np.linspace(0.0, 1.0, n)
    d = b - a
    length = float(np.hypot(*d))
    normal = np.array([-d[1], d[0]]) / max(length, 1e-9)
    off = rng.normal(0, 0.6) * amplitude * 3 * np.sin(np.pi * t)
    for wl in (2000.0, 1100.0, 600.0):
        off += (
            rng.uniform(0.4, 1.0)
            * amplitude
            * (wl / 2000.0)
            * np.sin(2 * np.pi * t * length / wl + rng.uniform(0, 6.3))
        )
    return a[None, :] + t[:, None] * d[None, :] + off[:, None] * normal[None, :]


def _crossing(
    rng: np.random.Generator, outline: BaseGeometry, through: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """End points of a line through ``through`` at a random angle, beyond the outline."""
    x0, y0, x1, y1 = outline.bounds
    reach = float(np.hypot(x1 - x0, y1 - y0))
    ang = rng.uniform(0.0, np.pi)
    v = np.array([np.cos(ang), np.sin(ang)]) * reach
    return through - v, through + v


def build_lines(
    rng: np.random.Generator, outline: BaseGeometry, seats: Seats, n_rivers: int = 3
) -> Lines:
    """All roads and rivers, clipped to the outline, in a fixed order (determinism)."""
    geoms: list[BaseGeometry] = []
    kind: list[str] = []
    name: list[str] = []
    cls: list[str] = []
    major: list[bool] = []

    def add(line: BaseGeometry, k: str, nm: str, c: str, is_major: bool) -> None:
        clipped = shapely.intersection(line, outline)
        parts = shapely.get_parts(clipped)
        parts = parts[shapely.get_type_id(parts) == shapely.GeometryType.LINESTRING]
        parts = parts[shapely.length(parts) > 50.0]
        if len(parts) == 0:
            return
        geoms.append(shapely.multilinestrings(parts))
        kind.append(k)
        name.append(nm)
        cls.append(c)
        major.append(is_major)

    centre = np.array(shapely.get_coordinates(shapely.point_on_surface(outline))[0])
    x0, y0, x1, y1 = outline.bounds
    span = min(x1 - x0, y1 - y0)

    for nm in rng.choice(names.EXPRESSWAYS, 2, replace=False):
        through = centre + rng.normal(0.0, 0.15 * span, 2)
        a, b = _crossing(rng, outline, through)
        add(shapely.linestrings(wavy(rng, a, b, 0.03 * span)), "road", str(nm), "expressway", True)

    # arterials: the Delaunay edges between seats that are not too long
    tri = shapely.delaunay_triangles(shapely.multipoints(seats.xy), only_edges=True)
    edges = np.asarray(shapely.get_parts(tri), dtype=object)
    lengths = shapely.length(edges)
    edges = edges[lengths < np.quantile(lengths, 0.7)]
    arterial_names = rng.permutation(names.ARTERIALS)
    for e, nm in zip(edges, np.resize(arterial_names, len(edges)), strict=True):
        c = shapely.get_coordinates(e)
        add(
            shapely.linestrings(wavy(rng, c[0], c[1], 250.0, n=60)),
            "road",
            str(nm),
            "arterial",
            True,
        )

    # local streets: a rotated grid in every built-up core
    streets: list[list[str]] = []
    for s, core in enumerate(seats.cores):
        pool = list(rng.choice(names.STREET_WORDS, 12, replace=False))
        used: list[str] = []
        if core.is_empty:
            streets.append(names.fallback_streets(pool))
            continue
        ang = rng.uniform(0, np.pi / 2)
        u = np.array([np.cos(ang), np.sin(ang)])
        v = np.array([-u[1], u[0]])
        r = float(np.sqrt(core.area / np.pi)) * 1.6
        spacing = 420.0 if seats.kind[s] == "industrial_zone" else 330.0
        offs = np.arange(-r, r + 1, spacing) + rng.uniform(0, spacing)
        for axis, (dirv, across, suffix) in enumerate(((u, v, "路"), (v, u, "街"))):
            for m, o in enumerate(offs):
                mid = seats.xy[s] + across * o
                line = shapely.linestrings(np.array([mid - dirv * r, mid + dirv * r]))
                word = pool[(m + axis * 5) % len(pool)]
                nm = names.street_name(word, suffix)
                before = len(geoms)
                add(shapely.intersection(line, core), "road", nm, "local", False)
                if len(geoms) > before:
                    used.append(nm)
        streets.append(used or names.fallback_streets(pool))

    # rivers: from one side of the district to the other, meandering
    river_names = rng.choice(names.RIVERS, n_rivers, replace=False)
    for r_i, nm in enumerate(river_names):
        through = centre + rng.normal(0.0, 0.2 * span, 2)
        a, b = _crossing(rng, outline, through)
        pts = meander(rng, a, b, 350.0 if r_i == 0 else 200.0)
        add(shapely.linestrings(pts), "river", str(nm), "main" if r_i == 0 else "branch", True)

    return Lines(
        geoms=np.array(geoms, dtype=object),
        kind=np.array(kind, dtype=object),
        name=np.array(name, dtype=object),
        cls=np.array(cls, dtype=object),
        major=np.array(major, dtype=bool),
        streets=streets,
    )
