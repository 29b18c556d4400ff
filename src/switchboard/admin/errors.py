"""One JSON error shape for every control-plane failure: ``{"error": {"code", "message"}}``.

The codes are the WebSocket protocol's where one fits (``NOT_FOUND``, ``UNAUTHORIZED``, ...)
plus ``GONE`` (a connection that is no longer open) and ``INVALID_REQUEST``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException
from starlette.routing import BaseRoute, Match

from ..errors import BrokerUnavailable, SwitchboardError

log = structlog.get_logger("switchboard.admin")

_CODES = {
    400: "INVALID_REQUEST",
    401: "UNAUTHORIZED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    409: "CONFLICT",
    410: "GONE",
    413: "MESSAGE_TOO_LARGE",
    421: "MISDIRECTED_REQUEST",
    422: "INVALID_REQUEST",
    429: "RATE_LIMIT_EXCEEDED",
    501: "NOT_IMPLEMENTED",
    503: "UNAVAILABLE",
}


class ErrorBody(BaseModel):
    code: str
    message: str


class ErrorResponse(BaseModel):
    """What every failed control-plane request answers."""

    error: ErrorBody


class ApiError(SwitchboardError):
    """Raised by an endpoint to answer ``status`` with ``code`` and ``message``."""

    error_code = None  # an HTTP answer: ``status`` and the API's own ``code``

    def __init__(self, status: int, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code or _CODES.get(status, "ERROR")


def error_response(status: int, code: str, message: str, **headers: str) -> JSONResponse:
    body = {"error": {"code": code, "message": message}}
    return JSONResponse(body, status_code=status, headers=headers or None)


#: The error responses every management endpoint documents in the OpenAPI spec.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorResponse, "description": "Malformed request (e.g. a body not JSON)."},
    401: {"model": ErrorResponse, "description": "Missing or wrong API key."},
    422: {"model": ErrorResponse, "description": "Invalid parameters or body."},
    503: {"model": ErrorResponse, "description": "Not running, or the broker is unavailable."},
}


def documented(
    *statuses: int, meaning: Mapping[int, str] | None = None
) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for an endpoint's own error statuses (410 Gone, 404, 409, 413, 503);
    ``meaning`` replaces the usual description of a status where the endpoint's differs."""
    descriptions = {
        403: "Refused by a rule of the node (e.g. the subscription limit of a connection).",
        404: "Nothing there: no such user, or a path no route serves (a malformed channel "
        "name or connection id).",
        409: "Busy with the same request.",
        410: "The connection is not open on this node.",
        413: "The data is larger than max_message_size.",
        501: "This node's broker keeps no idempotency keys.",
        503: "The broker (Redis) did not answer in time.",
    }
    descriptions.update(meaning or {})
    return {s: {"model": ErrorResponse, "description": descriptions[s]} for s in statuses}


def install_error_handlers(api: FastAPI) -> None:
    """Route every error (ours, Starlette's, validation, unexpected) to the one shape."""

    @api.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status, exc.code, exc.message)

    @api.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        code = _CODES.get(exc.status_code, "ERROR")
        headers = dict(exc.headers) if exc.headers else {}
        if exc.status_code == 405:
            # Starlette names only the first route of the path; a path served by several
            # routes (GET, POST and DELETE of a connection) allows all of their methods.
            headers["Allow"] = ", ".join(_allowed_methods(api, request))
        return error_response(exc.status_code, code, str(exc.detail), **headers)

    @api.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [
            f"{'.'.join(str(p) for p in error.get('loc', ()))}: {error.get('msg', 'invalid')}"
            for error in exc.errors()
        ]
        return error_response(422, "INVALID_REQUEST", "; ".join(problems) or "invalid request")

    @api.exception_handler(BrokerUnavailable)
    async def broker_down(request: Request, exc: BrokerUnavailable) -> JSONResponse:
        return error_response(503, "UNAVAILABLE", f"broker unavailable: {exc}")

    @api.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.error("admin_request_failed", path=request.url.path, exc_info=exc)
        return error_response(500, "INTERNAL_ERROR", "internal error")


def _allowed_methods(api: FastAPI, request: Request) -> list[str]:
    methods: set[str] = set()
    for route in _all_routes(api.router.routes):
        if route.matches(request.scope)[0] is not Match.NONE:
            methods |= getattr(route, "methods", None) or set()
    return sorted(methods)


def _all_routes(routes: list[BaseRoute]) -> Iterator[BaseRoute]:
    """Routes, with those of included routers (FastAPI wraps each in an object that keeps
    the router as ``original_router``) flattened in."""
    for route in routes:
        inner = getattr(route, "original_router", None)
        if inner is not None:
            yield from _all_routes(inner.routes)
        else:
            yield route
