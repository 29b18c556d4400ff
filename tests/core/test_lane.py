"""A connection's requests in flight against a real Redis: pipelined ones (publish,
broadcast, send) share the broker's round trips, every answer keeps the order of the
requests, and nothing a limit would refuse one at a time slips through.

Each test serves on its own Redis prefix of the session's redis-server.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
import websockets

from switchboard.app import App
from switchboard.broker.redis import RedisBroker

from ..broker.flaky import FlakyBroker
from ..conftest import StartServer, recv_json, ws_url


@pytest.fixture
async def clustered(start_server: StartServer, redis_url: str) -> Any:
    async def start(**overrides: Any) -> App:
        prefix = f"t{uuid.uuid4().hex[:12]}:"
        return await start_server(broker=redis_url, broker_prefix=prefix, **overrides)

    return start


def publish(n: int, channel: str = "room:1") -> str:
    return json.dumps({"type": "publish", "channel": channel, "data": {"n": n}, "id": n})


async def answers(ws: Any, count: int) -> list[dict[str, Any]]:
    """The next ``count`` replies (acks and errors), skipping deliveries."""
    got: list[dict[str, Any]] = []
    while len(got) < count:
        message = await recv_json(ws)
        if message["type"] in ("ack", "error"):
            got.append(message)
    return got


def round_trips(app: App) -> int:
    broker = app.broker
    assert isinstance(broker, RedisBroker)
    return broker._batch.pipelines


async def test_publications_in_flight_share_round_trips_and_are_answered_in_order(
    clustered: Any,
) -> None:
    app = await clustered()
    async with websockets.connect(ws_url(app)) as ws:
        await recv_json(ws)
        before = round_trips(app)
        for n in range(1, 31):
            await ws.send(publish(n))
        acks = await answers(ws, 30)
    assert [a["id"] for a in acks] == list(range(1, 31))
    assert [a["offset"] for a in acks] == list(range(1, 31))  # stored in the order sent
    assert round_trips(app) - before <= 6  # one after the other would be 30


async def test_an_error_found_at_once_is_answered_in_its_turn(clustered: Any) -> None:
    app = await clustered()
    async with websockets.connect(ws_url(app)) as ws:
        await recv_json(ws)
        await ws.send(publish(1))
        await ws.send(json.dumps({"type": "publish", "channel": "bad channel!", "id": 2}))
        await ws.send(json.dumps({"type": "send", "to": {"user": "nobody"}, "data": 1, "id": 3}))
        await ws.send(json.dumps({"type": "broadcast", "data": {"n": 4}, "id": 4}))
        await ws.send(publish(5))
        got = await answers(ws, 5)
    assert [(m["type"], m["id"]) for m in got] == [
        ("ack", 1),
        ("error", 2),
        ("error", 3),
        ("ack", 4),
        ("ack", 5),
    ]
    assert got[1]["code"] == "INVALID_MESSAGE_FORMAT"
    assert got[2]["code"] == "NOT_FOUND"


async def test_a_subscribe_waits_for_what_is_ahead_and_holds_back_what_follows(
    clustered: Any,
) -> None:
    app = await clustered()
    async with websockets.connect(ws_url(app)) as ws:
        await recv_json(ws)
        await ws.send(publish(1, "room:a"))
        await ws.send(json.dumps({"type": "subscribe", "channel": "room:b", "id": 2}))
        await ws.send(publish(3, "room:b"))
        got = []
        while len(got) < 4:  # three answers and the delivery of the publication to room:b
            got.append(await recv_json(ws))
    assert [m.get("id") for m in got if m["type"] == "ack"] == [1, 2, 3]
    delivered = [m for m in got if m["type"] == "message"]
    # Published only once the subscription was in place: the subscriber gets it.
    assert [(m["channel"], m["data"]) for m in delivered] == [("room:b", {"n": 3})]


async def test_publications_in_flight_create_no_more_channels_than_the_burst(
    clustered: Any,
) -> None:
    app = await clustered(channel_create_rate=0.01, channel_create_burst=3)
    async with websockets.connect(ws_url(app)) as ws:
        await recv_json(ws)
        for n in range(1, 9):
            await ws.send(publish(n, f"new:{n}"))
        got = await answers(ws, 8)
    assert [m["id"] for m in got] == list(range(1, 9))
    assert [m["type"] for m in got] == ["ack"] * 3 + ["error"] * 5
    assert {m["code"] for m in got[3:]} == {"RATE_LIMIT_EXCEEDED"}


async def test_what_a_request_sends_before_its_turn_is_held_until_then(
    start_server: StartServer,
) -> None:
    # A publish that waits (the broker is slow) and a broadcast the embedded broker does at
    # once, both in flight: the broadcast's delivery and ack come after the publish's ack.
    app = App()
    broker = app.broker = FlakyBroker()
    broker.delay = 0.1
    await start_server(app)
    async with websockets.connect(ws_url(app)) as ws:
        await recv_json(ws)
        await ws.send(publish(1))
        await ws.send(json.dumps({"type": "broadcast", "data": {"n": 2}, "id": 2}))
        got = [await recv_json(ws) for _ in range(3)]
    assert [(m["type"], m.get("id")) for m in got] == [
        ("ack", 1),
        ("broadcast", None),
        ("ack", 2),
    ]
