"""A plan's coverage report and per-grid statistics."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from api.deps import StoreDep
from gis.coverage.gate import check_plan
from gis.coverage.report import to_json
from gis.coverage.stats import grid_stats
from gis.maps.folium_map import store_map

router = APIRouter(tags=["coverage"])


@router.get(
    "/plans/{plan_id}/coverage",
    summary="Coverage check of a plan (gaps, overlaps, slivers, nesting, codes, people); findings as GeoJSON",
)
def coverage(plan_id: int, store: StoreDep) -> dict[str, Any]:
    return to_json(check_plan(store, plan_id))


@router.get(
    "/plans/{plan_id}/stats",
    summary="Per-grid statistics: area, enterprises, incidents, people, load",
)
def stats(plan_id: int, store: StoreDep) -> dict[str, Any]:
    store.plan(plan_id)
    result = grid_stats(
        store.grids(plan_id),
        store.read("enterprises"),
        store.read("incidents"),
        store.people(plan_id),
    )
    return result.to_json()


@router.get(
    "/plans/{plan_id}/coverage/map",
    response_class=HTMLResponse,
    summary="Map of a plan with its coverage findings (folium, works offline)",
)
def coverage_map(plan_id: int, store: StoreDep) -> HTMLResponse:
    report = check_plan(store, plan_id)
    return HTMLResponse(store_map(store, plan_id, findings=report.findings).get_root().render())
