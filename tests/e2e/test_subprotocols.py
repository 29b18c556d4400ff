"""Subprotocol negotiation and the v1.binary (MessagePack) codec with real clients."""

from __future__ import annotations

import asyncio
from typing import Any

import msgspec
import pytest
import websockets
from websockets.exceptions import ConnectionClosed, InvalidStatus

from switchboard.protocol.proto import envelope_pb2 as pb

from ..conftest import StartServer, recv_json, timeout, ws_url


async def recv_msgpack(ws: Any, within: float = 5.0) -> dict[str, Any]:
    raw = await asyncio.wait_for(ws.recv(), timeout(within))
    assert isinstance(raw, bytes), f"expected a binary frame, got {raw!r}"
    return dict(msgspec.msgpack.decode(raw))


def pack(message: dict[str, Any]) -> bytes:
    return msgspec.msgpack.encode(message)


async def test_first_offered_supported_protocol_wins(start_server: StartServer) -> None:
    app = await start_server()
    offers = ["v9.unknown", "v1.binary", "v1.json"]
    async with websockets.connect(ws_url(app), subprotocols=offers) as ws:  # type: ignore[arg-type]
        assert ws.subprotocol == "v1.binary"
        assert (await recv_msgpack(ws))["type"] == "welcome"
    async with websockets.connect(ws_url(app), subprotocols=["v1.json", "v1.binary"]) as ws:  # type: ignore[list-item]
        assert ws.subprotocol == "v1.json"
        assert (await recv_json(ws))["type"] == "welcome"
    async with websockets.connect(ws_url(app)) as ws:  # no offer: v1.json, no header
        assert ws.subprotocol is None
        assert (await recv_json(ws))["type"] == "welcome"


async def test_only_unsupported_protocols_get_400_by_default(start_server: StartServer) -> None:
    app = await start_server()
    with pytest.raises(InvalidStatus) as refused:
        async with websockets.connect(ws_url(app), subprotocols=["mqtt", "v3.xml"]):  # type: ignore[list-item]
            pass
    assert refused.value.response.status_code == 400
    assert b"v1.json, v1.binary" in refused.value.response.body
    async with websockets.connect(ws_url(app)) as ws:  # and the server still serves
        assert (await recv_json(ws))["type"] == "welcome"


async def test_close_policy_accepts_then_closes_1002(start_server: StartServer) -> None:
    app = await start_server(unsupported_subprotocol="close")
    # The websockets client accepts a 101 without a protocol when it offered some.
    async with websockets.connect(ws_url(app), subprotocols=["mqtt"]) as ws:  # type: ignore[list-item]
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), timeout(5))
    assert closed.value.rcvd is not None
    assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (1002, "Unsupported subprotocol")


async def test_msgpack_round_trip_errors_and_binary_data(start_server: StartServer) -> None:
    app = await start_server()
    async with websockets.connect(ws_url(app), subprotocols=["v1.binary"]) as ws:  # type: ignore[list-item]
        welcome = await recv_msgpack(ws)
        assert welcome["type"] == "welcome" and welcome["connection_id"].startswith("c-")
        await ws.send(pack({"type": "echo", "id": 1, "data": {"bytes": b"\x00\xff", "n": 2}}))
        assert await recv_msgpack(ws) == {
            "type": "echo_reply",
            "id": 1,
            "data": {"bytes": b"\x00\xff", "n": 2},
        }
        await ws.send(pack({"type": "nope", "id": "x"}))
        unknown = await recv_msgpack(ws)
        assert (unknown["type"], unknown["code"], unknown["id"]) == (
            "error",
            "UNKNOWN_MESSAGE_TYPE",
            "x",
        )
        await ws.send(b"\xc1")
        assert (await recv_msgpack(ws))["code"] == "INVALID_MESSAGE_FORMAT"
        await ws.send('{"type":"echo"}')  # text on the binary protocol
        wrong = await recv_msgpack(ws)
        assert wrong["code"] == "INVALID_MESSAGE_FORMAT"
        assert "binary" in wrong["message"]
        await ws.send(pack({"type": "ping", "id": 5}))
        assert await recv_msgpack(ws) == {"type": "pong", "id": 5}


async def test_one_channel_three_kinds_of_subscriber(start_server: StartServer) -> None:
    """Publications reach each subscriber in its own codec, from a publisher of either."""
    app = await start_server()
    url = ws_url(app)
    async with (
        websockets.connect(url) as as_json,
        websockets.connect(url, subprotocols=["v1.binary"]) as as_msgpack,  # type: ignore[list-item]
    ):
        me = (await recv_json(as_json))["connection_id"]
        await recv_msgpack(as_msgpack)
        await as_json.send('{"type":"subscribe","channel":"room:1","id":"s"}')
        assert (await recv_json(as_json))["type"] == "ack"
        await as_msgpack.send(pack({"type": "subscribe", "channel": "room:1", "id": "s"}))
        assert (await recv_msgpack(as_msgpack))["type"] == "ack"

        await as_json.send('{"type":"publish","channel":"room:1","data":{"from":"json"}}')
        expected = {"type": "message", "channel": "room:1", "offset": 1, "data": {"from": "json"}}
        assert await recv_json(as_json) == expected
        assert await recv_msgpack(as_msgpack) == expected

        await as_msgpack.send(
            pack({"type": "publish", "channel": "room:1", "data": {"blob": b"\x01\x02"}})
        )
        assert await recv_msgpack(as_msgpack) == {
            "type": "message",
            "channel": "room:1",
            "offset": 2,
            "data": {"blob": b"\x01\x02"},
        }
        # JSON has no binary type: the bytes arrive base64-encoded.
        assert (await recv_json(as_json))["data"] == {"blob": "AQI="}

        # Direct sends and broadcasts translate the same way.
        await as_msgpack.send(pack({"type": "send", "to": {"connection": me}, "data": [1, None]}))
        direct = await recv_json(as_json)
        assert (direct["type"], direct["data"]) == ("direct", [1, None])
        await as_json.send('{"type":"broadcast","data":"hi"}')
        assert await recv_json(as_json) == {"type": "broadcast", "data": "hi"}
        assert await recv_msgpack(as_msgpack) == {"type": "broadcast", "data": "hi"}


async def test_history_recovery_in_msgpack(start_server: StartServer) -> None:
    app = await start_server()
    url = ws_url(app)
    async with websockets.connect(url) as publisher:
        await recv_json(publisher)
        for n in range(3):
            await publisher.send(f'{{"type":"publish","channel":"feed","data":{n},"id":{n}}}')
            ack = await recv_json(publisher)
        epoch = ack["epoch"]
    async with websockets.connect(url, subprotocols=["v1.binary"]) as late:  # type: ignore[list-item]
        await recv_msgpack(late)
        await late.send(
            pack(
                {
                    "type": "subscribe",
                    "channel": "feed",
                    "id": "s",
                    "recover_from": {"offset": 1, "epoch": epoch},
                }
            )
        )
        ack = await recv_msgpack(late)
        assert (ack["recovered"], ack["offset"]) == (True, 3)
        missed = [await recv_msgpack(late) for _ in range(2)]
        assert [(m["offset"], m["data"]) for m in missed] == [(2, 1), (3, 2)]


async def recv_proto(ws: Any, within: float = 5.0) -> pb.Envelope:
    raw = await asyncio.wait_for(ws.recv(), timeout(within))
    assert isinstance(raw, bytes), f"expected a binary frame, got {raw!r}"
    envelope = pb.Envelope()
    envelope.ParseFromString(raw)
    return envelope


async def test_protobuf_client_talks_to_json_and_msgpack_clients(
    start_server: StartServer,
) -> None:
    """A client built on the committed envelope.proto: echo, errors, and a channel shared
    with a v1.json and a v1.binary subscriber (each sees the publications in its codec)."""
    app = await start_server()
    url = ws_url(app)
    async with (
        websockets.connect(url, subprotocols=["v2.proto"]) as proto,  # type: ignore[list-item]
        websockets.connect(url) as as_json,
        websockets.connect(url, subprotocols=["v1.binary"]) as as_msgpack,  # type: ignore[list-item]
    ):
        assert proto.subprotocol == "v2.proto"
        welcome = await recv_proto(proto)
        assert welcome.type == "welcome" and welcome.connection_id.startswith("c-")
        await recv_json(as_json)
        await recv_msgpack(as_msgpack)

        echo = pb.Envelope(type="echo", int_id=1, data=b"\x00raw")
        await proto.send(echo.SerializeToString())
        reply = await recv_proto(proto)
        assert (reply.type, reply.int_id, reply.data) == ("echo_reply", 1, b"\x00raw")

        await proto.send(b"\xff\xff\xff")
        error = await recv_proto(proto)
        assert (error.type, error.code) == ("error", "INVALID_MESSAGE_FORMAT")

        await as_json.send('{"type":"subscribe","channel":"mix","id":"s"}')
        await recv_json(as_json)
        await as_msgpack.send(pack({"type": "subscribe", "channel": "mix", "id": "s"}))
        await recv_msgpack(as_msgpack)
        await proto.send(pb.Envelope(type="subscribe", channel="mix", id="s").SerializeToString())
        ack = await recv_proto(proto)
        assert (ack.type, ack.id, ack.channel, ack.offset) == ("ack", "s", "mix", 0)

        publish = pb.Envelope(type="publish", channel="mix", id="p")
        publish.value.struct_value.update({"text": "hello", "n": 3})
        await proto.send(publish.SerializeToString())
        mine = await recv_proto(proto)  # the publication reaches subscribers, then the ack
        assert (mine.type, mine.offset) == ("message", 1)
        acked = await recv_proto(proto)
        assert (acked.type, acked.id, acked.offset) == ("ack", "p", 1)
        assert mine.value.struct_value.fields["text"].string_value == "hello"
        expected = {
            "type": "message",
            "channel": "mix",
            "offset": 1,
            "data": {"text": "hello", "n": 3},
        }
        assert await recv_json(as_json) == expected
        assert await recv_msgpack(as_msgpack) == expected

        # Bytes from a v1.binary publisher reach the protobuf client as bytes.
        await as_msgpack.send(pack({"type": "publish", "channel": "mix", "data": b"\x07\x08"}))
        assert (await recv_proto(proto)).data == b"\x07\x08"
        assert (await recv_json(as_json))["data"] == "Bwg="
