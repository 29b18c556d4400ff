"""An application route: a sync or async handler whose return value is the reply."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, Protocol

from ..protocol.codes import ErrorCode
from ..protocol.envelope import Envelope
from .connection import Connection
from .hub import Hub
from .ratelimit import route_allows
from .stats import bump
from .typed import Payload, payload_of

#: ``(conn, msg)``, or a typed handler's ``(conn, value)`` / ``(conn, msg, data=value)``.
RouteHandler = Callable[..., Any]


class RouteHost(Protocol):
    """What a route needs of its router (``core/router.py``)."""

    hub: Hub

    def denied(self, conn: Connection, envelope: Envelope, reason: str) -> None: ...

    def spawn(self, coro: Awaitable[None]) -> None: ...

    def failed(self, conn: Connection, envelope: Envelope, exc: Exception) -> None: ...


class AppRoute:
    """Adapts an application handler (sync or async, returning a reply) to a route."""

    __slots__ = (
        "burst",
        "handler",
        "is_async",
        "message_type",
        "payload",
        "rate",
        "rate_key",
        "reply_type",
        "roles",
        "router",
    )

    def __init__(
        self,
        router: RouteHost,
        message_type: str,
        handler: RouteHandler,
        roles: Iterable[str] | None,
    ) -> None:
        self.router = router
        self.message_type = message_type
        self.reply_type = f"{message_type}_reply"
        self.handler = handler
        self.is_async = inspect.iscoroutinefunction(handler)
        #: A typed handler's payload (``core/typed.py``), read from its signature once.
        self.payload = payload_of(handler)
        self.roles = frozenset(roles or ())
        self.rate = 0.0
        self.burst = 1.0
        #: Where this route's token bucket lives in ``conn.state``.
        self.rate_key = f"switchboard.route_rate:{message_type}"

    def __call__(self, conn: Connection, msg: Envelope) -> None:
        if self.roles and self.roles.isdisjoint(conn.roles):
            self.router.denied(conn, msg, f"needs one of the roles {sorted(self.roles)}")
            self.router.hub.send_error(
                conn,
                ErrorCode.FORBIDDEN,
                f"{msg.type!r} needs one of the roles {sorted(self.roles)}",
                msg.id,
            )
            return
        if self.rate and not route_allows(conn, self.rate_key, self.rate, self.burst):
            bump(self.router.hub.stats.rate_limited, "route")
            message = f"{msg.type!r} allows {self.rate:g} requests/s per connection"
            self.router.hub.send_error(conn, ErrorCode.RATE_LIMIT_EXCEEDED, message, msg.id)
            return
        if self.payload is not None:
            self._typed(conn, msg, self.payload)
        elif self.is_async:
            self.router.spawn(self._run(conn, msg, self.handler(conn, msg)))
        else:
            self.reply(conn, msg, self.handler(conn, msg))

    def _typed(self, conn: Connection, msg: Envelope, payload: Payload) -> None:
        """Validate ``data`` first; a value that does not fit never reaches the handler."""
        value = payload.decode(conn, msg)  # RequestError: the router answers it
        if payload.keyword is None:
            pending = self.handler(conn, value)
        else:
            pending = self.handler(conn, msg, **{payload.keyword: value})
        if self.is_async:
            self.router.spawn(self._run(conn, msg, pending))
        else:
            self.reply(conn, msg, pending)

    async def _run(self, conn: Connection, msg: Envelope, pending: Awaitable[Any]) -> None:
        try:
            result = await pending
        except Exception as exc:
            self.router.failed(conn, msg, exc)
            return
        self.reply(conn, msg, result)

    def reply(self, conn: Connection, msg: Envelope, result: Any) -> None:
        if result is None:
            self.router.hub.ack(conn, msg.id)  # nothing to say: confirm, when asked to
            return
        reply: dict[str, Any] = {"type": self.reply_type, "data": result}
        if msg.id is not None:
            reply["id"] = msg.id
        self.router.hub.send(conn, reply)
