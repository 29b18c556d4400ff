"""The live dashboard, its connections page and the demo: files from the package, a stream.

``/dashboard/stream`` is Server-Sent Events: a ``history`` event with the kept one-second
samples, then a ``sample`` event each second. When an API key is configured the stream
wants it in the ``X-API-Key`` header, as the management API does (the dashboard reads the
stream with ``fetch``, which can send headers, not with an EventSource, which cannot);
``?key=`` still works for scripts written before, but puts the key in URLs and logs.
``/client/switchboard.js`` is the JavaScript client (``clients/js``), whose canonical copy
the package ships, so the demo and any page of an application can import it from a node.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Header, Request
from fastapi.responses import FileResponse, RedirectResponse, StreamingResponse
from fastapi.staticfiles import StaticFiles

from .errors import ApiError
from .keys import API_KEY_HEADER, key_matches

if TYPE_CHECKING:
    from fastapi import FastAPI

    from .view import NodeView

STATIC = Path(__file__).parent / "dashboard"
#: The JavaScript client, canonical here; ``clients/js/switchboard.js`` is a copy of it.
CLIENT_MODULE = STATIC / "client" / "switchboard.js"


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

    @router.get("/dashboard/connections")
    async def connections_page() -> FileResponse:
        return FileResponse(STATIC / "connections.html", media_type="text/html")

    @router.get("/demo")
    async def demo() -> FileResponse:
        return FileResponse(STATIC / "demo.html", media_type="text/html")

    @router.get("/client/switchboard.js")
    async def client_module() -> FileResponse:
        # Any origin may import it: a module script is fetched with CORS, and the file is
        # the public client, the same for everyone.
        headers = {"Access-Control-Allow-Origin": "*"}
        return FileResponse(CLIENT_MODULE, media_type="text/javascript", headers=headers)

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
            # Whether the pages must ask for the key (never the key itself).
            "key_required": settings.api_key is not None,
        }

    @router.get("/dashboard/stream")
    async def stream(
        key: str | None = None,
        header_key: Annotated[str | None, Header(alias=API_KEY_HEADER)] = None,
    ) -> StreamingResponse:
        settings = view.settings
        given = header_key if header_key is not None else key
        if settings.api_key is not None and not key_matches(given, settings.api_key, False):
            raise ApiError(401, f"missing or wrong API key in the {API_KEY_HEADER} header")
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
