"""The management API's gate: the key and the body size, checked before any body is read.

FastAPI reads and parses a request's body before it runs the endpoint's dependencies, so
an unauthenticated client could make the event loop (the WebSocket server's) buffer and
parse bodies of any size. This ASGI middleware answers 401, 411 or 413 from the headers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from .errors import error_response
from .keys import API_KEY_HEADER, key_refusal

if TYPE_CHECKING:
    from ..config import Settings

API_PREFIX = "/api/v1"
#: The probes: answered whatever the Host header and never refused for load.
PROBE_PATHS = frozenset({"/health", "/ready"})
#: Room for the JSON around ``data`` (``{"data": ...}``) on top of ``max_message_size``.
BODY_SLACK = 1024


class ApiGuard:
    """Wraps the control plane's ASGI app; only ``/api/v1`` requests are checked."""

    def __init__(self, app: ASGIApp, settings: Callable[[], Settings]) -> None:
        self.app = app
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(API_PREFIX):
            await self.app(scope, receive, send)
            return
        settings = self.settings()
        headers = Headers(scope=scope)
        why = key_refusal(headers.get(API_KEY_HEADER), settings)
        if why is not None:
            await error_response(401, "UNAUTHORIZED", why)(scope, receive, send)
            return
        length = headers.get("content-length")
        limit = settings.max_message_size + BODY_SLACK
        if length is None and "chunked" in headers.get("transfer-encoding", "").lower():
            message = "send the body with a Content-Length"
            await error_response(411, "LENGTH_REQUIRED", message)(scope, receive, send)
            return
        if length is not None and (not length.isdigit() or int(length) > limit):
            message = f"the body may be at most {limit} bytes"
            await error_response(413, "MESSAGE_TOO_LARGE", message)(scope, receive, send)
            return
        await self.app(scope, receive, send)
