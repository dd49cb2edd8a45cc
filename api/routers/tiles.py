"""Vector tiles of the published plans, enterprises and incidents, with TileJSON.

``/tiles/{layer}/{z}/{x}/{y}.mvt``: ``layer`` is a sector layer key (its published
plan's grids, e.g. ``community``), ``enterprises`` or ``incidents``. PostGIS makes
the tiles with ST_AsMVT, the embedded store with a Python encoder; both are cached
per plan version (see :mod:`gis.tiles`).
"""

from __future__ import annotations

import threading
from typing import Annotated

import shapely
from fastapi import APIRouter, Depends, Path, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response

from api.deps import LiveDep
from gis.errors import NotFound
from gis.tiles.layers import POINT_LAYERS
from gis.tiles.service import TileService
from gis.tiles.tilejson import tilejson

router = APIRouter(tags=["tiles"])
MVT = "application/vnd.mapbox-vector-tile"
_lock = threading.Lock()


async def get_tiles(request: Request) -> TileService:
    """The app's tile service (made on first use, over the app's store)."""
    service = getattr(request.app.state, "tiles", None)
    if service is None:
        with _lock:
            service = getattr(request.app.state, "tiles", None) or TileService(
                request.app.state.store
            )
            request.app.state.tiles = service
    return service


TilesDep = Annotated[TileService, Depends(get_tiles)]


@router.get(
    "/tiles/{layer}.json",
    summary="TileJSON of a tile layer (grids of a sector layer, enterprises, incidents)",
)
def layer_tilejson(layer: str, request: Request, live: LiveDep, tiles: TilesDep) -> JSONResponse:
    snap = live.snapshot
    if layer in POINT_LAYERS:
        frame = snap.enterprises if layer == "enterprises" else None
        bounds = None
        if frame is not None and len(frame):
            bounds = (
                float(frame["lon"].min()),
                float(frame["lat"].min()),
                float(frame["lon"].max()),
                float(frame["lat"].max()),
            )
        name = {"enterprises": "监管企业", "incidents": "事件与投诉"}[layer]
    else:
        ls = snap.layers.get(layer)
        if ls is None:
            raise NotFound(
                f"No tile layer {layer!r}; layers: {tiles.layer_names(snap)}",
                f"没有瓦片图层 {layer!r}；可用图层：{tiles.layer_names(snap)}",
            )
        top = ls.indexes[ls.levels[0]].geoms
        bounds = tuple(float(v) for v in shapely.total_bounds(top))
        name = f"{ls.name_zh} · {ls.plan.name}（第 {ls.plan.version} 版）"
    base = str(request.base_url).rstrip("/")
    return JSONResponse(tilejson(layer, base, name=name, bounds=bounds, version=snap.plan_version))  # type: ignore[arg-type]


@router.get(
    "/tiles/{layer}/{z}/{x}/{y}.mvt", summary="A Mapbox Vector Tile", response_class=Response
)
async def tile(
    layer: str,
    z: Annotated[int, Path(ge=0, le=22)],
    x: Annotated[int, Path(ge=0)],
    y: Annotated[int, Path(ge=0)],
    live: LiveDep,
    tiles: TilesDep,
) -> Response:
    snap = live.snapshot
    headers = {"X-Plan-Version": str(snap.plan_version), "Cache-Control": "no-cache"}
    cached = tiles.cache.get((snap.plan_version, layer, z, x, y))
    if cached is None:  # encode off the event loop
        cached = await run_in_threadpool(tiles.tile, snap, layer, z, x, y)
    return Response(cached, media_type=MVT, headers=headers)
