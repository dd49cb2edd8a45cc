"""Request-scoped dependencies: the store the app was built with."""

from __future__ import annotations

from fastapi import Request

from gis.store import Store


def get_store(request: Request) -> Store:
    return request.app.state.store
