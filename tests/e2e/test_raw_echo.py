"""The conformance mode: every message echoed unchanged, through the same rules."""

from __future__ import annotations

import asyncio

import websockets

from ..conftest import StartServer, timeout, ws_url


async def test_text_and_binary_are_echoed_unchanged_without_welcome(
    start_server: StartServer,
) -> None:
    app = await start_server(raw_echo=True)
    async with websockets.connect(ws_url(app)) as ws:
        await ws.send("not json at all ü")
        assert await asyncio.wait_for(ws.recv(), timeout(5)) == "not json at all ü"
        await ws.send(b"\x00\xffbinary")
        assert await asyncio.wait_for(ws.recv(), timeout(5)) == b"\x00\xffbinary"
        await ws.send([b"frag", b"mented"])
        assert await asyncio.wait_for(ws.recv(), timeout(5)) == b"fragmented"


async def test_raw_echo_still_enforces_the_size_limit(start_server: StartServer) -> None:
    app = await start_server(raw_echo=True, max_message_size=1000)
    async with websockets.connect(ws_url(app)) as ws:
        await ws.send(["a" * 600, "a" * 600])
        await asyncio.wait_for(ws.wait_closed(), timeout(5))
    assert ws.close_code == 1009
