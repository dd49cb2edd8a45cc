"""Printed outputs over HTTP: notice boards (PDF/PNG), atlases and contact cards (PDF).

Rendering takes seconds of matplotlib holding the GIL, so it runs in a small pool of
SPAWNED processes per API worker (``GRIDGIS_PRINT_WORKERS``, default 1), started on the
first print and shut down with the app: lookups keep their latency while a town's
atlas renders. The request is checked in the API process first, so a wrong paper or a
missing grid costs no rendering; errors raised in the pool (plan or grid not found)
come back as the same problem+json.
"""

from __future__ import annotations

import asyncio
import multiprocessing as mp
import threading
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import asdict
from typing import Annotated, Literal

from fastapi import APIRouter, FastAPI, Query, Request
from fastapi.responses import Response

from api.deps import StoreDep
from gis.errors import GridGisError, NotFound
from gis.jobs import background_priority
from gis.maps.prints import PrintRequest, render_in_process

router = APIRouter(tags=["prints"])
_lock = threading.Lock()

Paper = Annotated[Literal["A4", "A3"], Query(description="Paper size")]
Orientation = Annotated[Literal["landscape", "portrait"], Query(description="Page orientation")]


def _pool(app: FastAPI) -> ProcessPoolExecutor:
    with _lock:
        pool = getattr(app.state, "print_pool", None)
        if pool is None:
            workers = app.state.settings.server.print_workers
            pool = ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn"),
                                       initializer=background_priority)
            app.state.print_pool = pool
        return pool


def shutdown(app: FastAPI) -> None:
    """Stop the print processes (app shutdown); pending prints are cancelled."""
    with _lock:
        pool = getattr(app.state, "print_pool", None)
        app.state.print_pool = None
    if pool is not None:
        pool.shutdown(wait=True, cancel_futures=True)


def _check_grid(store, plan_id: int, code: str) -> None:
    store.plan(plan_id)  # NotFound for a missing plan
    grids = store.grids(plan_id)
    if not (grids["code"] == code).any():
        raise NotFound(f"Grid {code} is not in plan {plan_id}", f"方案 {plan_id} 中没有网格 {code}")


async def _render(request: Request, store, req: PrintRequest) -> Response:
    req.check()
    _check_grid(store, req.plan_id, req.code)
    loop = asyncio.get_running_loop()
    try:
        printed = await loop.run_in_executor(
            _pool(request.app), render_in_process, store.url, asdict(req)
        )
    except BrokenProcessPool:  # a renderer died: start a fresh pool for the next request
        shutdown(request.app)
        raise GridGisError("The print process stopped unexpectedly; try again", "打印进程意外退出，请重试") from None
    return Response(
        printed.data,
        media_type=printed.media_type,
        headers={
            "Content-Disposition": printed.content_disposition(),
            "X-Pages": str(printed.pages),
            "X-Render-Seconds": f"{printed.seconds:.2f}",
        },
    )


@router.get(
    "/plans/{plan_id}/grids/{code}/board.{fmt}",
    summary="Notice-board map (公示图) of a grid and its children: PDF, or PNG at `dpi`",
    responses={200: {"content": {"application/pdf": {}, "image/png": {}}}},
)
async def board(
    plan_id: int, code: str, fmt: Literal["pdf", "png"], request: Request, store: StoreDep,
    paper: Paper = "A4", orientation: Orientation = "landscape",
    dpi: Annotated[int, Query(ge=72, le=600, description="PNG resolution")] = 300,
    page: Annotated[int, Query(ge=1, description="PNG: which page (2+: the people table continued)")] = 1,
) -> Response:  # fmt: skip
    req = PrintRequest("board", plan_id, code, fmt, paper, orientation, dpi, page=page)
    return await _render(request, store, req)


@router.get(
    "/plans/{plan_id}/grids/{code}/atlas.pdf",
    summary="Atlas (图集): one PDF with a notice-board page per child grid of the grid",
    responses={200: {"content": {"application/pdf": {}}}},
)
async def atlas(
    plan_id: int, code: str, request: Request, store: StoreDep,
    paper: Paper = "A4", orientation: Orientation = "landscape",
) -> Response:  # fmt: skip
    req = PrintRequest("atlas", plan_id, code, "pdf", paper, orientation)
    return await _render(request, store, req)


@router.get(
    "/plans/{plan_id}/grids/{code}/cards.pdf",
    summary="Contact cards (网格联系卡) of the child grids: A4 sheets, a QR code per card",
    responses={200: {"content": {"application/pdf": {}}}},
)
async def cards(
    plan_id: int, code: str, request: Request, store: StoreDep,
    qr_url: Annotated[str | None, Query(
        description='QR content as a URL template with {code} (and {name}), e.g. '
        '"https://example.org/grids/{code}"; default: a vCard of the grid worker')] = None,
) -> Response:  # fmt: skip
    req = PrintRequest("cards", plan_id, code, "pdf", qr_url=qr_url)
    return await _render(request, store, req)
