"""``generate_district``: a whole deterministic sample district in the store's table shapes.

Why a generator: tests, demos and benchmarks need a district that looks and behaves
like a real one (a ragged outline, 11 town-level units, ~200 villages, thousands
of unit grids dense in built-up areas, 10,000 enterprises, a year of incidents)
without shipping real personal data. Same seed, same frames: only
``numpy.random.default_rng(seed)`` draws, pools are tuples, nothing depends on
set order, hashing or the clock.

Given outlines (a real district boundary, e.g. in GCJ-02) are filled the same way.
Multi-part outlines: every part is kept; the unit grids of a small part (an island)
join the village and town of the nearest unit grid, so such a village or town is a
MultiPolygon. Every other village and town is one connected polygon by construction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry.base import BaseGeometry

from gis import attribution
from gis.crs import from_store, geoms_to_store, to_store
from gis.model import STORE_CRS, TABLES
from gis.sample import names
from gis.sample import tessellate as tess
from gis.sample.lines import build_lines
from gis.sample.objects import Places, enterprise_table, incident_table
from gis.sample.outline import (
    DEFAULT_CENTER,
    outline_in_store,
    projected_crs_name,
    read_outline,
    synthetic_outline,
    to_projected,
)
from gis.sample.plans import GridLevel, grid_frame, people_frame
from gis.validate import as_multi

PLAN_LAYERS = {"community": 4, "environment": 3}
TOWN_CODE_START = {"subdistrict": 1, "town": 101, "industrial_zone": 401}


@dataclass
class SampleDistrict:
    """The generated frames (store CRS EPSG:4490, geometry column ``geom``, no ``id``).

    ``plans`` maps a layer key to (grids, people) without ``plan_id`` (the store
    fills it). ``outline`` is the filled area in the store CRS, ``projected_crs``
    the metric CRS it was built in, ``unit_class`` the density class (core, ring,
    rural) of each level-4 community grid, in grid order.
    """

    admin_units: gpd.GeoDataFrame
    lines: gpd.GeoDataFrame
    enterprises: gpd.GeoDataFrame
    incidents: gpd.GeoDataFrame
    plans: dict[str, tuple[gpd.GeoDataFrame, pd.DataFrame]]
    outline: BaseGeometry
    projected_crs: str
    seed: int
    unit_class: np.ndarray = field(repr=False, default_factory=lambda: np.empty(0, dtype=np.int64))
    #: credits for maps made of it (:mod:`gis.attribution`): the sample, and the outline's source
    attribution: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        """Rows per table and grids per level, for reports."""
        out = {
            "admin_units": len(self.admin_units),
            "lines": len(self.lines),
            "enterprises": len(self.enterprises),
            "incidents": len(self.incidents),
        }
        for layer, (grids, people) in self.plans.items():
            for level, n in grids["level"].value_counts().sort_index().items():
                out[f"{layer}.level{level}"] = int(n)
            out[f"{layer}.people"] = len(people)
        return out


def generate_district(
    seed: int = 20261125,
    outline: BaseGeometry | str | Path | None = None,
    outline_crs: str | None = None,
    county_code: str = "310199",
    county_name: str = "江川区",
    *,
    n_towns: int = 8,
    n_industrial_zones: int = 2,
    n_enterprises: int = 10_000,
    n_incidents: int = 400,
    area_km2: float | None = None,
    center: tuple[float, float] = DEFAULT_CENTER,
    as_of: str = "2026-11-25T00:00:00+08:00",
) -> SampleDistrict:
    """A sample district: admin units, roads and rivers, enterprises, incidents and two plans.

    Without ``outline`` a synthetic outline of ``area_km2`` (default 520-580 km^2)
    is placed around ``center`` (lon, lat); with one (a shapely geometry or a
    GeoJSON/GPKG/Shapefile path in ``outline_crs``) that area is filled. There are
    one subdistrict, ``n_towns`` towns and ``n_industrial_zones`` industrial zones.
    Incidents fall in the year before ``as_of``.
    """
    if len(county_code) != 6 or not county_code.isdigit():
        raise ValueError("county_code must be 6 digits")
    rng = np.random.default_rng(seed)

    if outline is None:
        crs = projected_crs_name(np.array([shapely.Point(*center)], dtype=object))
        cx, cy = from_store(center[0], center[1], crs)
        area = (area_km2 * 1e6) if area_km2 else float(rng.uniform(520e6, 580e6))
        shape = synthetic_outline(rng, (float(cx), float(cy)), area)
        outline_store = geoms_to_store(np.array([shape], dtype=object), crs)[0]
    else:
        geom, src_crs = read_outline(outline, outline_crs)
        outline_store = outline_in_store(geom, src_crs)
        crs = projected_crs_name(np.array([outline_store], dtype=object))
        shape = shapely.make_valid(to_projected(outline_store, crs))

    # --- tessellation (metres)
    seats = tess.place_seats(rng, shape, n_towns, n_industrial_zones)
    regions = tess.density_regions(shape, seats)
    lines = build_lines(rng, shape, seats)
    points = tess.seed_points(rng, shape, regions)
    faces = tess.arrangement(points, shape, lines.geoms[lines.major])
    units = tess.merge_slivers(faces)
    unit_class = tess.unit_density_class(units, regions)
    town_of, village_of = tess.group_units(rng, units, unit_class, seats)
    n_t, n_v = len(seats.xy), int(village_of.max()) + 1
    towns = tess.dissolve(units, town_of, n_t)
    villages = tess.dissolve(units, village_of, n_v)
    county = shapely.coverage_union_all(towns)

    # --- codes and names
    town_kind = seats.kind
    town_name = _town_names(rng, town_kind, n_towns, county_name)
    town_code = _town_codes(county_code, town_kind)
    v_town = np.zeros(n_v, dtype=np.int64)
    v_town[village_of] = town_of
    u_area = shapely.area(units)
    built_area = np.bincount(village_of, weights=u_area * (unit_class != tess.RURAL), minlength=n_v)
    v_kind = np.where(built_area >= 0.5 * shapely.area(villages), "community", "village").astype(
        object
    )
    v_cxy = shapely.get_coordinates(shapely.centroid(villages))
    v_code = _village_codes(town_code, v_town, v_kind, v_cxy)
    v_stem = names.village_names(rng, n_v)
    v_name = v_stem + np.where(v_kind == "community", "居委会", "村")
    u_seq = _sequence(village_of, shapely.get_coordinates(shapely.centroid(units)), band=200.0)
    if u_seq.max() > 999:
        raise ValueError(
            "a village has more than 999 unit grids; the 3-digit sequence cannot number them"
        )
    u_order = np.lexsort((u_seq, v_code[village_of]))
    u_code = (v_code[village_of] + np.char.zfill(u_seq.astype(str), 3).astype(object))[u_order]
    u_name = np.array(
        [
            f"{v_name[v]}第{s:03d}网格"
            for v, s in zip(village_of[u_order], u_seq[u_order], strict=True)
        ],
        dtype=object,
    )
    v_order = np.argsort(v_code, kind="stable")
    t_order = np.argsort(town_code, kind="stable")

    # --- to the store CRS, all at once (shared vertices stay identical)
    polys = np.concatenate([[county], towns, villages, units])
    stored = as_multi(geoms_to_store(polys, crs))
    g_county, g_towns = stored[0], stored[1 : 1 + n_t]
    g_villages, g_units = stored[1 + n_t : 1 + n_t + n_v], stored[1 + n_t + n_v :]
    county12 = county_code + "000000"

    admin = pd.DataFrame(
        {
            "code": np.concatenate([[county12], town_code[t_order], v_code[v_order]]),
            "parent_code": np.concatenate(
                [[None], np.full(n_t, county12, dtype=object), town_code[v_town[v_order]]]
            ),
            "name": np.concatenate([[county_name], town_name[t_order], v_name[v_order]]),
            "level": np.concatenate([[1], np.full(n_t, 2), np.full(n_v, 3)]).astype(np.int64),
            "kind": np.concatenate([["county"], town_kind[t_order], v_kind[v_order]]),
        }
    )
    admin_geom = np.concatenate([[g_county], g_towns[t_order], g_villages[v_order]])
    admin_units = _geoframe(admin, admin_geom, "admin_units")

    line_frame = pd.DataFrame({"kind": lines.kind, "name": lines.name, "class": lines.cls})
    lines_gdf = _geoframe(line_frame, as_multi(geoms_to_store(lines.geoms, crs)), "lines")

    places = Places(
        outline=shape,
        regions=regions,
        seat_kind=seats.kind,
        seat_cores=seats.cores,
        units=units,
        unit_town=town_of,
        unit_village=village_of,
        town_names=town_name,
        village_names=v_name,
        streets=lines.streets,
        county_code=county_code,
        county_name=county_name,
    )
    ent, ent_xy = enterprise_table(rng, places, n_enterprises)
    enterprises = _geoframe(ent, _points(ent_xy, crs), "enterprises")
    as_of_ts = pd.Timestamp(as_of).tz_convert("UTC")
    inc, inc_xy = incident_table(rng, places, n_incidents, ent, ent_xy, as_of_ts)
    incidents = _geoframe(inc, _points(inc_xy, crs), "incidents")

    # --- grid levels, shared by both layers
    t_tk = town_kind[t_order]
    lv1 = GridLevel(1, np.array([county_code], dtype=object), np.array([county_name], dtype=object),
                    np.array([None], dtype=object), np.array([county12], dtype=object), np.array([g_county], dtype=object),
                    np.array([""], dtype=object), np.array([""], dtype=object), np.array([""], dtype=object))  # fmt: skip
    t_codes = town_code[t_order]
    lv2 = GridLevel(2, np.array([c[:9] for c in t_codes], dtype=object), town_name[t_order],
                    np.full(n_t, county_code, dtype=object), t_codes, g_towns[t_order],
                    town_name[t_order], t_tk, np.full(n_t, "", dtype=object))  # fmt: skip
    vt = v_town[v_order]
    lv3 = GridLevel(3, v_code[v_order], v_name[v_order], np.array([town_code[t][:9] for t in vt], dtype=object),
                    v_code[v_order], g_villages[v_order], town_name[vt], town_kind[vt], v_name[v_order])  # fmt: skip
    uv = village_of[u_order]
    lv4 = GridLevel(4, u_code, u_name, v_code[uv], v_code[uv], g_units[u_order],
                    town_name[v_town[uv]], town_kind[v_town[uv]], v_name[uv])  # fmt: skip
    levels = [lv1, lv2, lv3, lv4]
    plans = {}
    for layer, max_level in PLAN_LAYERS.items():
        chosen = levels[:max_level]
        plans[layer] = (grid_frame(chosen), people_frame(rng, layer, chosen))

    return SampleDistrict(
        admin_units=admin_units,
        lines=lines_gdf,
        enterprises=enterprises,
        incidents=incidents,
        plans=plans,
        outline=outline_store,
        projected_crs=crs,
        seed=seed,
        unit_class=unit_class[u_order],
        attribution=[
            attribution.SAMPLE,
            *(attribution.for_source(outline) if isinstance(outline, str | Path) else []),
        ],
    )


def _town_names(
    rng: np.random.Generator, kind: np.ndarray, n_towns: int, county_name: str
) -> np.ndarray:
    """镇 names from the pool, one 街道, industrial zones named after the county (江川工业区)."""
    out = np.empty(len(kind), dtype=object)
    town_pool = rng.choice(np.asarray(names.TOWNS, dtype=object), n_towns, replace=False)
    out[kind == "town"] = town_pool[: int((kind == "town").sum())]
    out[kind == "subdistrict"] = rng.choice(np.asarray(names.SUBDISTRICTS, dtype=object))
    stem = names.county_stem(county_name)
    iz = np.flatnonzero(kind == "industrial_zone")
    ordinals = ("", "第二", "第三", "第四")
    out[iz] = [f"{stem}{ordinals[k % 4]}工业区" for k in range(len(iz))]
    return out


def _town_codes(county_code: str, kind: np.ndarray) -> np.ndarray:
    """12-digit codes: 街道 001.., 镇 101.., 工业区 401.. (in seat order, north to south)."""
    out = np.empty(len(kind), dtype=object)
    for k, start in TOWN_CODE_START.items():
        idx = np.flatnonzero(kind == k)
        out[idx] = [f"{county_code}{start + m:03d}000" for m in range(len(idx))]
    return out


def _sequence(group: np.ndarray, xy: np.ndarray, band: float) -> np.ndarray:
    """1-based reading-order number inside each group: bands north to south, then west to east."""
    row = -np.floor(xy[:, 1] / band)
    order = np.lexsort((xy[:, 0], row, group))
    seq = np.empty(len(group), dtype=np.int64)
    g = group[order]
    start = np.r_[0, np.flatnonzero(g[1:] != g[:-1]) + 1]
    run = np.arange(len(g)) - np.repeat(start, np.diff(np.r_[start, len(g)]))
    seq[order] = run + 1
    return seq


def _village_codes(
    town_code: np.ndarray, v_town: np.ndarray, v_kind: np.ndarray, cxy: np.ndarray
) -> np.ndarray:
    """Town prefix + 001.. for communities (居委会), 201.. for villages (村), in reading order."""
    is_village = (v_kind == "village").astype(np.int64)
    seq = _sequence(v_town * 2 + is_village, cxy, band=1000.0)
    num = seq + np.where(is_village == 1, 200, 0)
    if num.max() > 999:
        raise ValueError("too many villages in one town for 3-digit codes")
    return np.array(
        [town_code[t][:9] + f"{m:03d}" for t, m in zip(v_town, num, strict=True)], dtype=object
    )


def _points(xy: np.ndarray, crs: str) -> np.ndarray:
    lon, lat = to_store(xy[:, 0], xy[:, 1], crs)
    return shapely.points(np.column_stack([lon, lat]))


def _geoframe(frame: pd.DataFrame, geom: np.ndarray, table: str) -> gpd.GeoDataFrame:
    """Columns in the spec's order, geometry ``geom`` in the store CRS."""
    cols = [c for c in TABLES[table].column_names if c in frame.columns]
    return gpd.GeoDataFrame(
        frame[cols].reset_index(drop=True),
        geometry=gpd.GeoSeries(np.asarray(geom, dtype=object), crs=STORE_CRS),
        crs=STORE_CRS,
    ).rename_geometry("geom")
