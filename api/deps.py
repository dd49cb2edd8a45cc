"""Request-scoped dependencies: the store the app was built with."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from gis.store import Store


def get_store(request: Request) -> Store:
    return request.app.state.store


StoreDep = Annotated[Store, Depends(get_store)]
