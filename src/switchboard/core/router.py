"""Routes decoded envelopes to handlers by ``type``, and turns bad input into error frames."""

from __future__ import annotations

from collections.abc import Callable

import msgspec
import structlog

from ..protocol.codes import ErrorCode
from ..protocol.envelope import Envelope, EnvelopeError, decode_envelope, envelope_decoder
from ..protocol.frames import Opcode
from .connection import Connection
from .hub import Hub

Handler = Callable[[Connection, Envelope], None]

log = structlog.get_logger("switchboard.router")
_TEXT = Opcode.TEXT.value
_decode = envelope_decoder.decode


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
