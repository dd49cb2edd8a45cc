"""Layers, plans and their grids; publishing a draft."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import Response
from pydantic import BaseModel

from api.deps import StoreDep
from gis.model import PlanStatus
from gis.store.base import Plan as PlanRecord

router = APIRouter(tags=["plans"])


class Layer(BaseModel):
    key: str
    name_zh: str
    name_en: str | None = None
    max_level: int
    published_plan_id: int | None = None


class Plan(BaseModel):
    id: int
    layer_key: str
    name: str
    status: PlanStatus
    version: int
    created_at: str
    published_at: str | None = None
    archived_at: str | None = None
    note: str | None = None
    grids: int | None = None

    @classmethod
    def of(cls, plan: PlanRecord, grids: int | None = None) -> Plan:
        return cls(**{k: v for k, v in vars(plan).items() if k != "extra"}, grids=grids)


class Published(BaseModel):
    plan: Plan
    plan_version: int


@router.get("/layers", response_model=list[Layer], summary="Grid layers (sectors)")
def layers(store: StoreDep) -> list[Layer]:
    published = {p.layer_key: p.id for p in store.plans(status=PlanStatus.PUBLISHED)}
    return [
        Layer(**{k: row[k] for k in ("key", "name_zh", "name_en", "max_level")}, published_plan_id=published.get(row["key"]))
        for row in store.layers().to_dict("records")
    ]


@router.get("/plans", response_model=list[Plan], summary="Plans, optionally by layer and status")
def plans(
    store: StoreDep,
    layer: str | None = None,
    status: PlanStatus | None = None,
) -> list[Plan]:
    return [Plan.of(p) for p in store.plans(layer, status)]


@router.get("/plans/{plan_id}", response_model=Plan, summary="One plan with its grid count")
def plan(plan_id: int, store: StoreDep) -> Plan:
    p = store.plan(plan_id)
    return Plan.of(p, grids=len(store.read("grids", {"plan_id": plan_id}).index))


@router.post("/plans/{plan_id}/publish", response_model=Published, summary="Publish a draft plan")
def publish(
    plan_id: int,
    store: StoreDep,
    acknowledge: Annotated[
        list[str] | None, Query(description="Coverage warning kinds accepted for this publish (repeatable)")
    ] = None,
) -> Published:
    p = store.publish(plan_id, acknowledge=acknowledge)
    return Published(plan=Plan.of(p), plan_version=store.plan_version())


@router.get(
    "/plans/{plan_id}/grids",
    summary="Grids of a plan as GeoJSON (WGS84/CGCS2000 lon/lat)",
    response_class=Response,
    responses={200: {"content": {"application/geo+json": {}}}},
)
def grids(
    plan_id: int,
    store: StoreDep,
    level: Annotated[int | None, Query(ge=1, le=4)] = None,
) -> Response:
    store.plan(plan_id)
    frame = store.grids(plan_id, level)
    return Response(frame.to_json(drop_id=True, to_wgs84=False), media_type="application/geo+json")
