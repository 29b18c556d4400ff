"""permessage-deflate on the wire: negotiation, compress-once fan-out, compressed input,
and the protocol errors around RSV1, with the websockets client and a raw socket."""

from __future__ import annotations

import asyncio
import json
import zlib
from typing import Any

import msgspec
import websockets
from websockets.frames import Close, Opcode

from ..conftest import StartServer, recv_json, timeout, ws_url
from ..rawclient import RawClient

OFFER = {"Sec-WebSocket-Extensions": "permessage-deflate; client_max_window_bits"}
AGREED = b"permessage-deflate; server_no_context_takeover; client_no_context_takeover"
FIN_RSV1_TEXT = 0x80 | 0x40 | 0x01


def deflated(data: bytes) -> bytes:
    """``data`` as a permessage-deflate payload (no context, trailing 4 bytes removed)."""
    compressor = zlib.compressobj(wbits=-15)
    return (compressor.compress(data) + compressor.flush(zlib.Z_SYNC_FLUSH))[:-4]


def payload_of(frame: bytes) -> bytes:
    length = frame[1] & 0x7F
    return frame[4:] if length == 126 else frame[10:] if length == 127 else frame[2:]


def inflated(frame: bytes) -> Any:
    body = payload_of(frame)
    return json.loads(zlib.decompressobj(wbits=-15).decompress(body + b"\x00\x00\xff\xff"))


async def raw_client(app: Any, headers: dict[str, str] | None = None) -> RawClient:
    client = await RawClient.connect(app.port, extra_headers=headers)
    assert client.status == 101
    welcome = await asyncio.wait_for(client.recv_raw_frame(), timeout(5))
    assert welcome[0] == 0x81  # short messages are never compressed
    return client


async def test_websockets_client_negotiates_and_round_trips(start_server: StartServer) -> None:
    app = await start_server()
    big = "compressible text " * 4000
    for protocols in (None, ["v1.binary"]):
        async with websockets.connect(ws_url(app), subprotocols=protocols) as ws:  # type: ignore[arg-type]
            assert ws.response is not None
            assert ws.response.headers["Sec-WebSocket-Extensions"] == AGREED.decode()
            await asyncio.wait_for(ws.recv(), timeout(5))  # welcome
            if protocols is None:
                await ws.send(json.dumps({"type": "echo", "data": big}))
                assert (await recv_json(ws))["data"] == big
            else:
                await ws.send(msgspec.msgpack.encode({"type": "echo", "data": big.encode()}))
                reply = msgspec.msgpack.decode(await ws.recv())
                assert reply["data"] == big.encode()


async def test_broadcast_is_compressed_once_for_every_deflate_client(
    start_server: StartServer,
) -> None:
    app = await start_server()
    first, second = await raw_client(app, OFFER), await raw_client(app, OFFER)
    plain = await raw_client(app)
    assert AGREED in first.response_headers and b"Extensions" not in plain.response_headers
    data = {"rows": [{"id": n, "name": "sensor", "status": "ok"} for n in range(60)]}
    async with websockets.connect(ws_url(app), compression=None) as sender:
        await recv_json(sender)
        await sender.send(json.dumps({"type": "broadcast", "data": data}))
        got = [await asyncio.wait_for(c.recv_raw_frame(), timeout(5)) for c in (first, second)]
        uncompressed = await asyncio.wait_for(plain.recv_raw_frame(), timeout(5))
        assert (await recv_json(sender))["data"] == data
    assert got[0] == got[1]  # the very same bytes: compressed once
    assert got[0][0] == FIN_RSV1_TEXT
    assert inflated(got[0]) == {"type": "broadcast", "data": data}
    assert uncompressed[0] == 0x81
    assert json.loads(payload_of(uncompressed)) == {"type": "broadcast", "data": data}
    assert len(got[0]) * 4 < len(uncompressed)
    for client in (first, second, plain):
        client.close()


async def test_compressed_and_fragmented_input(start_server: StartServer) -> None:
    app = await start_server(compression_threshold=100_000)  # replies stay uncompressed
    client = await raw_client(app, OFFER)
    message = json.dumps({"type": "echo", "data": "ping " * 300}).encode()
    client.send_frame(Opcode.TEXT, deflated(message), rsv1=True)
    reply = await asyncio.wait_for(client.recv_raw_frame(), timeout(5))
    assert json.loads(payload_of(reply))["data"] == "ping " * 300
    squeezed = deflated(message)
    client.send_frame(Opcode.TEXT, squeezed[:5], fin=False, rsv1=True)
    client.send_frame(Opcode.CONT, squeezed[5:20], fin=False)
    client.send_frame(Opcode.CONT, squeezed[20:])
    reply = await asyncio.wait_for(client.recv_raw_frame(), timeout(5))
    assert json.loads(payload_of(reply))["data"] == "ping " * 300
    client.close()


async def expect_close(client: RawClient) -> Close:
    return await asyncio.wait_for(client.recv_until_close(), timeout(5))


async def test_rsv1_rules_and_decompression_bomb(start_server: StartServer) -> None:
    app = await start_server(max_message_size=64 * 1024)
    async with websockets.connect(ws_url(app)) as bystander:
        await recv_json(bystander)

        no_deflate = await raw_client(app)  # RSV1 without the extension
        no_deflate.send_frame(Opcode.TEXT, deflated(b'{"type":"ping"}'), rsv1=True)
        assert (await expect_close(no_deflate)).code == 1002

        on_continuation = await raw_client(app, OFFER)
        on_continuation.send_frame(Opcode.TEXT, b'{"type":', fin=False)
        on_continuation.send_frame(Opcode.CONT, b'"ping"}', rsv1=True)
        assert (await expect_close(on_continuation)).code == 1002

        bomb = await raw_client(app, OFFER)  # 16 MiB of zeros in about 16 KB
        bomb.send_frame(Opcode.TEXT, deflated(b"0" * (16 * 1024 * 1024)), rsv1=True)
        closed = await expect_close(bomb)
        assert (closed.code, closed.reason) == (1009, "message larger than 65536 bytes")

        control = await raw_client(app, OFFER)  # control frames are never compressed
        control.send_frame(Opcode.PING, b"", rsv1=True)
        assert (await expect_close(control)).code == 1002
        plain_ping = await raw_client(app)
        plain_ping.send_frame(Opcode.PING, b"ok")  # a normal ping is answered
        assert await asyncio.wait_for(plain_ping.recv_raw_frame(), timeout(5)) == b"\x8a\x02ok"
        plain_ping.send_frame(Opcode.PING, b"", rsv1=True)
        assert (await expect_close(plain_ping)).code == 1002

        garbage = await raw_client(app, OFFER)
        garbage.send_frame(Opcode.TEXT, b"\xff\xff\xff\xff", rsv1=True)
        assert (await expect_close(garbage)).code == 1002

        bad_utf8 = await raw_client(app, OFFER)  # checked after decompression
        bad_utf8.send_frame(Opcode.TEXT, deflated(b'{"type":"echo","data":"\xc3\x28"}'), rsv1=True)
        assert (await expect_close(bad_utf8)).code == 1007

        await bystander.send('{"type":"echo","data":"still here"}')
        assert (await recv_json(bystander))["data"] == "still here"
        for client in (no_deflate, on_continuation, control, plain_ping, bomb, garbage, bad_utf8):
            client.close()


async def test_compression_off_and_below_threshold(start_server: StartServer) -> None:
    off = await start_server(compression="off")
    client = await raw_client(off, OFFER)
    assert b"Sec-WebSocket-Extensions" not in client.response_headers
    client.close()
    on = await start_server()
    client = await raw_client(on, OFFER)
    client.send_frame(Opcode.TEXT, b'{"type":"echo","data":"short"}')
    reply = await asyncio.wait_for(client.recv_raw_frame(), timeout(5))
    assert reply[0] == 0x81  # under the 256-byte threshold: sent as is
    client.close()
