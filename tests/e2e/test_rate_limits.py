"""Message rate limits with real clients: refusal with RATE_LIMIT_EXCEEDED, flood close 1008."""

from __future__ import annotations

import asyncio
import json

import pytest
import websockets
from websockets.exceptions import ConnectionClosed

from switchboard import App
from switchboard.core.connection import Connection
from switchboard.protocol.envelope import Envelope

from ..conftest import StartServer, recv_json, timeout, ws_url
from ..security.keys import SECRET, token


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
        # Time passing is what is tested: 5/s refills at least two messages in 0.5 s.
        await asyncio.sleep(timeout(0.5))
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


async def test_user_rate_spans_the_users_connections(start_server: StartServer) -> None:
    app = await start_server(
        jwt_secret=SECRET, user_message_rate=1, user_message_burst=4, flood_strikes=1000
    )
    url = f"{ws_url(app)}?token={token('ann')}"
    async with websockets.connect(url) as one, websockets.connect(url) as two:
        await recv_json(one)
        await recv_json(two)
        for ws in (one, two, one, two, one, two):
            await ws.send('{"type":"echo","data":1}')
        kinds = [(await recv_json(ws))["type"] for ws in (one, two, one, two, one, two)]
        assert kinds.count("echo_reply") == 4  # one bucket of 4 for both connections
        assert kinds.count("error") == 2
    other = f"{ws_url(app)}?token={token('bob')}"
    async with websockets.connect(other) as bob:  # another user has a bucket of their own
        await recv_json(bob)
        await bob.send('{"type":"echo","data":2}')
        assert (await recv_json(bob))["type"] == "echo_reply"


async def test_route_rate_answers_with_the_request_id(start_server: StartServer) -> None:
    app = App()

    @app.route("search", rate=1, burst=2)
    def search(conn: Connection, msg: Envelope) -> str:
        return "results"

    await start_server(app)
    async with websockets.connect(ws_url(app)) as ws:
        await recv_json(ws)
        for n in range(4):
            await ws.send(json.dumps({"type": "search", "id": n}))
        answers = [await recv_json(ws) for _ in range(4)]
        assert [a["type"] for a in answers] == ["search_reply", "search_reply", "error", "error"]
        assert [a["id"] for a in answers] == [0, 1, 2, 3]
        assert answers[2]["code"] == "RATE_LIMIT_EXCEEDED"
        await ws.send('{"type":"echo","data":"other routes are not limited"}')
        assert (await recv_json(ws))["type"] == "echo_reply"


async def test_user_rate_skips_a_user_that_is_not_hashable(start_server: StartServer) -> None:
    app = App()

    @app.on_connect
    def tag(conn: Connection) -> None:
        conn.user = {"team": "a"}  # a hook may set anything; dicts cannot key a bucket

    await start_server(app, user_message_rate=1, user_message_burst=1)
    async with websockets.connect(ws_url(app)) as ws:
        await recv_json(ws)
        for n in range(3):
            await ws.send(json.dumps({"type": "echo", "data": n}))
            assert (await recv_json(ws)) == {"type": "echo_reply", "data": n}
