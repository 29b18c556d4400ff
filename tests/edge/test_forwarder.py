"""The edge's ``$default`` route: local processors stay on the edge, every other type goes
to the central with a fresh id and its answer comes back with the client's id; while the
upstream is away requests wait up to ``edge_buffer``, the rest get UNAVAILABLE at once."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import websockets

from switchboard import App

from ..conftest import recv_json, timeout, wait_until, ws_url
from .conftest import StartCentral, StartEdge, edge_url


def processors() -> App:
    """An edge App with one local processor, as ``examples/edge_app.py`` has."""
    app = App()

    @app.route("sensor_data")
    def sensor_data(conn: Any, msg: Any) -> dict[str, Any]:
        reading = msg.json()
        return {"status": "processed", "sensor": reading["sensor"], "at": "edge"}

    return app


async def test_a_local_processor_answers_on_the_edge_and_the_central_never_sees_it(
    start_central: StartCentral, start_edge: StartEdge
) -> None:
    central = await start_central()
    edge = await start_edge(ws_url(central), app=processors())
    async with websockets.connect(edge_url(edge)) as ws:
        await recv_json(ws)  # welcome
        await ws.send(json.dumps({"type": "sensor_data", "id": 7, "data": {"sensor": "t1"}}))
        reply = await recv_json(ws)
    assert reply == {
        "type": "sensor_data_reply",
        "data": {"status": "processed", "sensor": "t1", "at": "edge"},
        "id": 7,
    }
    assert central.node is not None
    assert central.node.router.received is not None
    assert "sensor_data" not in central.node.router.received
    assert "$default" not in central.node.router.received
    assert edge.forwarder.forwarded == 0


async def test_an_apps_own_echo_route_is_a_local_processor_on_the_edge(
    start_central: StartCentral, start_edge: StartEdge
) -> None:
    app = processors()

    @app.route("echo")
    def echo(conn: Any, msg: Any) -> dict[str, Any]:
        return {"echoed": msg.json(), "at": "edge"}

    central = await start_central()
    edge = await start_edge(ws_url(central), app=app)
    async with websockets.connect(edge_url(edge)) as ws:
        await recv_json(ws)  # welcome
        await ws.send(json.dumps({"type": "echo", "id": 1, "data": "hi"}))
        reply = await recv_json(ws)
    assert reply == {"type": "echo_reply", "data": {"echoed": "hi", "at": "edge"}, "id": 1}
    assert edge.forwarder.forwarded == 0


async def test_echo_and_custom_types_are_answered_by_the_central_with_the_clients_id(
    start_central: StartCentral, start_edge: StartEdge
) -> None:
    central = await start_central()
    edge = await start_edge(ws_url(central), app=processors())
    async with websockets.connect(edge_url(edge)) as ws:
        welcome = await recv_json(ws)
        assert welcome["node"] == "edge"  # the client's connection ends at the edge
        await ws.send(json.dumps({"type": "echo", "id": "client-1", "data": {"n": 1}}))
        assert await recv_json(ws) == {"type": "echo_reply", "data": {"n": 1}, "id": "client-1"}
        await ws.send(json.dumps({"type": "where", "id": 42}))
        assert await recv_json(ws) == {"type": "where_reply", "data": "central", "id": 42}
        await ws.send(json.dumps({"type": "where"}))  # no id asked: none relayed
        assert await recv_json(ws) == {"type": "where_reply", "data": "central"}
    assert central.node is not None and central.node.router.received is not None
    assert central.node.router.received["where"] == 2
    assert edge.forwarder.forwarded == 3


async def test_the_centrals_errors_come_back_with_the_clients_id(
    start_central: StartCentral, start_edge: StartEdge
) -> None:
    central = await start_central()
    edge = await start_edge(ws_url(central))
    async with websockets.connect(edge_url(edge)) as ws:
        await recv_json(ws)
        await ws.send(json.dumps({"type": "no_such_type", "id": "x9"}))
        error = await recv_json(ws)
    assert error["type"] == "error"
    assert error["code"] == "UNKNOWN_MESSAGE_TYPE"
    assert error["id"] == "x9"
    assert "no_such_type" in error["message"]


async def test_while_the_central_is_away_requests_wait_up_to_the_buffer_and_the_rest_fail(
    start_central: StartCentral, start_edge: StartEdge
) -> None:
    central = await start_central()
    port = central.port
    edge = await start_edge(
        ws_url(central), edge_buffer=2, edge_upstream_connections=1, edge_timeout=timeout(10)
    )
    async with websockets.connect(edge_url(edge)) as ws:
        await recv_json(ws)
        await central.shutdown()
        await wait_until(lambda: not edge.upstream.up())
        for n in range(1, 6):
            await ws.send(json.dumps({"type": "echo", "id": n, "data": n}))
        # Two wait for the central; the three past the buffer are refused at once.
        refused = [await recv_json(ws) for _ in range(3)]
        assert [(f["type"], f["code"], f["id"]) for f in refused] == [
            ("error", "UNAVAILABLE", 3),
            ("error", "UNAVAILABLE", 4),
            ("error", "UNAVAILABLE", 5),
        ]
        assert edge.upstream.waiting == 2
        await start_central(port=port)  # the central is back, on its address
        answered = sorted([await recv_json(ws, 10) for _ in range(2)], key=lambda f: f["id"])
        assert answered == [
            {"type": "echo_reply", "data": 1, "id": 1},
            {"type": "echo_reply", "data": 2, "id": 2},
        ]
        # The client's connection to the edge stayed open all along.
        await ws.send(json.dumps({"type": "ping", "id": "p"}))
        assert await recv_json(ws) == {"type": "pong", "id": "p"}
    assert edge.upstream.counts.unavailable == 3


async def test_a_request_waiting_longer_than_the_timeout_gets_unavailable(
    start_central: StartCentral, start_edge: StartEdge
) -> None:
    central = await start_central()
    edge = await start_edge(ws_url(central), edge_upstream_connections=1, edge_timeout=0.5)
    async with websockets.connect(edge_url(edge)) as ws:
        await recv_json(ws)
        await central.shutdown()
        await wait_until(lambda: not edge.upstream.up())
        await ws.send(json.dumps({"type": "echo", "id": 1, "data": 1}))
        error = await recv_json(ws, 10)
        async with httpx.AsyncClient() as http:
            ready = await http.get(f"http://127.0.0.1:{edge.app.port}/ready")
    assert (error["code"], error["id"]) == ("UNAVAILABLE", 1)
    assert "try again" in error["message"]
    # The edge still serves its clients, and says its upstream is away.
    assert ready.json() == {"status": "degraded", "broker": "unavailable"}


async def test_requests_of_one_client_keep_their_order(
    start_central: StartCentral, start_edge: StartEdge
) -> None:
    central = await start_central()
    edge = await start_edge(ws_url(central))
    async with websockets.connect(edge_url(edge)) as ws:
        await recv_json(ws)
        for n in range(50):
            await ws.send(json.dumps({"type": "echo", "id": n, "data": n}))
        ids = [(await recv_json(ws))["id"] for _ in range(50)]
    assert ids == list(range(50))
    await asyncio.sleep(0)
