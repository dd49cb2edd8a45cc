"""Request-scoped dependencies: the store, the live lookup engine, the settings.

They are ``async`` on purpose: they only read ``app.state``, and a sync dependency
would cost every request a hop to the thread pool.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from gis.live import LiveEngine
from gis.settings import Settings
from gis.store import Store


async def get_store(request: Request) -> Store:
    return request.app.state.store


StoreDep = Annotated[Store, Depends(get_store)]


async def get_live(request: Request) -> LiveEngine:
    return request.app.state.live


async def get_settings(request: Request) -> Settings:
    return request.app.state.settings


LiveDep = Annotated[LiveEngine, Depends(get_live)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
