"""Sending to connections: one client, or many with one encode per wire in use."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec

from ..protocol.codecs import DataFormat, convert_data
from ..protocol.codes import ErrorCode
from ..protocol.envelope import Ack, Error, RequestId
from ..protocol.wire import Wire
from .connection import Connection
from .outbox import Outbox
from .registry import Registry
from .stats import Stats


class Hub:
    """Frames server messages in each connection's codec and queues them through the outbox."""

    __slots__ = ("errors", "outbox", "registry", "sent", "stats")

    def __init__(self, registry: Registry, outbox: Outbox, stats: Stats, *, count: bool) -> None:
        self.registry = registry
        self.outbox = outbox
        self.stats = stats
        #: Messages queued by their class (a server struct; ``dict`` for route replies), when
        #: ``count`` (metrics) is on.
        self.sent: dict[type, int] | None = stats.sent if count else None
        #: Error frames sent, by error code.
        self.errors = stats.errors

    def send(self, conn: Connection, message: Any) -> None:
        """Queue one server message (a struct or a dict, no foreign ``data``) for ``conn``."""
        self.outbox.send(conn, conn.wire.frame(message))
        sent = self.sent
        if sent is not None:
            kind = message.__class__
            sent[kind] = sent.get(kind, 0) + 1

    def send_error(
        self, conn: Connection, code: ErrorCode, message: str, request_id: RequestId = None
    ) -> None:
        """Queue an ``error`` frame; the connection stays open."""
        errors = self.errors
        errors[code.value] = errors.get(code.value, 0) + 1
        self.send(conn, Error(code=code.value, message=message, id=request_id))

    def ack(self, conn: Connection, request_id: RequestId) -> None:
        """Confirm a request that carried an ``id`` and has no other reply."""
        if request_id is not None:
            self.send(conn, Ack(id=request_id))

    def fan_out(
        self, conns: Sequence[Connection], message: Any, data_format: DataFormat | None = None
    ) -> None:
        """Queue ``message`` for every one of ``conns``: encoded, translated and compressed
        once per wire among them, not once per connection. ``data_format`` is the format of
        the message's raw ``data`` (None: it carries none)."""
        sent = self.sent
        if sent is not None:
            kind = message.__class__
            sent[kind] = sent.get(kind, 0) + len(conns)
        only = self.registry.only_wire
        if only is not None and (data_format is None or only.codec.data_format is data_format):
            # Every connection on this node shares one wire: the common case, one frame.
            self.outbox.send_many(conns, only.frame(message))
            return
        frames: dict[Wire, bytes] = {}
        send = self.outbox.send
        for conn in conns:
            wire = conn.wire
            frame = frames.get(wire)
            if frame is None:
                frame = frames[wire] = frame_for(wire, message, data_format)
            send(conn, frame)

    def broadcast(self, message: Any, data_format: DataFormat | None = None) -> int:
        """Queue ``message`` for every open connection; returns how many."""
        # A snapshot: a slow consumer closed during the loop must not break the iteration.
        conns = self.registry.snapshot()
        self.fan_out(conns, message, data_format)
        return len(conns)


def frame_for(wire: Wire, message: Any, data_format: DataFormat | None) -> bytes:
    """``message`` framed for ``wire``, its raw ``data`` translated first if need be."""
    target = wire.codec.data_format
    if data_format is not None and target is not data_format:
        data = convert_data(message.data, data_format, target)
        message = msgspec.structs.replace(message, data=data)
    return wire.frame(message)
