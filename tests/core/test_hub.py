"""The hub over fake transports: messages framed in each connection's codec, one encode per
wire for a fan-out, ``data`` translated between JSON and MessagePack."""

from __future__ import annotations

import asyncio
from typing import Any

import msgspec

from switchboard.core.connection import Connection
from switchboard.core.hub import Hub
from switchboard.core.outbox import Outbox, SlowConsumerPolicy
from switchboard.core.registry import Registry
from switchboard.core.stats import Stats
from switchboard.protocol.codecs import JSON, MSGPACK, Codec, DataFormat
from switchboard.protocol.codes import ErrorCode
from switchboard.protocol.envelope import Ack, Broadcast, Welcome
from switchboard.protocol.frames import Opcode
from switchboard.protocol.wire import Wire

from .fakes import FakeTransport, next_loop_pass

DATA = {"n": 1, "s": "é", "l": [1.5, None, True], "d": {"k": -7}}


class CountingCodec(Codec):
    """A codec that counts its encodes: one per wire is the point of a fan-out."""

    __slots__ = ("encodes",)

    def __init__(self, base: Codec) -> None:
        self.encodes = 0

        def encode(message: Any) -> bytes:
            self.encodes += 1
            return base.encode(message)

        super().__init__(
            base.name,
            base.opcode,
            base.data_format,
            decode=base.decode,
            explain=base.explain,
            encode=encode,
        )


def make_hub(*, count: bool = True) -> Hub:
    outbox = Outbox(asyncio.get_running_loop(), 1 << 20, SlowConsumerPolicy.DISCONNECT, print)
    return Hub(Registry(), outbox, Stats(), count=count)


def connect(hub: Hub, wire: Wire, n: int = 1) -> list[Connection]:
    conns = []
    for i in range(n):
        conn = Connection(f"c-{len(hub.registry)}-{i}", FakeTransport(), "test", 0.0, wire)
        hub.registry.add(conn)
        conns.append(conn)
    return conns


def received(conn: Connection) -> list[dict[str, Any]]:
    transport = conn.transport
    assert isinstance(transport, FakeTransport)
    return transport.messages()


def opcodes(conn: Connection) -> list[int]:
    transport = conn.transport
    assert isinstance(transport, FakeTransport)
    return [frame.opcode for frame in transport.frames()]


async def test_send_frames_a_message_in_the_connections_own_codec() -> None:
    hub = make_hub()
    (text,) = connect(hub, Wire(JSON))
    (binary,) = connect(hub, Wire(MSGPACK))
    for conn in (text, binary):
        hub.send(conn, Welcome(connection_id=conn.id, node="n1", heartbeat=5.0))
    await next_loop_pass()
    assert opcodes(text) == [Opcode.TEXT] and opcodes(binary) == [Opcode.BINARY]
    for conn in (text, binary):
        assert received(conn) == [
            {"type": "welcome", "connection_id": conn.id, "node": "n1", "heartbeat": 5.0}
        ]
    assert hub.stats.sent == {Welcome: 2}


async def test_without_metrics_nothing_is_counted_per_message() -> None:
    hub = make_hub(count=False)
    (conn,) = connect(hub, Wire(JSON))
    hub.send(conn, Ack(id=1))
    assert hub.stats.sent == {}


async def test_send_error_is_an_error_frame_counted_by_code() -> None:
    hub = make_hub()
    (conn,) = connect(hub, Wire(JSON))
    hub.send_error(conn, ErrorCode.NOT_FOUND, "no such user", "r9")
    hub.send_error(conn, ErrorCode.NOT_FOUND, "still none")
    await next_loop_pass()
    assert received(conn) == [
        {"type": "error", "code": "NOT_FOUND", "message": "no such user", "id": "r9"},
        {"type": "error", "code": "NOT_FOUND", "message": "still none"},
    ]
    assert hub.stats.errors == {"NOT_FOUND": 2}
    transport = conn.transport
    assert isinstance(transport, FakeTransport)
    assert transport.closes == []  # an error never closes


async def test_ack_is_sent_only_for_a_request_that_carried_an_id() -> None:
    hub = make_hub()
    (conn,) = connect(hub, Wire(JSON))
    hub.ack(conn, None)
    hub.ack(conn, 0)  # a falsy id is still an id
    hub.ack(conn, "a")
    await next_loop_pass()
    assert received(conn) == [{"type": "ack", "id": 0}, {"type": "ack", "id": "a"}]


async def test_fan_out_encodes_once_per_wire_and_queues_one_frame_per_connection() -> None:
    hub = make_hub()
    json_codec, msgpack_codec = CountingCodec(JSON), CountingCodec(MSGPACK)
    texts = connect(hub, Wire(json_codec), 3)
    binaries = connect(hub, Wire(msgpack_codec), 2)
    everyone = texts + binaries
    raw = msgspec.Raw(msgspec.json.encode(DATA))
    hub.fan_out(everyone, Broadcast(data=raw), DataFormat.JSON)
    assert (json_codec.encodes, msgpack_codec.encodes) == (1, 1)
    assert [len(conn.pending or ()) for conn in everyone] == [1] * 5
    await next_loop_pass()
    for conn in everyone:
        assert received(conn) == [{"type": "broadcast", "data": DATA}]
    assert hub.stats.sent == {Broadcast: 5}


async def test_fan_out_on_one_shared_wire_frames_once_for_everyone() -> None:
    hub = make_hub()
    codec = CountingCodec(JSON)
    conns = connect(hub, Wire(codec), 100)
    hub.fan_out(conns, Broadcast(data=msgspec.Raw(b'"hi"')), DataFormat.JSON)
    assert codec.encodes == 1
    await next_loop_pass()
    frames = {conn.transport.writes[0] for conn in conns}  # type: ignore[attr-defined]
    assert len(frames) == 1  # the very same bytes for each


async def test_fan_out_reaches_only_the_connections_given() -> None:
    hub = make_hub()
    chosen, left_out = connect(hub, Wire(JSON), 2)
    hub.fan_out([chosen], Broadcast(data=msgspec.Raw(b"1")), DataFormat.JSON)
    await next_loop_pass()
    assert received(chosen) == [{"type": "broadcast", "data": 1}]
    assert received(left_out) == []


async def test_json_data_reaches_msgpack_clients_as_msgpack() -> None:
    hub = make_hub()
    (text,) = connect(hub, Wire(JSON))
    (binary,) = connect(hub, Wire(MSGPACK))
    raw = msgspec.Raw(msgspec.json.encode(DATA))
    hub.fan_out([text, binary], Broadcast(data=raw), DataFormat.JSON)
    await next_loop_pass()
    assert received(text) == received(binary) == [{"type": "broadcast", "data": DATA}]


async def test_msgpack_data_reaches_json_clients_as_json_with_bytes_in_base64() -> None:
    hub = make_hub()
    (text,) = connect(hub, Wire(JSON))
    (binary,) = connect(hub, Wire(MSGPACK))
    raw = msgspec.Raw(msgspec.msgpack.encode({**DATA, "b": b"\x00\xff"}))
    hub.fan_out([text, binary], Broadcast(data=raw), DataFormat.MSGPACK)
    await next_loop_pass()
    assert received(binary) == [{"type": "broadcast", "data": {**DATA, "b": b"\x00\xff"}}]
    assert received(text) == [{"type": "broadcast", "data": {**DATA, "b": "AP8="}}]


async def test_data_is_translated_even_when_every_connection_shares_one_wire() -> None:
    """The one-wire shortcut must not skip translation: JSON data to msgpack-only clients."""
    hub = make_hub()
    conns = connect(hub, Wire(MSGPACK), 3)
    assert hub.registry.only_wire is not None
    raw = msgspec.Raw(msgspec.json.encode(DATA))
    hub.fan_out(conns, Broadcast(data=raw), DataFormat.JSON)
    await next_loop_pass()
    for conn in conns:
        assert received(conn) == [{"type": "broadcast", "data": DATA}]
