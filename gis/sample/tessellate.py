"""Unit grids from ONE noded planar arrangement, grouped into villages and towns.

Why one arrangement: every level must be a valid coverage and nest exactly. The
Voronoi edges of variable-density seeds, the outline and the major roads and
rivers are noded together (snap-rounded to 0.1 m), polygonized, and the faces
inside the outline become unit grids. Villages and towns are unions of whole
units (``coverage_union_all``), so neighbours at every level share identical
vertices and each level nests in the one above by construction.

Density follows workload (疏密相间): seeds lie 100 m apart in built-up cores
(town centres, the subdistrict, industrial zones: unit grids of about
10,000 m^2), 200 m in the ring around them and 500 m in the countryside.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from gis.sample.graph import grow_regions, shared_edges
from gis.sample.outline import largest_polygon, noisy_loop

#: seed spacing (m) per density class: core, ring, rural
SPACING = (100.0, 200.0, 500.0)
CORE, RING, RURAL = 0, 1, 2
#: faces smaller than this (m^2) are slivers and merged into a neighbour
SLIVER_AREA = 500.0
#: faces this thin (4 pi A / P^2) and below THIN_AREA m^2 count as slivers too
THIN_RATIO = 0.08
THIN_AREA = 20_000.0
#: noding precision (m): vertices on a 10 cm grid stay distinct after rounding
#: store coordinates to 7 decimals (about 1 cm)
GRID_SIZE = 0.1
#: target area (m^2) of a village / community per density class, to balance workload
VILLAGE_AREA = (0.6e6, 1.5e6, 4.0e6)


@dataclass
class Seats:
    """Town-level seats: position, kind and built-up core of each town-level unit."""

    xy: np.ndarray  # (n, 2)
    kind: np.ndarray  # "town" | "subdistrict" | "industrial_zone"
    cores: np.ndarray  # polygons (clipped to the outline)


def sample_in(rng: np.random.Generator, region: BaseGeometry, n: int) -> np.ndarray:
    """``n`` uniform random points inside ``region`` (vectorised rejection sampling)."""
    if n <= 0:
        return np.empty((0, 2))
    x0, y0, x1, y1 = region.bounds
    frac = max(region.area / ((x1 - x0) * (y1 - y0)), 1e-3)
    shapely.prepare(region)
    out: list[np.ndarray] = []
    have = 0
    while have < n:
        m = int((n - have) / frac * 1.3) + 16
        pts = np.column_stack([rng.uniform(x0, x1, m), rng.uniform(y0, y1, m)])
        pts = pts[shapely.contains_xy(region, pts[:, 0], pts[:, 1])]
        out.append(pts)
        have += len(pts)
    return np.vstack(out)[:n]


def place_seats(
    rng: np.random.Generator,
    outline: BaseGeometry,
    n_towns: int,
    n_industrial: int,
) -> Seats:
    """Spread the town-level seats evenly (k-means on interior points) and give them kinds.

    One seat is the subdistrict (the urban core), ``n_industrial`` are industrial
    zones, the rest towns. Each gets a noisy built-up core whose size scales with
    the district (radius x sqrt(area / 550 km^2)). Seats lie on the largest part
    of a multi-part outline.
    """
    k = n_towns + 1 + n_industrial
    # seats on the main part only: an island must not become a town of its own
    pts = sample_in(rng, largest_polygon(outline), 6000)
    centres = pts[rng.choice(len(pts), k, replace=False)]
    for _ in range(30):
        d2 = ((pts[:, None, :] - centres[None, :, :]) ** 2).sum(axis=2)
        near = d2.argmin(axis=1)
        counts = np.bincount(near, minlength=k)
        sums = np.stack([np.bincount(near, weights=pts[:, c], minlength=k) for c in (0, 1)], axis=1)
        moved = counts > 0
        centres[moved] = sums[moved] / counts[moved, None]
    # snap each centre to an interior sample point (a k-means centre may lie outside)
    d2 = ((pts[:, None, :] - centres[None, :, :]) ** 2).sum(axis=2)
    xy = pts[d2.argmin(axis=0)]
    # north to south, west to east: the order codes are numbered in
    xy = xy[np.lexsort((np.round(xy[:, 0], -2), -np.round(xy[:, 1], -3)))]
    kind = np.full(k, "town", dtype=object)
    roles = rng.permutation(k)
    kind[roles[0]] = "subdistrict"
    kind[roles[1 : 1 + n_industrial]] = "industrial_zone"
    scale = float(np.sqrt(outline.area / 550e6))
    base = np.where(
        kind == "subdistrict", 1800.0, np.where(kind == "industrial_zone", 1600.0, 800.0)
    )
    radius = base * scale * rng.uniform(0.85, 1.2, k)
    cores = np.array(
        [
            noisy_loop(rng, x, y, r, roughness=0.35, harmonics=8, n_vertices=96)
            for (x, y), r in zip(xy, radius, strict=True)
        ],
        dtype=object,
    )
    cores = shapely.intersection(cores, outline)
    return Seats(xy=xy, kind=kind, cores=cores)


def density_regions(
    outline: BaseGeometry, seats: Seats
) -> tuple[BaseGeometry, BaseGeometry, BaseGeometry]:
    """Core (built-up), ring (500 m around it) and rural parts of the outline."""
    core = shapely.intersection(shapely.union_all(seats.cores), outline)
    near = shapely.intersection(shapely.buffer(core, 500.0, quad_segs=4), outline)
    ring = shapely.difference(near, core)
    rural = shapely.difference(outline, near)
    return core, ring, rural


def seed_points(rng: np.random.Generator, outline: BaseGeometry, regions: tuple) -> np.ndarray:
    """Jittered square lattices, one per density class, each kept inside its class region."""
    x0, y0, x1, y1 = outline.bounds
    out = []
    for region, spacing, jitter in zip(regions, SPACING, (0.3, 0.35, 0.45), strict=True):
        if region.is_empty:
            continue
        ox, oy = rng.uniform(0, spacing, 2)
        gx = np.arange(x0 - spacing + ox, x1 + spacing, spacing)
        gy = np.arange(y0 - spacing + oy, y1 + spacing, spacing)
        xx, yy = np.meshgrid(gx, gy)
        pts = np.column_stack([xx.ravel(), yy.ravel()])
        pts = pts + rng.uniform(-jitter, jitter, pts.shape) * spacing
        shapely.prepare(region)
        out.append(pts[shapely.contains_xy(region, pts[:, 0], pts[:, 1])])
    return np.vstack(out)


def arrangement(points: np.ndarray, outline: BaseGeometry, lines: np.ndarray) -> np.ndarray:
    """Faces inside the outline of Voronoi edges + outline + lines, noded together.

    ``union_all(grid_size=0.1)`` snap-rounds all linework in one noding, so the
    faces ``polygonize`` returns share identical vertices along every edge.
    """
    x0, y0, x1, y1 = outline.bounds
    envelope = shapely.box(x0 - 5000, y0 - 5000, x1 + 5000, y1 + 5000)
    edges = shapely.voronoi_polygons(
        shapely.multipoints(points), extend_to=envelope, only_edges=True
    )
    work = np.concatenate([[edges, shapely.boundary(outline)], np.asarray(lines, dtype=object)])
    noded = shapely.union_all(work, grid_size=GRID_SIZE)
    faces = np.asarray(
        shapely.get_parts(shapely.polygonize(shapely.get_parts(noded))), dtype=object
    )
    inside = shapely.point_on_surface(faces)
    shapely.prepare(outline)
    keep = shapely.contains_xy(outline, shapely.get_x(inside), shapely.get_y(inside))
    return faces[keep]


def dissolve(geoms: np.ndarray, labels: np.ndarray, n_groups: int) -> np.ndarray:
    """Coverage union of ``geoms`` per label 0..n_groups-1 (a loop over groups, not points)."""
    order = np.argsort(labels, kind="stable")
    bounds = np.searchsorted(labels[order], np.arange(n_groups + 1))
    out = np.empty(n_groups, dtype=object)
    for g in range(n_groups):
        members = geoms[order[bounds[g] : bounds[g + 1]]]
        out[g] = members[0] if len(members) == 1 else shapely.coverage_union_all(members)
    return out


def merge_slivers(faces: np.ndarray, max_rounds: int = 6) -> np.ndarray:
    """Merge faces below SLIVER_AREA (or thin ones) into the neighbour sharing the longest edge.

    Each sliver points to one neighbour (non-slivers first, then the longest shared
    edge, then the lower index); the pointers form trees with at most one
    non-sliver root, so every group is connected and merged in one coverage union.
    Repeated until no sliver is left (a cluster of slivers may still be small).
    """
    for _ in range(max_rounds):
        area = shapely.area(faces)
        perim = shapely.length(faces)
        thin = (4 * np.pi * area / np.maximum(perim, 1e-9) ** 2 < THIN_RATIO) & (area < THIN_AREA)
        small = (area < SLIVER_AREA) | thin
        i, j, length = shared_edges(faces)
        src = np.concatenate([i, j])
        dst = np.concatenate([j, i])
        ln = np.concatenate([length, length])
        cand = small[src]
        src, dst, ln = src[cand], dst[cand], ln[cand]
        if src.size == 0:
            break
        order = np.lexsort((dst, -ln, small[dst], src))
        src, dst = src[order], dst[order]
        first = np.r_[True, src[1:] != src[:-1]]
        target = np.arange(len(faces))
        target[src[first]] = dst[first]
        # two slivers pointing at each other: the lower index becomes the root
        mutual = (target[target] == np.arange(len(faces))) & (target != np.arange(len(faces)))
        target[mutual & (np.arange(len(faces)) < target)] = np.arange(len(faces))[
            mutual & (np.arange(len(faces)) < target)
        ]
        root = target.copy()
        for _ in range(64):
            nxt = root[root]
            if np.array_equal(nxt, root):
                break
            root = nxt
        _, labels = np.unique(root, return_inverse=True)
        faces = dissolve(faces, labels.ravel(), int(labels.max()) + 1)
    return faces


def group_units(
    rng: np.random.Generator,
    units: np.ndarray,
    unit_class: np.ndarray,
    seats: Seats,
) -> tuple[np.ndarray, np.ndarray]:
    """Town-level label and village label (global) of every unit.

    Towns: multi-source Dijkstra from the seats over unit neighbours, cost =
    centroid distance, 4x cheaper inside built-up cores (a town keeps its whole
    centre) and with a head start for towns over industrial zones (an industrial
    zone is mostly its park). Villages: per town, seeds drawn with probability
    proportional to workload (unit area / target village area of its density
    class), relocated by three graph-Lloyd rounds, regions grown with cost = the
    workload of the units crossed, so villages carry similar workloads. Both are
    connected by construction (see :func:`grow_regions`); units the graph cannot
    reach (islands of a multi-part outline) join the nearest unit's town and village.
    """
    n = len(units)
    cent = shapely.centroid(units)
    cxy = shapely.get_coordinates(cent)
    area = shapely.area(units)
    i, j, _ = shared_edges(units)
    dist = np.hypot(*(cxy[i] - cxy[j]).T)
    built = unit_class != RURAL
    cost = dist * np.where(built[i] & built[j], 0.25, 1.0)

    tree = shapely.STRtree(units)
    seat_unit = _containing(tree, seats.xy)
    scale = float(np.sqrt(area.sum() / 550e6))
    offsets = np.where(seats.kind == "industrial_zone", 3000.0 * scale, 0.0)
    town = grow_regions(n, i, j, cost, seat_unit, offsets)
    town = _attach_unreached(tree, cent, town)

    weight = area / np.asarray(VILLAGE_AREA)[unit_class]
    same = town[i] == town[j]
    vi, vj = i[same], j[same]
    vcost = 0.5 * (weight[vi] + weight[vj])
    village = np.full(n, -1, dtype=np.int64)
    next_label = 0
    for t in range(len(seats.xy)):
        members = np.flatnonzero(town == t)
        k = int(max(1, round(weight[members].sum())))
        k = min(k, len(members))
        p = weight[members] / weight[members].sum()
        seeds = rng.choice(members, k, replace=False, p=p)
        seeds = np.sort(seeds)
        for _ in range(4):
            lab = grow_regions(n, vi, vj, vcost, seeds)
            seeds = _graph_lloyd(lab, members, seeds, cxy, weight)
        lab = grow_regions(n, vi, vj, vcost, seeds)
        # units the village graph cannot reach (islands) stay -1 and are attached below
        village[members] = np.where(lab[members] >= 0, lab[members] + next_label, -1)
        next_label += k
    village = _attach_unreached(tree, cent, village)
    _, village = np.unique(village, return_inverse=True)
    return town, village.ravel()


def _containing(tree: shapely.STRtree, xy: np.ndarray) -> np.ndarray:
    """Index of the unit containing each point (nearest unit if none does)."""
    pts = shapely.points(xy)
    return tree.query_nearest(pts, all_matches=False)[1]


def _attach_unreached(tree: shapely.STRtree, cent: np.ndarray, label: np.ndarray) -> np.ndarray:
    """Give units with label -1 the label of the nearest labelled unit."""
    missing = np.flatnonzero(label < 0)
    if missing.size == 0:
        return label
    label = label.copy()
    have = np.flatnonzero(label >= 0)
    sub = shapely.STRtree(tree.geometries[have])
    near = sub.query_nearest(cent[missing], all_matches=False)[1]
    label[missing] = label[have[near]]
    return label


def _graph_lloyd(
    lab: np.ndarray, members: np.ndarray, seeds: np.ndarray, cxy: np.ndarray, weight: np.ndarray
) -> np.ndarray:
    """Move each seed to its region's unit nearest the workload-weighted mean centroid."""
    k = len(seeds)
    m_lab = lab[members]
    ok = m_lab >= 0
    mem, m_lab = members[ok], m_lab[ok]
    w = weight[mem]
    tot = np.bincount(m_lab, weights=w, minlength=k)
    mx = np.bincount(m_lab, weights=w * cxy[mem, 0], minlength=k) / np.maximum(tot, 1e-12)
    my = np.bincount(m_lab, weights=w * cxy[mem, 1], minlength=k) / np.maximum(tot, 1e-12)
    d = np.hypot(cxy[mem, 0] - mx[m_lab], cxy[mem, 1] - my[m_lab])
    order = np.lexsort((mem, d, m_lab))
    first = np.r_[True, m_lab[order][1:] != m_lab[order][:-1]]
    new = seeds.copy()
    new[m_lab[order][first]] = mem[order][first]
    return np.sort(new)


def unit_density_class(units: np.ndarray, regions: tuple) -> np.ndarray:
    """Density class of each unit: the class region its representative point falls in."""
    pts = shapely.point_on_surface(units)
    x, y = shapely.get_x(pts), shapely.get_y(pts)
    cls = np.full(len(units), RURAL, dtype=np.int64)
    core, ring, _ = regions
    for region, c in ((ring, RING), (core, CORE)):
        if not region.is_empty:
            shapely.prepare(region)
            cls[shapely.contains_xy(region, x, y)] = c
    return cls
