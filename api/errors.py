"""Domain errors -> HTTP statuses, answered as problem+json (RFC 9457), in one place.

Bad input never gets a 500: domain errors carry their own status, request
validation errors become 422 with the field named.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from gis.errors import Conflict, CRSError, GridGisError, InvalidInput, NotFound, StoreUnavailable

STATUS: dict[type[GridGisError], int] = {
    CRSError: 422,
    InvalidInput: 422,
    NotFound: 404,
    Conflict: 409,
    StoreUnavailable: 503,
}
TITLES = {422: "Unprocessable input", 404: "Not found", 409: "Conflict", 503: "Store unavailable", 500: "Error"}
PROBLEM_JSON = "application/problem+json"


def status_for(exc: GridGisError) -> int:
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]  # type: ignore[index]
    return 500


def problem(status: int, detail: str, request: Request, **extra) -> JSONResponse:
    body = {"type": "about:blank", "title": TITLES.get(status, "Error"), "status": status, "detail": detail}
    body["instance"] = str(request.url.path)
    body.update(extra)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON)


def register(app: FastAPI) -> None:
    @app.exception_handler(GridGisError)
    async def _domain(request: Request, exc: GridGisError) -> JSONResponse:
        return problem(
            status_for(exc),
            exc.message,
            request,
            detail_zh=exc.message_zh,
            problems=[p.to_dict() for p in exc.problems],
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [
            {
                "field": ".".join(str(p) for p in err.get("loc", ()) if p not in ("query", "body", "path")),
                "message": err.get("msg", ""),
                "message_zh": "参数无效",
            }
            for err in exc.errors()
        ]
        names = ", ".join(p["field"] for p in problems)
        return problem(422, f"Invalid request: {names}", request, detail_zh=f"请求参数无效：{names}", problems=problems)
