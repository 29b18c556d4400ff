"""Message rate limits with real clients: refusal with RATE_LIMIT_EXCEEDED, flood close 1008."""

from __future__ import annotations

import asyncio
import json

import pytest
import websockets
from websockets.exceptions import ConnectionClosed

from ..conftest import StartServer, recv_json, timeout, ws_url


async def test_over_the_rate_is_refused_then_allowed_again(start_server: StartServer) -> None:
    app = await start_server(message_rate=5, message_burst=5, flood_strikes=1000)
    async with websockets.connect(ws_url(app)) as ws:
        await recv_json(ws)
        for n in range(20):
            await ws.send(json.dumps({"type": "echo", "data": n}))
        answers = [await recv_json(ws) for _ in range(20)]
        assert [a["data"] for a in answers if a["type"] == "echo_reply"] == [0, 1, 2, 3, 4]
        refused = [a for a in answers if a["type"] == "error"]
        assert len(refused) == 15
        assert {a["code"] for a in refused} == {"RATE_LIMIT_EXCEEDED"}
        await asyncio.sleep(0.5)  # 5/s refills about two messages
        await ws.send('{"type":"echo","data":"later"}')
        assert (await recv_json(ws))["data"] == "later"


async def test_a_flood_is_closed_1008_and_others_are_served(start_server: StartServer) -> None:
    app = await start_server(message_rate=10, message_burst=10, flood_strikes=20)
    url = ws_url(app)
    async with websockets.connect(url) as bystander, websockets.connect(url) as flooder:
        await recv_json(bystander)
        await recv_json(flooder)
        for _ in range(100):
            await flooder.send('{"type":"echo","data":"spam"}')
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                await asyncio.wait_for(flooder.recv(), timeout(5))
        assert closed.value.rcvd is not None
        assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (
            1008,
            "message rate exceeded",
        )
        await bystander.send('{"type":"echo","data":"fine"}')
        assert (await recv_json(bystander))["data"] == "fine"
