"""Find a place by what a caller says: enterprise name or credit code, village or
community, road or river, grid code or name. The hotline mostly gets names, and the
intranet has no web geocoder, so the search runs on our own data; a pluggable
geocoder (``GRIDGIS_GEOCODER=module:function``) may add hits and is off by default.

Pure functions over frames; every hit carries a point in the store CRS.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

import numpy as np
import pandas as pd
import shapely

from gis.errors import InvalidInput

KIND_ZH = {"enterprise": "企业", "town": "镇街", "village": "村居", "road": "道路", "river": "河流", "grid": "网格"}


def build_places(admin_units: pd.DataFrame, lines: pd.DataFrame) -> pd.DataFrame:
    """Named places with a label point: towns, villages/communities, roads, rivers."""
    rows = []
    if len(admin_units):
        units = admin_units[admin_units["level"] >= 2]
        pts = shapely.point_on_surface(units["geom"].to_numpy())
        rows.append(
            pd.DataFrame(
                {
                    "kind": np.where(units["level"].to_numpy() == 2, "town", "village"),
                    "name": units["name"].to_numpy(),
                    "code": units["code"].to_numpy(),
                    "lon": shapely.get_x(pts),
                    "lat": shapely.get_y(pts),
                }
            )
        )
    if len(lines):
        named = lines[lines["name"].notna() & (lines["name"].astype(str) != "")]
        if len(named):
            # one hit per name: the middle of its longest piece
            named = named.assign(_len=shapely.length(named["geom"].to_numpy())).sort_values("_len", ascending=False)
            named = named.drop_duplicates("name")
            mids = shapely.line_interpolate_point(shapely.line_merge(named["geom"].to_numpy()), 0.5, normalized=True)
            rows.append(
                pd.DataFrame(
                    {
                        "kind": named["kind"].to_numpy(),
                        "name": named["name"].to_numpy(),
                        "code": None,
                        "lon": shapely.get_x(mids),
                        "lat": shapely.get_y(mids),
                    }
                )
            )
    if not rows:
        return pd.DataFrame(columns=["kind", "name", "code", "lon", "lat"])
    return pd.concat(rows, ignore_index=True)


def search(snap, q: str, limit: int = 20) -> list[dict]:
    """Hits for ``q`` in the snapshot's enterprises, places and grids, best first:
    exact names, then prefixes, then substrings."""
    q = (q or "").strip()
    if not q:
        raise InvalidInput("q is empty: type a name, credit code or grid code", "请输入名称、信用代码或网格编码")
    hits: list[dict] = []
    ent = snap.enterprises
    if len(ent):
        names = ent["name"].astype(str)
        m = names.str.contains(q, regex=False) | ent["credit_code"].astype(str).str.startswith(q.upper())
        for r in ent[m].head(limit).to_dict("records"):
            hits.append({"kind": "enterprise", "name": r["name"], "code": r["credit_code"], "detail": r.get("address"), "lon": r["lon"], "lat": r["lat"]})
    places = snap.places
    if len(places):
        m = places["name"].astype(str).str.contains(q, regex=False)
        for r in places[m].head(limit).to_dict("records"):
            hits.append({"kind": r["kind"], "name": r["name"], "code": r.get("code"), "detail": None, "lon": r["lon"], "lat": r["lat"]})
    for key, layer in snap.layers.items():
        for code, g in layer.info.items():
            if (q.isdigit() and code.startswith(q)) or (not q.isdigit() and q in str(g["name"]) and g["level"] == layer.finest):
                geom = layer.geometry(code)
                if geom is None:
                    continue
                p = shapely.point_on_surface(geom)
                hits.append({"kind": "grid", "name": g["name"], "code": code, "detail": layer.name_zh, "lon": p.x, "lat": p.y, "layer": key})
                if len(hits) > 4 * limit:
                    break

    def score(h: dict) -> tuple:
        name = str(h["name"])
        return (name != q and h.get("code") != q, not name.startswith(q), len(name))

    hits.sort(key=score)
    for h in hits:
        h["kind_zh"] = KIND_ZH.get(h["kind"], h["kind"])
    return hits[:limit]


def load_geocoder(spec: str) -> Callable[[str], list[dict]] | None:
    """``module:function`` -> the callable, or None when ``spec`` is empty (the default).

    The callable takes the query text and returns hits with name, lon, lat and crs.
    """
    if not spec:
        return None
    module, _, name = spec.partition(":")
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as exc:
        raise InvalidInput(f"geocoder {spec!r} cannot be loaded: {exc}", f"无法加载地理编码器 {spec!r}") from exc
