"""Errors as RFC 9457 problem details (`application/problem+json`).

What a client reads is decided here, by the error's marker, not by its message: a NotFound
or an InputError says what was wrong with the request (its message is about the request);
a backend that is down is a 503 that names no host; anything else is a 500 that says
nothing. The full error, with its traceback (never its locals), goes to the log file.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException

from tunelake.errors import InputError, NotFound, TransientError, TunelakeError
from tunelake.observability import one_line
from tunelake.service.metrics import Metrics
from tunelake.service.state import NothingPublished
from tunelake.storage.serving.port import ServingError

PROBLEM_JSON = "application/problem+json"
log = structlog.get_logger("tunelake.service")


class Problem(BaseModel):
    type: str = "about:blank"
    title: str
    status: int
    detail: str | None = None


def problem(
    status: int, detail: str | None = None, headers: dict[str, str] | None = None
) -> JSONResponse:
    body = Problem(title=HTTPStatus(status).phrase, status=status, detail=detail)
    return JSONResponse(
        body.model_dump(exclude_none=True), status, headers=headers, media_type=PROBLEM_JSON
    )


#: For the OpenAPI document: what every route may answer besides its success.
PROBLEMS: dict[int | str, dict[str, Any]] = {
    code: {"model": Problem, "content": {PROBLEM_JSON: {}}, "description": HTTPStatus(code).phrase}
    for code in (400, 401, 404, 413, 422, 500, 503)
}


def _validation_detail(exc: RequestValidationError) -> str:
    # Location and message only: pydantic's error also quotes the input, which may be huge.
    return "; ".join(
        f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg', '')}" for e in exc.errors()
    )


def install(app: FastAPI, metrics: Metrics) -> None:
    @app.exception_handler(TunelakeError)
    async def tunelake_error(request: Request, exc: TunelakeError) -> JSONResponse:
        if isinstance(exc, ServingError):
            metrics.serving_errors.labels(type(exc).__name__).inc()
        if isinstance(exc, NotFound):
            return problem(404, str(exc))
        if isinstance(exc, InputError):
            return problem(400, str(exc))
        log.error("request failed", path=request.url.path, error=one_line(exc), exc_info=exc)
        if isinstance(exc, TransientError):
            return problem(503, _unavailable(exc), headers={"Retry-After": "5"})
        return problem(500, "the server could not answer; the error is in its log")

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        headers = dict(exc.headers or {})
        return problem(exc.status_code, str(exc.detail), headers=headers or None)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        return problem(422, _validation_detail(exc))

    @app.exception_handler(Exception)
    async def bug(request: Request, exc: Exception) -> JSONResponse:
        log.error("request failed", path=request.url.path, error=one_line(exc), exc_info=exc)
        return problem(500, "the server could not answer; the error is in its log")


def _unavailable(exc: TransientError) -> str:
    if isinstance(exc, NothingPublished):
        return str(exc)
    return "a storage backend is unavailable; try again later"
