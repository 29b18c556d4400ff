"""Sending to connections: one client, or every client with one encode."""

from __future__ import annotations

from ..protocol.codes import ErrorCode
from ..protocol.envelope import Ack, RequestId, encode, encode_error
from ..protocol.frames import text_frame
from .connection import Connection
from .outbox import Outbox
from .registry import Registry


class Hub:
    """Frames server messages once and queues them through the outbox."""

    __slots__ = ("outbox", "registry")

    def __init__(self, registry: Registry, outbox: Outbox) -> None:
        self.registry = registry
        self.outbox = outbox

    def send_json(self, conn: Connection, payload: bytes) -> None:
        """Queue one JSON text message for ``conn``."""
        self.outbox.send(conn, text_frame(payload))

    def send_error(
        self, conn: Connection, code: ErrorCode, message: str, request_id: RequestId = None
    ) -> None:
        """Queue an ``error`` frame; the connection stays open."""
        self.outbox.send(conn, text_frame(encode_error(code, message, request_id)))

    def ack(self, conn: Connection, request_id: RequestId) -> None:
        """Confirm a request that carried an ``id`` and has no other reply."""
        if request_id is not None:
            self.outbox.send(conn, text_frame(encode(Ack(id=request_id))))

    def broadcast_json(self, payload: bytes) -> int:
        """Queue one JSON text message for every open connection; returns how many."""
        frame = text_frame(payload)
        # A snapshot: a slow consumer closed during the loop must not break the iteration.
        conns = self.registry.snapshot()
        self.outbox.send_many(conns, frame)
        return len(conns)
