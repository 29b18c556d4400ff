"""The live dashboard and the chat demo: static files from the package, and a live stream.

``/dashboard/stream`` is Server-Sent Events: a ``history`` event with the kept one-second
samples, then a ``sample`` event each second. Browsers cannot put headers on an
EventSource, so the stream takes the API key as ``?key=`` when one is configured.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, RedirectResponse, StreamingResponse
from fastapi.staticfiles import StaticFiles

from .errors import ApiError
from .keys import key_matches

if TYPE_CHECKING:
    from fastapi import FastAPI

    from .view import NodeView

STATIC = Path(__file__).parent / "dashboard"


def _event(name: str, data: Any) -> bytes:
    return f"event: {name}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


def install_pages(api: FastAPI, view: NodeView) -> None:
    """Mount the dashboard, the demo and their data endpoints on ``api``."""
    router = APIRouter(include_in_schema=False)

    @router.get("/")
    async def home(request: Request) -> RedirectResponse:
        # The admin port's front page is the dashboard (its ``?key=`` kept).
        query = request.url.query
        return RedirectResponse("/dashboard" + (f"?{query}" if query else ""), status_code=307)

    @router.get("/dashboard")
    async def dashboard() -> FileResponse:
        return FileResponse(STATIC / "index.html", media_type="text/html")

    @router.get("/demo")
    async def demo() -> FileResponse:
        return FileResponse(STATIC / "demo.html", media_type="text/html")

    @router.get("/dashboard/config.json")
    async def config() -> dict[str, Any]:
        settings = view.settings
        return {
            "node": settings.node_id,
            "ws_port": view.port,
            "ws_path": settings.path,
            "tls": view.tls is not None,
            "version": view.version,
            # What the charts span: the samples the monitor keeps, no more, no less.
            "history_seconds": settings.dashboard_history,
        }

    @router.get("/dashboard/stream")
    async def stream(key: str | None = None) -> StreamingResponse:
        settings = view.settings
        if settings.api_key is not None and not key_matches(key, settings.api_key, False):
            raise ApiError(401, "missing or wrong API key: open /dashboard?key=...")
        monitor = view.monitor
        if monitor is None:
            raise ApiError(503, "the server is not running")

        async def events() -> AsyncIterator[bytes]:
            yield _event("history", list(monitor.samples))
            while (sample := await monitor.next_sample()) is not None:
                yield _event("sample", sample)

        headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
        return StreamingResponse(events(), media_type="text/event-stream", headers=headers)

    api.include_router(router)
    api.mount("/dashboard/static", StaticFiles(directory=STATIC), name="dashboard-static")
