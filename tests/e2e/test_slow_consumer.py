"""Bounded send queues: a client that stops reading is cut off, the others do not notice."""

from __future__ import annotations

import asyncio
import json

import websockets

from ..conftest import SMALL_QUEUES, StartServer, recv_json, timeout, wait_until, ws_url
from ..rawclient import RawClient

PAYLOAD = "x" * 16_000


async def test_client_that_never_reads_is_closed_4008_and_others_get_everything(
    start_server: StartServer,
) -> None:
    app = await start_server(**SMALL_QUEUES)
    assert app.node is not None
    stalled = await RawClient.connect(app.port)  # reads nothing from here on
    async with websockets.connect(ws_url(app), max_queue=None) as reader:
        await recv_json(reader)
        sent = 0
        while not app.node.outbox.slow_consumers:
            assert sent < 2000, "the stalled client was never found slow"
            await reader.send(json.dumps({"type": "broadcast", "data": {"i": sent, "p": PAYLOAD}}))
            assert (await recv_json(reader))["data"]["i"] == sent
            sent += 1
        # The stalled client finally reads: what was already written, then the 4008 close.
        close = await asyncio.wait_for(stalled.recv_until_close(), timeout(10))
        assert close.code == 4008
        assert await stalled.at_eof(timeout(5))
        await wait_until(lambda: len(app.node.registry) == 1)
        # The reader never noticed.
        await reader.send('{"type":"broadcast","data":"after"}')
        assert (await recv_json(reader))["data"] == "after"


async def test_slow_consumer_that_never_reads_is_dropped_after_close_timeout(
    start_server: StartServer,
) -> None:
    app = await start_server(**SMALL_QUEUES, close_timeout=0.3)
    assert app.node is not None
    stalled = await RawClient.connect(app.port)
    async with websockets.connect(ws_url(app), max_queue=None) as reader:
        await recv_json(reader)
        for i in range(400):
            await reader.send(json.dumps({"type": "broadcast", "data": {"i": i, "p": PAYLOAD}}))
            await recv_json(reader)
        assert app.node.outbox.slow_consumers >= 1
        await wait_until(lambda: len(app.node.registry) == 1)
    stalled.close()
