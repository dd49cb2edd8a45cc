"""Dispatcher endpoints: whose grid is this point, in batches, grid details, incidents."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from typing import Annotated

import numpy as np
import orjson
import pandas as pd
import shapely
from fastapi import APIRouter, Query, Request
from fastapi.responses import Response, StreamingResponse

from api.deps import LiveDep, SettingsDep, StoreDep
from api.schemas import BatchAnswer, GridDetail, IncidentIn, IncidentOut, LookupAnswer
from gis.crs import normalize_crs, to_store
from gis.errors import CRSError, InvalidInput, NotFound, Problem
from gis.lookup.batch import check_rows, codes_for, csv_columns, layer_keys, stream_csv
from gis.lookup.engine import answer, parse_point
from gis.routing import category_layers, route_incident

router = APIRouter(tags=["lookup"])



_LOOKUP_PARAMS = [
    {"name": "lon", "in": "query", "required": True, "schema": {"type": "number"}, "description": "longitude (or x) in `crs`"},
    {"name": "lat", "in": "query", "required": True, "schema": {"type": "number"}, "description": "latitude (or y) in `crs`"},
    {
        "name": "crs",
        "in": "query",
        "required": False,
        "schema": {"type": "string"},
        "description": "wgs84, cgcs2000, gcj02, bd09 or EPSG:n; required unless the deployment sets a default",
    },
    {
        "name": "layers",
        "in": "query",
        "required": False,
        "schema": {"type": "string"},
        "description": "comma-separated layer keys; default all published",
    },
]


def _number(params, name: str) -> float:
    raw = params.get(name)
    if raw is None or raw == "":
        raise InvalidInput(
            f"{name} is required", f"缺少参数 {name}", [Problem(f"{name} is required", f"缺少参数 {name}", field=name)]
        )
    try:
        return float(raw)
    except ValueError:
        raise InvalidInput(
            f"{name} must be a number, got {raw!r}",
            f"{name} 必须是数字",
            [Problem(f"{name} must be a number", f"{name} 必须是数字", field=name)],
        ) from None


@router.get(
    "/lookup",
    response_model=LookupAnswer,
    summary="Responsible grids and people at a point, every layer",
    openapi_extra={"parameters": _LOOKUP_PARAMS},
)
async def lookup(request: Request) -> Response:
    """The hot path of the dispatch centre, so it skips FastAPI's parameter machinery:
    the query is read directly (documented above), app state is read directly, and the
    engine's dict, which is exactly ``LookupAnswer``, is serialised as is."""
    q = request.query_params
    lon, lat = _number(q, "lon"), _number(q, "lat")
    layers = q.get("layers")
    state = request.app.state
    keys = [k for k in layers.split(",") if k] if layers else None
    result = answer(
        state.live.snapshot,
        lon,
        lat,
        q.get("crs") or None,
        default_crs=state.settings.geo.default_crs or None,
        options=state.lookup_options,
        layers=keys,
    )
    return Response(orjson.dumps(result), media_type="application/json")


# ---------------------------------------------------------------------- batch








def _crs(crs: str | None, settings) -> str:
    name = crs or settings.geo.default_crs
    if not name:
        raise CRSError("crs is required (wgs84, cgcs2000, gcj02, bd09 or an EPSG code)", "必须指定坐标系 crs")
    return normalize_crs(name)


def _arrays_from_json(body: dict) -> tuple[np.ndarray, np.ndarray]:
    if body.get("type") == "FeatureCollection":
        feats = body.get("features") or []
        lon = np.full(len(feats), np.nan)
        lat = np.full(len(feats), np.nan)
        for i, f in enumerate(feats):
            g = (f or {}).get("geometry") or {}
            c = g.get("coordinates") if g.get("type") == "Point" else None
            if isinstance(c, list) and len(c) >= 2:
                try:
                    lon[i], lat[i] = float(c[0]), float(c[1])
                except (TypeError, ValueError):
                    pass
        return lon, lat
    if "points" in body:
        pts = body["points"]
        arr = np.full((len(pts), 2), np.nan)
        for i, p in enumerate(pts):
            try:
                arr[i] = float(p[0]), float(p[1])
            except (TypeError, ValueError, IndexError):
                pass
        return arr[:, 0], arr[:, 1]
    if "lon" in body and "lat" in body:
        try:
            lon = np.asarray(body["lon"], dtype=float)
            lat = np.asarray(body["lat"], dtype=float)
        except (TypeError, ValueError):
            lon = np.array([_num(v) for v in body["lon"]])
            lat = np.array([_num(v) for v in body["lat"]])
        if lon.shape != lat.shape or lon.ndim != 1:
            raise InvalidInput("lon and lat must be arrays of the same length", "lon 与 lat 必须是等长数组")
        return lon, lat
    raise InvalidInput(
        "body needs lon/lat arrays, points [[lon, lat], ...] or a GeoJSON FeatureCollection of points",
        "请求体需要 lon/lat 数组、points 或 GeoJSON 点要素集",
    )


def _num(v) -> float:
    try:
        return float(v)
    except (TypeError, ValueError):
        return float("nan")






@router.post(
    "/lookup/batch",
    response_model=BatchAnswer,
    summary="Grid codes for many points (JSON arrays, GeoJSON, or CSV streamed in and out)",
    responses={200: {"content": {"text/csv": {}}}},
)
async def lookup_batch(
    request: Request,
    live: LiveDep,
    settings: SettingsDep,
    crs: Annotated[str | None, Query(description="CRS of all points (JSON bodies may also carry `crs`)")] = None,
    layers: Annotated[str | None, Query(description="comma-separated layer keys; default all published")] = None,
    level: Annotated[int | None, Query(ge=1, le=4, description="level to answer; default each layer's finest")] = None,
):
    snap = live.snapshot
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype in ("text/csv", "application/csv") or ctype.startswith("multipart/"):
        canon = _crs(crs, settings)
        keys = layer_keys(snap, layers)
        if ctype.startswith("multipart/"):
            form = await request.form()
            upload = form.get("file")
            if upload is None or isinstance(upload, str):
                raise InvalidInput("multipart upload needs a CSV file in field 'file'", "请在 file 字段上传 CSV 文件")
            source = upload.file
        else:
            source = io.BytesIO(await request.body())
        # the first chunk is parsed here so that bad headers answer 422, not a broken stream
        first = pd.read_csv(source, nrows=0, encoding="utf-8-sig")
        csv_columns(first)
        source.seek(0)
        return StreamingResponse(stream_csv(snap, source, canon, keys, level), media_type="text/csv; charset=utf-8")
    try:
        body = json.loads(await request.body())
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"body is not valid JSON: {exc}", "请求体不是有效的 JSON") from exc
    if not isinstance(body, dict):
        raise InvalidInput("body must be a JSON object", "请求体必须是 JSON 对象")
    canon = _crs(crs or body.get("crs"), settings)
    keys = layer_keys(snap, layers or (",".join(body["layers"]) if isinstance(body.get("layers"), list) else None))
    level = level or body.get("level")
    lon, lat = _arrays_from_json(body)
    ok, errors = check_rows(lon, lat, canon)
    x, y = to_store(np.where(ok, lon, 0.0), np.where(ok, lat, 0.0), canon)
    codes = codes_for(snap, keys, level, x, y, ok)
    payload = {
        "plan_version": snap.plan_version,
        "crs": canon,
        "level": level,
        "count": int(len(lon)),
        "results": {k: v.tolist() for k, v in codes.items()},
        "errors": errors,
    }
    return Response(orjson.dumps(payload), media_type="application/json")


# ---------------------------------------------------------------------- grids


@router.get("/grids/{code}", response_model=GridDetail, summary="A grid of the published plans, with ancestry and people")
def grid_detail(code: str, live: LiveDep, layer: str | None = None) -> dict:
    snap = live.snapshot
    found = []
    for key, ls in snap.layers.items():
        if layer and key != layer:
            continue
        if code not in ls.info:
            continue
        chain = [{**g, "people": ls.people.get(g["code"], [])} for g in ls.chain(code)]
        children = [g for g in ls.info.values() if g.get("parent_code") == code]
        found.append({"layer": key, "plan_id": ls.plan.id, "grid": chain[-1], "ancestry": chain, "children": children})
    if not found:
        raise NotFound(f"No published grid has code {code}", f"已发布方案中没有编码为 {code} 的网格")
    return {"code": code, "layers": found}


# ---------------------------------------------------------------------- incidents


@router.post("/incidents", response_model=IncidentOut, status_code=201, summary="Record an incident, routed to its grids")
def create_incident(request: Request, body: IncidentIn, live: LiveDep, store: StoreDep, settings: SettingsDep) -> dict:
    snap = live.snapshot
    x, y, canon = parse_point(body.lon, body.lat, body.crs, settings.geo.default_crs or None)
    table = category_layers(store)
    routed = route_incident(snap, x, y, body.category, table, request.app.state.lookup_options)
    reported = body.reported_at or datetime.now(UTC).isoformat()
    try:
        ts = pd.Timestamp(reported)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"reported_at {reported!r} is not a date/time", f"reported_at {reported!r} 不是有效时间") from exc
    frame = pd.DataFrame(
        [
            {
                "category": body.category,
                "source": body.source,
                "reported_at": ts,
                "description": body.description,
                "reporter_contact": body.reporter_contact,
                "status": "open",
                "routed_grids": routed,
                "geom": shapely.Point(x, y),
            }
        ]
    )
    new_id = store.write({"incidents": frame}).ids["incidents"][0]
    stored = store.read("incidents", {"id": new_id}).iloc[0]
    return {
        "id": int(stored["id"]),
        "category": body.category,
        "source": body.source,
        "reported_at": pd.Timestamp(stored["reported_at"]).isoformat(),
        "description": body.description,
        "status": "open",
        "lon": x,
        "lat": y,
        "plan_version": snap.plan_version,
        "routed_grids": routed,
    }


@router.get("/settings/category-layers", summary="Incident category -> grid layers table")
def get_category_layers(store: StoreDep) -> dict[str, list[str]]:
    return category_layers(store)


@router.put("/settings/category-layers", summary="Replace the incident category -> grid layers table")
def put_category_layers(table: dict[str, list[str]], store: StoreDep) -> dict[str, list[str]]:
    known = set(store.layers()["key"])
    bad = sorted({layer for layers in table.values() for layer in layers if layer not in known})
    if bad:
        raise InvalidInput(f"unknown layer(s) {bad}; known: {sorted(known)}", f"未知图层 {bad}")
    store.set_setting("category_layers", table)
    return category_layers(store)
