"""RFC 6455 rules the server owns (picows leaves them to us), with a raw misbehaving client."""

from __future__ import annotations

import asyncio
import json

from websockets.frames import Opcode

from ..conftest import StartServer, timeout
from ..rawclient import RawClient


async def _open(app_port: int) -> RawClient:
    client = await RawClient.connect(app_port)
    assert client.status == 101
    welcome = await client.recv_frame()
    assert json.loads(welcome.data)["type"] == "welcome"
    return client


async def test_invalid_utf8_text_closes_1007(start_server: StartServer) -> None:
    app = await start_server()
    client = await _open(app.port)
    client.send_frame(Opcode.TEXT, b'{"type":"echo","data":"\xff"}')
    close = await asyncio.wait_for(client.recv_until_close(), timeout(5))
    assert close.code == 1007
    assert await client.at_eof(timeout(5))


async def test_invalid_utf8_in_a_fragment_closes_1007_before_the_message_ends(
    start_server: StartServer,
) -> None:
    app = await start_server()
    client = await _open(app.port)
    client.send_frame(Opcode.TEXT, b'{"type":', fin=False)
    client.send_frame(Opcode.CONT, b"\xed\xa0\x80", fin=False)
    close = await asyncio.wait_for(client.recv_until_close(), timeout(5))
    assert close.code == 1007


async def test_control_frames_may_interleave_with_fragments(start_server: StartServer) -> None:
    app = await start_server()
    client = await _open(app.port)
    client.send_frame(Opcode.TEXT, b'{"type":"echo",', fin=False)
    client.send_frame(Opcode.PING, b"mid")
    client.send_frame(Opcode.CONT, b'"data":"whole"}', fin=True)
    pong = await asyncio.wait_for(client.recv_frame(), timeout(5))
    assert (pong.opcode, pong.data) == (Opcode.PONG, b"mid")
    reply = await asyncio.wait_for(client.recv_frame(), timeout(5))
    assert json.loads(reply.data) == {"type": "echo_reply", "data": "whole"}


async def test_continuation_without_start_closes_1002(start_server: StartServer) -> None:
    app = await start_server()
    client = await _open(app.port)
    client.send_frame(Opcode.CONT, b"orphan", fin=True)
    close = await asyncio.wait_for(client.recv_until_close(), timeout(5))
    assert close.code == 1002


async def test_new_message_during_fragmented_one_closes_1002(start_server: StartServer) -> None:
    app = await start_server()
    client = await _open(app.port)
    client.send_frame(Opcode.TEXT, b"part", fin=False)
    client.send_frame(Opcode.TEXT, b"another", fin=True)
    close = await asyncio.wait_for(client.recv_until_close(), timeout(5))
    assert close.code == 1002


async def test_client_close_is_echoed_and_the_socket_closed(start_server: StartServer) -> None:
    app = await start_server()
    client = await _open(app.port)
    client.send_frame(Opcode.CLOSE, (4321).to_bytes(2, "big") + b"bye")
    close = await asyncio.wait_for(client.recv_until_close(), timeout(5))
    assert close.code == 4321
    assert await client.at_eof(timeout(5))
    await asyncio.sleep(0.05)
    assert len(app.node.registry) == 0 if app.node else False


async def test_one_bad_client_does_not_disturb_another(start_server: StartServer) -> None:
    app = await start_server()
    good = await _open(app.port)
    bad = await _open(app.port)
    bad.send_frame(Opcode.TEXT, b"\xc3\x28")
    assert (await asyncio.wait_for(bad.recv_until_close(), timeout(5))).code == 1007
    good.send_frame(Opcode.TEXT, b'{"type":"echo","data":1}')
    reply = await asyncio.wait_for(good.recv_frame(), timeout(5))
    assert json.loads(reply.data)["data"] == 1


async def test_reserved_bits_without_an_extension_close_1002(start_server: StartServer) -> None:
    from websockets.frames import Frame

    app = await start_server()
    client = await _open(app.port)
    data = bytearray(Frame(Opcode.TEXT, b'{"type":"echo"}').serialize(mask=True, extensions=[]))
    data[0] |= 0x20  # RSV2 (the websockets codec refuses to set it for us)
    client.writer.write(bytes(data))
    close = await asyncio.wait_for(client.recv_until_close(), timeout(5))
    assert close.code == 1002


async def test_close_codes_no_endpoint_may_send_are_a_protocol_error(
    start_server: StartServer,
) -> None:
    app = await start_server()
    for bad in (0, 999, 1005, 1006, 1015, 2999, 5000):
        client = await _open(app.port)
        client.send_frame(Opcode.CLOSE, bad.to_bytes(2, "big"))
        close = await asyncio.wait_for(client.recv_until_close(), timeout(5))
        assert close.code == 1002, bad
        client.close()


async def test_empty_client_close_is_answered_1000(start_server: StartServer) -> None:
    app = await start_server()
    client = await _open(app.port)
    client.send_frame(Opcode.CLOSE, b"")
    close = await asyncio.wait_for(client.recv_until_close(), timeout(5))
    assert close.code == 1000
