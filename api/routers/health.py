"""Liveness and a summary of the store."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from api.deps import StoreDep

router = APIRouter(tags=["health"])


class Health(BaseModel):
    status: str
    backend: str
    plan_version: int


@router.get("/health", response_model=Health, summary="Service and store status")
def health(store: StoreDep) -> Health:
    return Health(status="ok", backend=store.backend, plan_version=store.plan_version())
