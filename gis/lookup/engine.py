"""The dispatcher's answer: for a point, every layer's responsible grids and people.

Pure: a :class:`Snapshot` is built from frames (the published plan of each layer,
its people, the enterprises) and answers from those alone, so one snapshot is one
consistent set of plans. ``gis.live`` loads snapshots from the store and swaps
them atomically when a plan is published.

Per layer the answer has a ``status``:
- ``inside``: a grid of the layer covers the point (ST_Covers); the owner at each
  level follows the boundary rule of :mod:`gis.lookup.index` (lowest code);
- ``snapped``: no grid covers it, but the nearest is within ``snap_m`` (default 50 m):
  that grid is named, flagged, with its distance;
- ``outside``: nothing within ``snap_m``: no grid is named as responsible, and the
  nearest one is given with its distance. Never a silent wrong answer.
``on_boundary`` lists the other grids that also cover the point; ``near_boundary``
the neighbours within ``near_m`` (default 30 m) with their distances.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import shapely

from gis.crs import metres_per_degree, normalize_crs, to_store
from gis.errors import CRSError, InvalidInput
from gis.lookup.index import GridIndex
from gis.model import SUPERVISION_GRID_LEVEL, Plan, SupervisionLevel

PERSON_FIELDS = ("role", "name", "phone", "department")


@dataclass(frozen=True)
class LookupOptions:
    near_m: float = 30.0
    snap_m: float = 50.0
    enterprise_m: float = 50.0


@dataclass
class LayerData:
    """What the loader hands over for one layer: its published plan and people."""

    key: str
    name_zh: str
    plan: Plan
    grids: pd.DataFrame  # code, name, level, parent_code, geom (store CRS)
    people: pd.DataFrame  # grid_code, role, name, phone, department


@dataclass
class LayerSnapshot:
    key: str
    name_zh: str
    plan: Plan
    levels: list[int]
    indexes: dict[int, GridIndex]
    info: dict[str, dict]  # code -> {code, name, level, parent_code}
    people: dict[str, list[dict]]
    finest: int = 0

    def geometry(self, code: str):
        """The grid's polygon (store CRS), or None."""
        g = self.info.get(code)
        if g is None:
            return None
        index = self.indexes[g["level"]]
        pos = np.flatnonzero(index.codes == code)
        return index.geoms[pos[0]] if len(pos) else None

    def chain(self, code: str) -> list[dict]:
        """The grid and its ancestors, level 1 first."""
        out = []
        seen = set()
        while code and code in self.info and code not in seen:
            seen.add(code)
            out.append(self.info[code])
            code = self.info[code].get("parent_code") or ""
        return out[::-1]


@dataclass
class Snapshot:
    """One consistent set of published plans, with everything needed to answer."""

    plan_version: int
    layers: dict[str, LayerSnapshot]
    enterprises: pd.DataFrame = field(default_factory=pd.DataFrame)
    #: the store's data version (enterprises, admin units, lines) it was built from
    data_version: int = 0
    enterprise_grids: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    places: pd.DataFrame = field(default_factory=pd.DataFrame)  # searchable names (gis.search)
    _ent_tree: Any = None  # STRtree of the enterprise points (store CRS)
    _ent_lonlat: Any = None
    _ent_records: list = field(default_factory=list)
    _ent_level: Any = None


def _clean(v: Any) -> Any:
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return None
    return v


def build_layer(data: LayerData) -> LayerSnapshot:
    grids = data.grids.reset_index(drop=True)
    levels = sorted(int(v) for v in pd.unique(grids["level"]))
    indexes = {}
    for level in levels:
        sub = grids[grids["level"] == level]
        indexes[level] = GridIndex(sub["geom"].to_numpy(), sub["code"].to_numpy())
    info = {
        str(r["code"]): {
            "code": str(r["code"]),
            "name": r["name"],
            "level": int(r["level"]),
            "parent_code": _clean(r.get("parent_code")),
        }
        for r in grids[["code", "name", "level", "parent_code"]].to_dict("records")
    }
    people: dict[str, list[dict]] = {}
    for r in data.people.to_dict("records"):
        people.setdefault(str(r["grid_code"]), []).append({k: _clean(r.get(k)) for k in PERSON_FIELDS})
    return LayerSnapshot(
        key=data.key,
        name_zh=data.name_zh,
        plan=data.plan,
        levels=levels,
        indexes=indexes,
        info=info,
        people=people,
        finest=max(levels) if levels else 0,
    )


def build_snapshot(
    plan_version: int,
    layers: list[LayerData],
    enterprises: pd.DataFrame | None = None,
    places: pd.DataFrame | None = None,
    data_version: int = 0,
) -> Snapshot:
    """Indexes for every layer and level, and each enterprise's grid at every level."""
    built = {d.key: build_layer(d) for d in layers}
    snap = Snapshot(plan_version=plan_version, layers=built, data_version=data_version)
    if places is not None:
        snap.places = places
    if enterprises is not None and len(enterprises):
        ent = enterprises.reset_index(drop=True)
        x = shapely.get_x(ent["geom"].to_numpy())
        y = shapely.get_y(ent["geom"].to_numpy())
        snap.enterprises = ent.drop(columns=["geom"]).assign(lon=x, lat=y)
        for key, layer in built.items():
            per_level = {}
            for level, index in layer.indexes.items():
                owner = index.locate(x, y)
                per_level[level] = np.where(owner >= 0, index.codes[np.maximum(owner, 0)], None)
            snap.enterprise_grids[key] = per_level
        # plain records and arrays: the hot path must not touch pandas rows
        snap._ent_lonlat = np.column_stack([x, y])
        snap._ent_tree = shapely.STRtree(shapely.points(x, y))
        snap._ent_records = [
            {k: _clean(r.get(k)) for k in ("credit_code", "name", "address", "supervision_level")}
            for r in ent.to_dict("records")
        ]
        snap._ent_level = np.array(
            [SUPERVISION_GRID_LEVEL[SupervisionLevel(r["supervision_level"])] for r in snap._ent_records]
        )
    return snap


def warm(snap: Snapshot) -> None:
    """Answer one point per layer so compiled kernels and caches are ready before the
    first real request (a service swaps a snapshot in only after warming it)."""
    for layer in snap.layers.values():
        top = layer.indexes[layer.levels[0]]
        if len(top):
            p = shapely.point_on_surface(top.geoms[0])
            answer_layer(layer, p.x, p.y, LookupOptions())
            for index in layer.indexes.values():
                index.locate(np.array([p.x]), np.array([p.y]))


# ---------------------------------------------------------------------- input


def parse_point(lon: float, lat: float, crs: str | None, default_crs: str | None = None) -> tuple[float, float, str]:
    """Validate a request point and convert it to the store CRS; 422-worthy errors name the field."""
    name = crs or default_crs
    if not name:
        raise CRSError(
            "crs is required (wgs84, cgcs2000, gcj02, bd09 or an EPSG code)",
            "必须指定坐标系 crs（wgs84、cgcs2000、gcj02、bd09 或 EPSG 代码）",
        )
    canon = normalize_crs(name)
    for field_name, v in (("lon", lon), ("lat", lat)):
        if v is None or not np.isfinite(v):
            raise InvalidInput(f"{field_name} is not a finite number", f"{field_name} 不是有效数字")
    geographic = canon in ("wgs84", "cgcs2000", "gcj02", "bd09") or canon.startswith("EPSG:4")
    if geographic:
        if abs(lat) > 90 and abs(lon) <= 90:
            raise InvalidInput(
                f"lat {lat} is outside -90..90; longitude and latitude look swapped",
                f"纬度 {lat} 超出 -90..90；经纬度似乎颠倒了",
            )
        if abs(lon) > 180:
            raise InvalidInput(f"lon {lon} is outside -180..180", f"经度 {lon} 超出 -180..180")
        if abs(lat) > 90:
            raise InvalidInput(f"lat {lat} is outside -90..90", f"纬度 {lat} 超出 -90..90")
    if canon in ("wgs84", "cgcs2000"):
        return float(lon), float(lat), canon
    x, y = (float(v) for v in to_store(float(lon), float(lat), canon))
    if not (np.isfinite(x) and np.isfinite(y)):
        raise InvalidInput(
            f"({lon}, {lat}) cannot be converted from {canon}", f"({lon}, {lat}) 无法从 {canon} 转换"
        )
    return x, y, canon


# ---------------------------------------------------------------------- answers


def _grid(layer: LayerSnapshot, code: str, with_people: bool = True) -> dict:
    g = dict(layer.info[code])
    if with_people:
        g["people"] = layer.people.get(code, [])
    return g


def answer_layer(layer: LayerSnapshot, x: float, y: float, options: LookupOptions) -> dict:
    finest = layer.indexes[layer.finest]
    owners = {level: layer.indexes[level].locate_one(x, y) for level in layer.levels}
    out: dict[str, Any] = {
        "layer": layer.key,
        "layer_name": layer.name_zh,
        "plan_id": layer.plan.id,
        "plan_version": layer.plan.version,
        "status": "inside",
        "distance_m": 0.0,
        "grids": [],
        "on_boundary": False,
        "touching": [],
        "near_boundary": [],
        "nearest": None,
    }
    owner = owners[layer.finest]
    if owner < 0:
        idx, dist = finest.nearest_one(x, y)
        if idx < 0:
            out["status"] = "outside"
            return out
        code = str(finest.codes[idx])
        out["nearest"] = {**_grid(layer, code, with_people=False), "distance_m": round(dist, 2)}
        out["distance_m"] = round(dist, 2)
        if dist <= options.snap_m:
            out["status"] = "snapped"
            out["grids"] = [_grid(layer, g["code"]) for g in layer.chain(code)]
        else:
            out["status"] = "outside"
        return out
    code = str(finest.codes[owner])
    chain = layer.chain(code)
    # levels answered on their own index: where nesting is imperfect, the exact answer wins
    by_level = {g["level"]: g["code"] for g in chain}
    for level, idx in owners.items():
        if idx >= 0:
            by_level[level] = str(layer.indexes[level].codes[idx])
    out["grids"] = [_grid(layer, by_level[lv]) for lv in sorted(by_level)]
    covering = finest.covering_one(x, y)
    if len(covering) > 1:
        out["on_boundary"] = True
        out["touching"] = [_grid(layer, str(finest.codes[i]), with_people=False) for i in covering[1:]]
    skip = {int(i) for i in covering}
    out["near_boundary"] = [
        {**_grid(layer, str(finest.codes[i]), with_people=False), "distance_m": round(d, 2)}
        for i, d in finest.near_one(x, y, options.near_m)
        if i not in skip
    ]
    return out


def nearby_enterprises(snap: Snapshot, x: float, y: float, radius_m: float) -> list[dict]:
    """Enterprises within ``radius_m`` with their responsible grid in every layer,
    at the level of their supervision level (district -> 1, town -> 2, village -> 3).

    Distances on the local tangent plane (:func:`gis.crs.metres_per_degree`)."""
    if snap._ent_tree is None:
        return []
    kx, ky = metres_per_degree(y)
    dx, dy = radius_m / kx, radius_m / ky
    hits = snap._ent_tree.query(shapely.box(x - dx, y - dy, x + dx, y + dy))
    if not len(hits):
        return []
    d = np.hypot((snap._ent_lonlat[hits, 0] - x) * kx, (snap._ent_lonlat[hits, 1] - y) * ky)
    keep = d <= radius_m
    out = []
    for i, dist in sorted(zip(hits[keep].tolist(), d[keep].tolist(), strict=True), key=lambda t: (t[1], t[0])):
        level = int(snap._ent_level[i])
        responsible = []
        for key, layer in snap.layers.items():
            codes = snap.enterprise_grids.get(key, {}).get(level)
            code = None if codes is None else codes[i]
            if code is not None:
                responsible.append({"layer": key, **_grid(layer, str(code))})
        out.append({**snap._ent_records[i], "distance_m": round(float(dist), 2), "responsible": responsible})
    return out


def answer(
    snap: Snapshot,
    lon: float,
    lat: float,
    crs: str | None,
    *,
    default_crs: str | None = None,
    options: LookupOptions = LookupOptions(),
    layers: list[str] | None = None,
) -> dict:
    """The full answer for one point: every layer (or the named ones), people, enterprises."""
    x, y, canon = parse_point(lon, lat, crs, default_crs)
    keys = layers or list(snap.layers)
    unknown = [k for k in keys if k not in snap.layers]
    if unknown:
        raise InvalidInput(
            f"layer(s) {unknown} have no published plan; published: {list(snap.layers)}",
            f"图层 {unknown} 没有已发布的方案",
        )
    return {
        "query": {"lon": lon, "lat": lat, "crs": canon},
        "point": {"lon": round(x, 8), "lat": round(y, 8), "crs": "cgcs2000"},
        "plan_version": snap.plan_version,
        "layers": [answer_layer(snap.layers[k], x, y, options) for k in keys],
        "enterprises": nearby_enterprises(snap, x, y, options.enterprise_m),
    }


def locate_batch(snap: Snapshot, layer: str, lon: np.ndarray, lat: np.ndarray, crs: str, level: int | None = None) -> np.ndarray:
    """Grid codes (object array, None outside) for many points in one layer and level."""
    if layer not in snap.layers:
        raise InvalidInput(f"layer {layer!r} has no published plan", f"图层 {layer!r} 没有已发布的方案")
    ls = snap.layers[layer]
    level = level or ls.finest
    if level not in ls.indexes:
        raise InvalidInput(f"layer {layer!r} has no level {level}", f"图层 {layer!r} 没有第 {level} 级")
    x, y = to_store(lon, lat, crs)
    index = ls.indexes[level]
    owner = index.locate(x, y)
    return np.where(owner >= 0, index.codes[np.maximum(owner, 0)], None)

