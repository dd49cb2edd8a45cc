"""The dispatcher's page and what it draws: search, basemap from our own data, grid shapes.

Everything the page loads comes from this API (Leaflet is vendored under
/static/vendor): it works on an intranet with no internet at all.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import shapely
from fastapi import APIRouter, Query
from fastapi.responses import FileResponse, Response

from api.deps import LiveDep, SettingsDep, StoreDep
from gis.crs import to_store
from gis.errors import NotFound
from gis.search import load_geocoder, search

router = APIRouter(tags=["dispatch"])
STATIC = Path(__file__).resolve().parent.parent / "static"
GEOJSON = "application/geo+json"


@router.get("/dispatch", include_in_schema=False)
def dispatch_page() -> FileResponse:
    return FileResponse(STATIC / "dispatch.html", media_type="text/html; charset=utf-8")


@router.get("/favicon.ico", include_in_schema=False)
def favicon() -> Response:
    return Response(status_code=204)


@router.get("/search", summary="Find enterprises, villages/communities, roads and grids by name or code")
def search_places(
    live: LiveDep,
    settings: SettingsDep,
    q: Annotated[str, Query(min_length=1, max_length=100, description="name, credit code or grid code (Chinese)")],
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> list[dict]:
    hits = search(live.snapshot, q, limit)
    geocoder = load_geocoder(settings.geo.geocoder)
    if geocoder is not None and len(hits) < limit:
        for h in geocoder(q)[: limit - len(hits)]:
            # a web geocoder answers in GCJ-02 or BD-09: every hit is given in the store CRS
            lon, lat = to_store(float(h["lon"]), float(h["lat"]), h.get("crs") or "wgs84")
            hits.append({**h, "lon": float(lon), "lat": float(lat), "crs": "cgcs2000", "kind": "geocoder", "kind_zh": "地址"})
    return hits


def _feature_collection(frame, props: list[str]) -> Response:
    feats = []
    for row, geom in zip(frame[props].to_dict("records"), frame["geom"], strict=True):
        feats.append({"type": "Feature", "properties": row, "geometry": json.loads(shapely.to_geojson(geom))})
    return Response(json.dumps({"type": "FeatureCollection", "features": feats}, ensure_ascii=False, default=str), media_type=GEOJSON)


@router.get("/basemap/lines", summary="Roads and rivers with their names (GeoJSON)", response_class=Response)
def basemap_lines(store: StoreDep) -> Response:
    lines = store.read("lines")
    lines["geom"] = shapely.simplify(lines["geom"].to_numpy(), 0.00005)
    return _feature_collection(lines, ["kind", "name", "class"])


@router.get("/basemap/places", summary="Town and village/community labels (GeoJSON points)", response_class=Response)
def basemap_places(live: LiveDep) -> Response:
    places = live.snapshot.places
    places = places[places["kind"].isin(["town", "village"])]
    frame = places.assign(geom=shapely.points(places["lon"].to_numpy(), places["lat"].to_numpy()))
    return _feature_collection(frame, ["kind", "name", "code"])


@router.get("/grids/{code}/geometry", summary="A published grid's polygon per layer (GeoJSON)", response_class=Response)
def grid_geometry(code: str, live: LiveDep, layer: str | None = None) -> Response:
    feats = []
    for key, ls in live.snapshot.layers.items():
        if layer and key != layer:
            continue
        geom = ls.geometry(code)
        if geom is not None:
            g = ls.info[code]
            feats.append({"type": "Feature", "properties": {"layer": key, **g}, "geometry": json.loads(shapely.to_geojson(geom))})
    if not feats:
        raise NotFound(f"No published grid has code {code}", f"已发布方案中没有编码为 {code} 的网格")
    return Response(json.dumps({"type": "FeatureCollection", "features": feats}, ensure_ascii=False), media_type=GEOJSON)


@router.get("/maps/grids", summary="Published grids of a layer up to a level (GeoJSON)", response_class=Response)
def layer_grids(
    live: LiveDep,
    layer: str,
    max_level: Annotated[int, Query(ge=1, le=4)] = 3,
) -> Response:
    ls = live.snapshot.layers.get(layer)
    if ls is None:
        raise NotFound(f"Layer {layer!r} has no published plan", f"图层 {layer!r} 没有已发布的方案")
    feats = []
    for level, index in ls.indexes.items():
        if level > max_level:
            continue
        simple = shapely.simplify(index.geoms, 0.00002)
        for code, geom in zip(index.codes, simple, strict=True):
            feats.append({"type": "Feature", "properties": ls.info[str(code)], "geometry": json.loads(shapely.to_geojson(geom))})
    return Response(json.dumps({"type": "FeatureCollection", "features": feats}, ensure_ascii=False), media_type=GEOJSON)
