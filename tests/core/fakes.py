"""Fakes for core tests: a ``Transport`` that records what the core writes, and a ``Node``
on the running loop with a ``MemoryBroker``. No sockets, no picows.

:class:`Client` calls the node the way ``transport/listener.py`` does: ``node.open`` once
the handshake is done, ``node.hold`` while an async ``on_connect`` decides, else
``node.on_message`` for each whole message, ``node.ping`` for a client ping and
``node.closed`` once the socket is gone.
"""

from __future__ import annotations

import asyncio
import struct
from dataclasses import dataclass
from typing import Any

import msgspec

from switchboard.broker.base import HistoryOptions
from switchboard.broker.memory import MemoryBroker
from switchboard.core.channels import ChannelOptions
from switchboard.core.connection import Connection
from switchboard.core.node import Node
from switchboard.core.outbox import SlowConsumerPolicy
from switchboard.protocol.frames import Opcode
from switchboard.protocol.wire import PLAIN_JSON, Wire

REMOTE = "127.0.0.1:50000"


@dataclass(frozen=True)
class Frame:
    """One server frame as a client would parse it."""

    opcode: int
    payload: bytes
    fin: bool = True
    rsv1: bool = False


def parse_frames(data: bytes) -> list[Frame]:
    """Split bytes written to a socket into the unmasked frames they hold (all complete)."""
    frames: list[Frame] = []
    at = 0
    while at < len(data):
        assert len(data) - at >= 2, "truncated frame header"
        first, second = data[at], data[at + 1]
        assert not second & 0x80, "server frames are never masked"
        length, at = second & 0x7F, at + 2
        if length == 126:
            (length,) = struct.unpack_from("!H", data, at)
            at += 2
        elif length == 127:
            (length,) = struct.unpack_from("!Q", data, at)
            at += 8
        assert len(data) - at >= length, "truncated frame payload"
        frames.append(
            Frame(first & 0x0F, data[at : at + length], bool(first & 0x80), bool(first & 0x40))
        )
        at += length
    return frames


def decode_message(frame: Frame) -> dict[str, Any]:
    """A data frame's message: JSON in text frames, MessagePack in binary ones."""
    if frame.opcode == Opcode.TEXT:
        message = msgspec.json.decode(frame.payload)
    else:
        assert frame.opcode == Opcode.BINARY, f"not a data frame: {frame}"
        message = msgspec.msgpack.decode(frame.payload)
    assert isinstance(message, dict)
    return message


class FakeTransport:
    """Records what the core writes and how it closes; implements ``core.connection.Transport``."""

    def __init__(self) -> None:
        #: Every call in order: ``("write", data)``, ``("close", code, reason, fail)``,
        #: ``("abort",)``.
        self.events: list[tuple[Any, ...]] = []

    @property
    def sink(self) -> Any:
        return self  # the core writes with sink.write

    def write(self, data: bytes) -> None:
        self.events.append(("write", data))

    def close(self, code: int, reason: str, *, fail: bool = False) -> None:
        self.events.append(("close", code, reason, fail))

    def abort(self) -> None:
        self.events.append(("abort",))

    def received_bytes(self) -> int | None:
        return None

    @property
    def writes(self) -> list[bytes]:
        """Every ``write()`` call's bytes, in order (the outbox makes one per loop pass)."""
        return [event[1] for event in self.events if event[0] == "write"]

    @property
    def closes(self) -> list[tuple[int, str, bool]]:
        """``(code, reason, fail)`` of every ``close()`` call."""
        return [(e[1], e[2], e[3]) for e in self.events if e[0] == "close"]

    def frames(self) -> list[Frame]:
        return parse_frames(b"".join(self.writes))

    def messages(self) -> list[dict[str, Any]]:
        """Every data frame written so far, decoded (control frames left out)."""
        return [
            decode_message(f) for f in self.frames() if f.opcode in (Opcode.TEXT, Opcode.BINARY)
        ]


def default_channel_options(namespace: str) -> ChannelOptions:
    return ChannelOptions(history=HistoryOptions(0, 0.0))


def make_node(**overrides: Any) -> Node:
    """A node on the running loop with an in-memory broker (built as ``app.py`` builds one,
    without starting the heartbeat or the broker: nothing here needs them)."""
    settings: dict[str, Any] = {
        "node_id": "node-test",
        "ping_interval": 25.0,
        "ping_timeout": 10.0,
        "send_queue_limit": 1 << 20,
        "slow_consumer_policy": SlowConsumerPolicy.DISCONNECT,
        "broker": MemoryBroker(),
        "channel_options": default_channel_options,
        **overrides,
    }
    return Node(asyncio.get_running_loop(), **settings)


class Client:
    """One connection of ``node`` over a :class:`FakeTransport`, driven like a listener."""

    def __init__(
        self,
        node: Node,
        wire: Wire = PLAIN_JSON,
        *,
        user: Any = None,
        roles: frozenset[str] = frozenset(),
        expires_at: float | None = None,
    ) -> None:
        self.node = node
        self.transport = FakeTransport()
        self.conn: Connection = node.open(self.transport, REMOTE, wire, user, roles, expires_at)

    def send(self, payload: bytes | str, opcode: int | None = None) -> None:
        """One whole message from the client (text for ``str``, the wire's opcode otherwise)."""
        if isinstance(payload, str):
            payload, opcode = payload.encode(), opcode or Opcode.TEXT.value
        conn = self.conn
        if conn.closing:
            return  # the listener drops what arrives after a close started
        if conn.backlog is not None:
            self.node.hold(conn, opcode or conn.wire.opcode, payload)
        else:
            self.node.on_message(conn, opcode or conn.wire.opcode, payload)

    def send_message(self, message: dict[str, Any]) -> None:
        """``message`` encoded in the connection's own codec."""
        wire = self.conn.wire
        self.send(wire.codec.encode(message), wire.opcode)

    def ping(self, payload: bytes = b"") -> None:
        self.node.ping(self.conn, payload)

    def gone(self, code: int = 1000, reason: str = "", by: str = "client") -> None:
        """The socket closed: what the listener's ``on_ws_disconnected`` reports."""
        self.node.closed(self.conn, code, reason, by)

    def messages(self) -> list[dict[str, Any]]:
        return self.transport.messages()


async def next_loop_pass() -> None:
    """Return once every callback already scheduled with ``call_soon`` has run.

    The outbox writes at the end of the loop pass in which frames were queued (its
    ``flush_all`` is a ``call_soon`` callback); this is the one point a test waits for.
    """
    loop = asyncio.get_running_loop()
    done: asyncio.Future[None] = loop.create_future()
    loop.call_soon(done.set_result, None)
    await done
