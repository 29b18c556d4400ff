"""Routes decoded envelopes to handlers by ``type``, and turns bad input into error frames."""

from __future__ import annotations

import logging
from collections.abc import Callable

from ..protocol.codes import ErrorCode
from ..protocol.envelope import Envelope, EnvelopeError, decode_envelope
from .connection import Connection
from .hub import Hub

Handler = Callable[[Connection, Envelope], None]

log = logging.getLogger("switchboard.router")


class Router:
    """A route table: message ``type`` -> plain (non-async) handler call."""

    __slots__ = ("hub", "routes")

    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self.routes: dict[str, Handler] = {}

    def add(self, message_type: str, handler: Handler) -> None:
        self.routes[message_type] = handler

    def remove(self, message_type: str) -> None:
        self.routes.pop(message_type, None)

    def on_text(self, conn: Connection, payload: bytes) -> None:
        """Decode one complete text message and dispatch it."""
        try:
            envelope = decode_envelope(payload)
        except EnvelopeError as exc:
            self.hub.send_error(conn, exc.code, exc.message, exc.request_id)
            return
        handler = self.routes.get(envelope.type)
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
            log.exception(
                "handler failed",
                extra={"connection_id": conn.id, "message_type": envelope.type},
            )
            self.hub.send_error(
                conn, ErrorCode.INTERNAL_ERROR, "internal error while handling message", envelope.id
            )

    def on_binary(self, conn: Connection, payload: bytes) -> None:
        """The JSON protocol carries text only: a binary message is answered with an error."""
        self.hub.send_error(
            conn,
            ErrorCode.INVALID_MESSAGE_FORMAT,
            "binary messages are not accepted on the v1.json protocol; send JSON text",
        )
