"""``create_app(settings)``: the FastAPI application over one store.

Each test builds the app it needs; ``gridgis serve`` builds one per worker from
the environment (uvicorn factory mode).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.responses import PlainTextResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles

from api import errors
from api.routers import (
    coverage,
    dispatch,
    health,
    interactive,
    lookup,
    maps,
    partition,
    plans,
    prints,
    tiles,
)
from gis.coverage.gate import install as install_gate
from gis.live import LiveEngine
from gis.lookup.engine import LookupOptions
from gis.settings import Settings
from gis.store import Store, open_store


def create_app(settings: Settings | None = None, store: Store | None = None) -> FastAPI:
    settings = settings or Settings()
    owns_store = store is None

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.store = store if store is not None else install_gate(open_store(settings.store.resolved_url()))
        app.state.live = LiveEngine(app.state.store, poll_timeout=settings.lookup_poll_s).start()
        try:
            yield
        finally:
            app.state.live.stop()
            prints.shutdown(app)
            if owns_store:
                app.state.store.close()

    app = FastAPI(
        title="gridgis",
        summary="Grid-based supervision (网格化监管): grids, plans, people, enterprises, incidents",
        version="0.1.0",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.lookup_options = LookupOptions(
        near_m=settings.lookup.near_m, snap_m=settings.lookup.snap_m, enterprise_m=settings.lookup.enterprise_m
    )
    if store is not None:
        app.state.store = store
    errors.register(app)
    app.include_router(health.router)
    app.include_router(plans.router)
    app.include_router(coverage.router)
    app.include_router(lookup.router)
    app.include_router(dispatch.router)
    app.mount("/static", StaticFiles(directory=dispatch.STATIC), name="static")
    app.include_router(maps.router)
    app.include_router(interactive.router)
    app.include_router(prints.router)
    app.include_router(tiles.router)
    app.include_router(partition.router)

    @app.get("/noop", include_in_schema=False)
    def noop() -> dict:
        """A no-op written the way FastAPI endpoints usually are (sync, JSON): the
        benchmark's yardstick for what a request costs in this app."""
        return {}

    @app.get("/ping", include_in_schema=False)
    async def ping() -> PlainTextResponse:
        """The floor: the cheapest response Starlette can give (async, plain text)."""
        return PlainTextResponse("pong")

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse("/maps")

    return app
