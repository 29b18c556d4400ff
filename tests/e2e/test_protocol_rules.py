"""RFC 6455 rules the server owns (picows leaves them to us), with a raw misbehaving client."""

from __future__ import annotations

import asyncio
import json

import pytest
from websockets.frames import Opcode

from ..conftest import StartServer, timeout, wait_until
from ..rawclient import RawClient


async def _open(app_port: int) -> RawClient:
    client = await RawClient.connect(app_port)
    assert client.status == 101
    welcome = await client.recv_frame()
    assert json.loads(welcome.data)["type"] == "welcome"
    return client


BROKEN_SEQUENCES = {
    "invalid UTF-8 in a text frame": (
        [(Opcode.TEXT, b'{"type":"echo","data":"\xff"}', True)],
        1007,
    ),
    # Failed on the bad fragment, before the message is complete.
    "invalid UTF-8 in a fragment": (
        [(Opcode.TEXT, b'{"type":', False), (Opcode.CONT, b"\xed\xa0\x80", False)],
        1007,
    ),
    "continuation with nothing to continue": ([(Opcode.CONT, b"orphan", True)], 1002),
    "new message inside a fragmented one": (
        [(Opcode.TEXT, b"part", False), (Opcode.TEXT, b"another", True)],
        1002,
    ),
}


@pytest.mark.parametrize("case", sorted(BROKEN_SEQUENCES))
async def test_broken_frame_sequences_fail_the_connection(
    start_server: StartServer, case: str
) -> None:
    frames, code = BROKEN_SEQUENCES[case]
    app = await start_server()
    client = await _open(app.port)
    for opcode, data, fin in frames:
        client.send_frame(opcode, data, fin=fin)
    close = await asyncio.wait_for(client.recv_until_close(), timeout(5))
    assert close.code == code
    assert await client.at_eof(timeout(5))  # failed: the server does not wait for our close


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


async def test_client_close_is_echoed_and_the_socket_closed(start_server: StartServer) -> None:
    app = await start_server()
    client = await _open(app.port)
    client.send_frame(Opcode.CLOSE, (4321).to_bytes(2, "big") + b"bye")
    close = await asyncio.wait_for(client.recv_until_close(), timeout(5))
    assert close.code == 4321
    assert await client.at_eof(timeout(5))
    await wait_until(lambda: app.node is not None and len(app.node.registry) == 0)


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
