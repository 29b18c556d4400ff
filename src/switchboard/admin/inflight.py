"""A bound on the control plane's requests in flight: they share the WebSocket server's loop.

Requests are counted from the moment their headers are in until the application returns
(body read, response written), so a connection that has not finished its headers, or sits
idle between requests, takes no slot. ``/metrics`` counts apart, against a small reserve of
its own, so a busy management API or a wall of dashboards never fails a scrape. ``/health``
and ``/ready`` are not counted at all: their work is a constant answer, and a slot they held
(a client that stops reading its responses holds one) would be one a liveness check could
not have. They stay bounded by the port's cap on connections (``protocol.py``).
"""

from __future__ import annotations

import structlog
from starlette.types import ASGIApp, Receive, Scope, Send

from ..observability.throttle import Throttle
from .errors import error_response
from .guard import PROBE_PATHS

log = structlog.get_logger("switchboard.admin")

METRICS_PATH = "/metrics"


class _Slots:
    __slots__ = ("limit", "taken")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.taken = 0


class InFlightLimit:
    """Answers 503 ``UNAVAILABLE`` (``Retry-After: 1``) to a request past its bound."""

    def __init__(
        self, app: ASGIApp, limit: int, metrics_limit: int, warn_interval: float = 10.0
    ) -> None:
        self.app = app
        self._requests = _Slots(limit)
        self._metrics = _Slots(metrics_limit)
        self._warn_busy = Throttle(warn_interval)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in PROBE_PATHS:
            await self.app(scope, receive, send)
            return
        metrics = scope["path"] == METRICS_PATH
        slots = self._metrics if metrics else self._requests
        if slots.taken >= slots.limit:
            self._warn_busy(
                lambda suppressed: log.warning(
                    "admin_busy",
                    in_flight=slots.taken,
                    limit=slots.limit,
                    metrics=metrics,
                    suppressed_since_last=suppressed,
                )
            )
            kind = "/metrics requests" if metrics else "requests"
            message = f"the control plane is busy: {slots.taken} {kind} in flight"
            response = error_response(503, "UNAVAILABLE", message, **{"Retry-After": "1"})
            await response(scope, receive, send)
            return
        slots.taken += 1
        try:
            await self.app(scope, receive, send)
        finally:
            slots.taken -= 1
