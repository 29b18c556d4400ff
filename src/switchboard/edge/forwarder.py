"""The edge's ``$default`` route: a message no local processor handles goes to the central.

Each forwarded request gets a fresh id on its upstream connection (the local connection's
one, so a client's requests keep their order); the frame that answers it comes back to the
client with the client's own id (none: the central's bare ``ack`` is not relayed). An
``error`` from the central is relayed as it is; when the upstream cannot be reached within
the buffer's bound and ``edge_timeout``, the client gets ``UNAVAILABLE`` (retryable).

What is forwarded of a message: ``type``, ``data``, ``channel``, ``to`` and ``traceparent``,
plus ``edge_client`` (the local connection id and user; see the trust model in
``docs/edge.md``). The client's ``token`` never leaves the edge.
"""

from __future__ import annotations

from typing import Any

import structlog

from ..core.connection import Connection
from ..core.repeats import RepeatFilter
from ..core.router import DEFAULT_ROUTE, Router
from ..errors import BrokerUnavailable, ErrorReply
from ..protocol.codes import ErrorCode
from ..protocol.envelope import Envelope
from .broker import wire_data
from .upstream import Upstream

log = structlog.get_logger("switchboard.edge")
UPSTREAM_DOWN = "the central cluster cannot be reached just now; try again"
#: Seconds over which refusals for an unreachable upstream make one warning.
WARN_INTERVAL = 10.0


class Forwarder:
    """Forwards unrouted messages upstream and relays the answers (module docstring)."""

    def __init__(self, upstream: Upstream) -> None:
        self.upstream = upstream
        self._router: Router | None = None
        self._warnings = RepeatFilter(WARN_INTERVAL, _refusals_repeated)
        #: Messages forwarded, and those answered UNAVAILABLE by the edge itself.
        self.forwarded = 0
        self.refused = 0

    def install(self, router: Router) -> None:
        """Become ``router``'s ``$default`` route (every type with no route of its own)."""
        self._router = router
        router.add(DEFAULT_ROUTE, self.forward)

    def forward(self, conn: Connection, msg: Envelope) -> None:
        assert self._router is not None
        self._router.spawn(self._relay(conn, msg))

    async def _relay(self, conn: Connection, msg: Envelope) -> None:
        router = self._router
        assert router is not None
        fields: dict[str, Any] = {
            "data": wire_data(bytes(msg.data), conn.wire.codec.data_format),
            "edge_client": {"connection": conn.id, "user": conn.user},
        }
        if msg.channel is not None:
            fields["channel"] = msg.channel
        if msg.to is not None:
            fields["to"] = {"user": msg.to.user, "connection": msg.to.connection}
        if msg.traceparent is not None:
            fields["traceparent"] = msg.traceparent
        self.forwarded += 1
        try:
            frame = await self.upstream.request(conn.id, msg.type, **fields)
        except ErrorReply as exc:
            frame = exc.frame
        except BrokerUnavailable as exc:
            self.refused += 1
            if self._warnings.allow("upstream"):
                log.warning(
                    "edge_upstream_unavailable",
                    connection_id=conn.id,
                    user=conn.user,
                    message_type=msg.type,
                    error=str(exc),
                )
            if not conn.closing:
                router.hub.send_error(conn, ErrorCode.UNAVAILABLE, UPSTREAM_DOWN, msg.id)
            return
        if conn.closing:
            return
        if frame.get("type") == "error":
            code = _error_code(frame.get("code"))
            router.hub.send_error(conn, code, str(frame.get("message", "")), msg.id)
            return
        if msg.id is None:
            if frame.get("type") == "ack":
                return  # the client asked for no confirmation
            frame.pop("id", None)
        else:
            frame["id"] = msg.id
        router.hub.send(conn, frame)


def _error_code(code: object) -> ErrorCode:
    try:
        return ErrorCode(str(code))
    except ValueError:
        return ErrorCode.INTERNAL_ERROR


def _refusals_repeated(_: object, repeated: int) -> None:
    log.warning("edge_upstream_unavailable_repeated", repeated=repeated)
