"""Interactive folium maps of any plan, served with every asset from this API."""

from __future__ import annotations

import threading

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse

from api.deps import LiveDep, StoreDep
from gis.maps.folium_map import TiledGrids, store_map

router = APIRouter(tags=["maps"])
_pages: dict[tuple[int, int, int], str] = {}  # (store, plan, plan version): published plans only
_lock = threading.Lock()


def _render(store, plan_id: int, tiled_layer: str | None) -> str:
    tiles = (
        TiledGrids(f"/tiles/{tiled_layer}/{{z}}/{{x}}/{{y}}.mvt", tiled_layer)
        if tiled_layer
        else None
    )
    return store_map(store, plan_id, tiles=tiles).get_root().render()


@router.get(
    "/maps/plan/{plan_id}",
    response_class=HTMLResponse,
    summary="Interactive map of a plan (folium, works offline)",
)
async def plan_page(plan_id: int, store: StoreDep, live: LiveDep) -> HTMLResponse:
    """Grids by level (codes, names, people and phones), enterprises, incidents, outline,
    roads and rivers. Levels too large to inline are drawn from ``/tiles`` when the plan
    is its layer's published plan."""
    snap = live.snapshot
    published = {ls.plan.id: key for key, ls in snap.layers.items()}
    key = (id(store), plan_id, snap.plan_version)
    page = _pages.get(key)
    if page is None:
        page = await run_in_threadpool(_render, store, plan_id, published.get(plan_id))
        if plan_id not in published:  # a draft may still change without a version bump
            return HTMLResponse(page)
        with _lock:
            if len(_pages) > 32:
                _pages.clear()
            _pages[key] = page
    return HTMLResponse(page)
