"""Server heartbeat: pings on one sweep, and the close of a client that stops answering."""

from __future__ import annotations

import asyncio
import json
import time

import websockets
from websockets.frames import Opcode

from ..conftest import StartServer, recv_json, timeout, wait_until, ws_url
from ..rawclient import RawClient


async def test_client_that_ignores_pings_is_closed_4002(start_server: StartServer) -> None:
    app = await start_server(ping_interval=0.2, ping_timeout=0.3)
    client = await RawClient.connect(app.port)
    pinged_at = 0.0
    while True:
        frame = await asyncio.wait_for(client.recv_frame(), timeout(5))
        if frame.opcode is Opcode.PING and not pinged_at:
            pinged_at = time.monotonic()
        if frame.opcode is Opcode.CLOSE:
            break
    assert pinged_at, "no ping before the close"
    assert int.from_bytes(frame.data[:2], "big") == 4002
    # Not closed before the pong was due (0.3 s; a little slack for timer granularity).
    assert time.monotonic() - pinged_at >= 0.25
    # The client never answers the close either: the server drops it after close_timeout.
    assert await client.at_eof(timeout(10))


async def test_client_that_answers_pings_stays_connected(start_server: StartServer) -> None:
    app = await start_server(ping_interval=0.1, ping_timeout=0.2)
    async with websockets.connect(ws_url(app)) as ws:
        await recv_json(ws)
        assert app.node is not None
        heartbeat = app.node.heartbeat
        await wait_until(lambda: heartbeat.rounds >= 10)  # ten rounds, each pong in time
        await ws.send('{"type":"echo","data":"alive"}')
        assert (await recv_json(ws))["data"] == "alive"


async def test_pings_are_answered_by_raw_client_keep_it_open(start_server: StartServer) -> None:
    app = await start_server(ping_interval=0.1, ping_timeout=0.2)
    client = await RawClient.connect(app.port)
    pings = 0
    while pings < 5:  # five rounds: a server that ignored the pongs closes after the first
        frame = await asyncio.wait_for(client.recv_frame(), timeout(5))
        assert frame.opcode is not Opcode.CLOSE
        if frame.opcode is Opcode.PING:
            pings += 1
            client.send_frame(Opcode.PONG, frame.data)
    client.send_frame(Opcode.TEXT, b'{"type":"echo","data":2}')
    frame = await asyncio.wait_for(client.recv_frame(), timeout(5))
    assert json.loads(frame.data)["data"] == 2


async def test_heartbeat_can_be_disabled(start_server: StartServer) -> None:
    app = await start_server(ping_interval=0, ping_timeout=0.1)
    client = await RawClient.connect(app.port)
    await client.recv_frame()  # welcome
    try:
        frame = await asyncio.wait_for(client.recv_frame(), 0.5)
    except TimeoutError:
        return
    raise AssertionError(f"unexpected frame with heartbeat off: {frame}")
