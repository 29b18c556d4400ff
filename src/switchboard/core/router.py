"""Routes decoded envelopes to handlers by ``type``, and turns bad input into error frames."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import msgspec
import structlog

from ..protocol.codes import ErrorCode
from ..protocol.envelope import (
    Envelope,
    EnvelopeError,
    decode_envelope,
    encode,
    envelope_decoder,
)
from ..protocol.frames import Opcode
from .connection import Connection
from .hub import Hub

Handler = Callable[[Connection, Envelope], None]
RouteHandler = Callable[[Connection, Envelope], Any]
#: The route that catches every type no other route handles.
DEFAULT_ROUTE = "$default"

log = structlog.get_logger("switchboard.router")
_TEXT = Opcode.TEXT.value
_decode = envelope_decoder.decode


class Router:
    """A route table: message ``type`` -> plain (non-async) handler call."""

    __slots__ = ("_tasks", "hub", "routes")

    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self.routes: dict[str, Handler] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def spawn(self, coro: Awaitable[None]) -> None:
        """Run an async handler as its own task (kept referenced until it finishes)."""
        task: asyncio.Task[None] = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def add(self, message_type: str, handler: Handler) -> None:
        """A built-in style route: a plain call that sends what it needs itself."""
        self.routes[message_type] = handler

    def add_route(
        self,
        message_type: str,
        handler: RouteHandler,
        roles: Iterable[str] | None = None,
    ) -> None:
        """An application route: sync or async, its return value (if not None) is the reply.

        The reply goes out as ``{"type": "<type>_reply", "data": <value>, "id": <id>}``.
        ``roles``: the connection must hold at least one of them, else ``FORBIDDEN``.
        An async handler runs as its own task, so a slow one delays nobody else.
        """
        self.routes[message_type] = _AppRoute(self, message_type, handler, roles)

    def remove(self, message_type: str) -> None:
        self.routes.pop(message_type, None)

    def on_message(self, conn: Connection, opcode: int, payload: bytes) -> None:
        """One complete message: text is decoded and dispatched, binary is refused."""
        if opcode != _TEXT:
            self.on_binary(conn, payload)
            return
        try:
            envelope = _decode(payload)
        except msgspec.DecodeError:
            self._invalid(conn, payload)
            return
        handler = self.routes.get(envelope.type)
        if handler is None:
            handler = self.routes.get(DEFAULT_ROUTE)
        if handler is None:
            self.hub.send_error(
                conn,
                ErrorCode.UNKNOWN_MESSAGE_TYPE,
                f"unknown message type {envelope.type[:64]!r}",
                envelope.id,
            )
            return
        try:
            handler(conn, envelope)
        except Exception:
            log.exception("handler_failed", connection_id=conn.id, message_type=envelope.type)
            self.hub.send_error(
                conn, ErrorCode.INTERNAL_ERROR, "internal error while handling message", envelope.id
            )

    def _invalid(self, conn: Connection, payload: bytes) -> None:
        try:
            decode_envelope(payload)
        except EnvelopeError as exc:
            self.hub.send_error(conn, exc.code, exc.message, exc.request_id)

    def on_binary(self, conn: Connection, payload: bytes) -> None:
        """The JSON protocol carries text only: a binary message is answered with an error."""
        self.hub.send_error(
            conn,
            ErrorCode.INVALID_MESSAGE_FORMAT,
            "binary messages are not accepted on the v1.json protocol; send JSON text",
        )


class _AppRoute:
    """Adapts an application handler (sync or async, returning a reply) to a route."""

    __slots__ = ("handler", "is_async", "message_type", "reply_type", "roles", "router")

    def __init__(
        self, router: Router, message_type: str, handler: RouteHandler, roles: Iterable[str] | None
    ) -> None:
        self.router = router
        self.message_type = message_type
        self.reply_type = f"{message_type}_reply"
        self.handler = handler
        self.is_async = inspect.iscoroutinefunction(handler)
        self.roles = frozenset(roles or ())

    def __call__(self, conn: Connection, msg: Envelope) -> None:
        if self.roles and self.roles.isdisjoint(conn.roles):
            self.router.hub.send_error(
                conn,
                ErrorCode.FORBIDDEN,
                f"{msg.type!r} needs one of the roles {sorted(self.roles)}",
                msg.id,
            )
            return
        if self.is_async:
            self.router.spawn(self._run(conn, msg, self.handler(conn, msg)))
        else:
            self.reply(conn, msg, self.handler(conn, msg))

    async def _run(self, conn: Connection, msg: Envelope, pending: Awaitable[Any]) -> None:
        try:
            result = await pending
        except Exception:
            log.exception("handler_failed", connection_id=conn.id, message_type=msg.type)
            self.router.hub.send_error(
                conn, ErrorCode.INTERNAL_ERROR, "internal error while handling message", msg.id
            )
            return
        self.reply(conn, msg, result)

    def reply(self, conn: Connection, msg: Envelope, result: Any) -> None:
        if result is None:
            return
        reply: dict[str, Any] = {"type": self.reply_type, "data": result}
        if msg.id is not None:
            reply["id"] = msg.id
        self.router.hub.send_json(conn, encode(reply))
