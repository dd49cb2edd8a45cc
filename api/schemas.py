"""Response models of the dispatcher API, documented in the OpenAPI schema."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class Person(BaseModel):
    role: str = Field(description="grid_leader, responsible_officer, grid_worker or supervisor")
    name: str
    phone: str
    department: str | None = None


class GridRef(BaseModel):
    code: str
    name: str
    level: int
    parent_code: str | None = None


class Grid(GridRef):
    people: list[Person] = []


class NearGrid(GridRef):
    distance_m: float


class LayerAnswer(BaseModel):
    layer: str
    layer_name: str
    plan_id: int
    plan_version: int = Field(description="version of this layer's plan")
    status: Literal["inside", "snapped", "outside"] = Field(
        description="inside: covered; snapped: nearest grid within the snap tolerance; outside: none"
    )
    distance_m: float = Field(description="0 inside; distance to the nearest grid otherwise")
    grids: list[Grid] = Field(description="the responsible grid at each level, level 1 first")
    on_boundary: bool = Field(description="the point lies on a shared edge or vertex")
    touching: list[GridRef] = Field(description="other grids whose boundary the point lies on")
    near_boundary: list[NearGrid] = Field(description="neighbours within the near distance")
    nearest: NearGrid | None = Field(default=None, description="nearest grid when not inside")


class QueryEcho(BaseModel):
    lon: float
    lat: float
    crs: str


class ResponsibleGrid(Grid):
    layer: str


class NearbyEnterprise(BaseModel):
    credit_code: str
    name: str
    address: str | None = None
    supervision_level: str
    distance_m: float
    responsible: list[ResponsibleGrid] = Field(description="grid of its supervision level, per layer")


class LookupAnswer(BaseModel):
    query: QueryEcho = Field(description="the point as given, with the CRS used")
    point: QueryEcho = Field(description="the point in the store CRS (CGCS2000)")
    plan_version: int = Field(description="store-wide plan version this answer comes from")
    layers: list[LayerAnswer]
    enterprises: list[NearbyEnterprise]


class BatchError(BaseModel):
    index: int
    message: str
    message_zh: str


class BatchAnswer(BaseModel):
    plan_version: int
    crs: str
    level: int | None = Field(description="level answered (null: each layer's finest)")
    count: int
    results: dict[str, list[str | None]] = Field(description="per layer, the grid code of each point (null: outside)")
    errors: list[BatchError] = Field(description="bad rows by index; they have null results")


class RoutedGrid(BaseModel):
    layer: str
    plan_id: int
    code: str | None
    name: str | None
    level: int | None
    status: str


class IncidentIn(BaseModel):
    lon: float
    lat: float
    crs: str | None = Field(default=None, description="wgs84, cgcs2000, gcj02, bd09 or EPSG:n")
    category: str = Field(min_length=1)
    source: str = Field(default="12345热线", min_length=1)
    reported_at: str | None = Field(default=None, description="ISO time; default now")
    description: str | None = None
    reporter_contact: str | None = Field(default=None, description="kept private: stored, never returned")


class IncidentOut(BaseModel):
    id: int
    category: str
    source: str
    reported_at: str
    description: str | None = None
    status: str
    lon: float
    lat: float
    plan_version: int
    routed_grids: list[RoutedGrid]


class GridLayerDetail(BaseModel):
    layer: str
    plan_id: int
    grid: Grid
    ancestry: list[Grid] = Field(description="level 1 first, ending with the grid itself")
    children: list[GridRef]


class GridDetail(BaseModel):
    code: str
    layers: list[GridLayerDetail]
