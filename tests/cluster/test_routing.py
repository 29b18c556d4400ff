"""Load-aware routing: the score and the pick on registry entries, ``GET /api/v1/route`` on
the admin port, ``GET /route`` on the WebSocket port, and two real nodes over Redis."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from typing import Any

import httpx
import pytest
import websockets

from switchboard.broker.base import NodeInfo
from switchboard.cluster.routing import RouteCache, pick, score
from switchboard.transport.handshake import UpgradeHandler
from switchboard.transport.listener import ListenerLimits
from switchboard.transport.server import listen

from ..conftest import (
    RedisProcess,
    ServerProcess,
    StartServer,
    free_port,
    timeout,
    wait_until,
    ws_url,
)

KEY = "routing-test-key-0123456789"
AUTH = {"X-API-Key": KEY}
NOW = 1_000_000.0


def entry(node_id: str, **fields: Any) -> NodeInfo:
    """A ready, idle node's entry, updated at ``NOW``, holding 100 connections at most."""
    defaults: dict[str, Any] = {"state": "ready", "max_connections": 100, "updated_at": NOW}
    return NodeInfo(node_id=node_id, url=f"ws://{node_id}:8080/ws", **{**defaults, **fields})


# --- the score and the pick ---------------------------------------------------------------------


def test_the_score_adds_the_connection_share_cpu_and_capped_loop_lag() -> None:
    assert score(entry("a")) == 0.0
    busy = entry("a", connections=50, cpu_percent=20.0, loop_lag_ms=30.0)
    assert score(busy) == pytest.approx(0.5 + 0.2 + 0.3)
    assert score(entry("a", loop_lag_ms=2500.0)) == 1.0  # lag counts at most a full node
    assert score(entry("a", cpu_percent=180.0)) == 1.0  # threads can pass 100 %
    # A node that announces no cap counts each connection as a whole node's worth.
    assert score(entry("a", connections=3, max_connections=0)) == 3.0


def test_the_least_loaded_ready_node_wins() -> None:
    nodes = [
        entry("a", connections=60),
        entry("b", connections=10, cpu_percent=30.0),  # 0.4
        entry("c", connections=20),  # 0.2
        entry("d", loop_lag_ms=90.0),  # 0.9
    ]
    best = pick(nodes, now=NOW)
    assert best is not None and best.node_id == "c"


def test_starting_draining_stopped_and_stale_nodes_do_not_count() -> None:
    nodes = [
        entry("a", state="starting"),
        entry("b", state="draining"),
        entry("c", state="stopped"),
        entry("d", updated_at=NOW - 11),  # older than max_age: it stopped refreshing
        entry("e", connections=99),
    ]
    best = pick(nodes, now=NOW, max_age=10)
    assert best is not None and best.node_id == "e"
    assert pick(nodes[:4], now=NOW, max_age=10) is None
    assert pick([], now=NOW) is None


def test_ties_go_to_the_smallest_node_id_whatever_the_order() -> None:
    nodes = [entry("n3", connections=5), entry("n1", connections=5), entry("n2", connections=5)]
    for order in (nodes, nodes[::-1]):
        best = pick(order, now=NOW)
        assert best is not None and best.node_id == "n1"


# --- GET /api/v1/route on the admin port ----------------------------------------------------------


def admin(port: int) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=timeout(5))


async def test_the_route_of_a_lone_node_is_its_own_url(start_server: StartServer) -> None:
    app = await start_server(api_key=KEY)
    async with admin(app.admin_port) as client:
        assert (await client.get("/api/v1/route")).status_code == 401  # as /api/v1/nodes
        answer = await client.get("/api/v1/route", headers=AUTH)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert set(body) == {"url", "node_id", "score"}
        assert body["url"] == ws_url(app) and body["node_id"] == app.settings.node_id
        assert 0 <= body["score"] < 3


async def test_a_node_announces_its_connection_cap(start_server: StartServer) -> None:
    app = await start_server(api_key=KEY, max_connections=40)
    (announced,) = await app.broker.nodes()
    assert announced.max_connections == 40
    async with admin(app.admin_port) as client:
        (listed,) = (await client.get("/api/v1/nodes", headers=AUTH)).json()["nodes"]
        assert listed["max_connections"] == 40


async def test_a_draining_lone_node_answers_503_no_node_is_ready(
    start_server: StartServer,
) -> None:
    app = await start_server(api_key=KEY, drain_grace=timeout(2))
    async with admin(app.admin_port) as client:
        draining = asyncio.create_task(app.shutdown())  # the admin port outlives the grace
        try:
            await wait_until(lambda: app.lifecycle.draining)
            answer = await client.get("/api/v1/route", headers=AUTH)
            assert answer.status_code == 503, answer.text
            assert answer.json()["error"]["code"] == "UNAVAILABLE"
            assert "no node is ready" in answer.json()["error"]["message"]
        finally:
            await draining


async def test_the_route_is_503_when_redis_does_not_answer(start_server: StartServer) -> None:
    redis = RedisProcess()
    try:
        prefix = f"t{uuid.uuid4().hex[:10]}:"
        app = await start_server(
            api_key=KEY, broker=redis.url, broker_prefix=prefix, broker_timeout=0.5
        )
        async with admin(app.admin_port) as client:
            assert (await client.get("/api/v1/route", headers=AUTH)).status_code == 200
            redis.pause()  # up, but silent
            try:
                answer = await client.get("/api/v1/route", headers=AUTH)
            finally:
                redis.resume()
            assert answer.status_code == 503, answer.text
            assert answer.json()["error"]["code"] == "UNAVAILABLE"
            assert "broker unavailable" in answer.json()["error"]["message"]
        await app.shutdown()  # while its Redis is still there
    finally:
        redis.kill()


# --- GET /route on the WebSocket port -------------------------------------------------------------


async def http_get(port: int, path: str) -> tuple[int, bytes]:
    """(status, body) of a plain ``GET path`` on the WebSocket port."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout(5))
        status = int(head.split(b" ", 2)[1])
        length = next(
            int(line.split(b":", 1)[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        )
        return status, await asyncio.wait_for(reader.readexactly(length), timeout(5))
    finally:
        writer.close()


async def test_route_on_the_websocket_port_is_404_unless_turned_on(
    start_server: StartServer,
) -> None:
    app = await start_server()
    assert (await http_get(app.port, "/route"))[0] == 404


async def test_route_on_the_websocket_port_answers_when_turned_on(
    start_server: StartServer,
) -> None:
    app = await start_server(route_endpoint=True)
    deadline = time.monotonic() + timeout(5)  # the copy is refreshed every second
    while (answer := await http_get(app.port, "/route"))[0] != 200:
        assert answer[0] == 503 and time.monotonic() < deadline, answer
        await asyncio.sleep(0.1)  # the poll interval
    assert json.loads(answer[1])["url"] == ws_url(app)


async def test_the_websocket_port_answers_its_cached_route_or_503(
    start_server: StartServer,
) -> None:
    app = await start_server()
    assert app.node is not None
    cache = RouteCache(app.broker)
    upgrades = UpgradeHandler(
        app.node,
        app.lifecycle,
        path="/ws",
        max_connections=10,
        max_header_size=8192,
        limits=ListenerLimits(65536, 65536, 1.0),
        route=cache.answer,
    )
    server = await listen(
        upgrades, "127.0.0.1", 0, handshake_timeout=5, max_frame_size=65536, read_buffer_size=4096
    )
    port = int(server.sockets[0].getsockname()[1])
    try:
        assert await http_get(port, "/route") == (503, b'{"error":"no node is ready"}')
        await cache.refresh()
        assert cache.best is not None
        status, body = await http_get(port, "/route?from=test")
        assert status == 200
        assert json.loads(body) == {
            "url": ws_url(app),
            "node_id": app.settings.node_id,
            "score": round(score(cache.best), 4),
        }
    finally:
        server.close()


async def test_the_cached_route_follows_the_broker_and_forgets_a_silent_node(
    start_server: StartServer,
) -> None:
    app = await start_server()
    cache = RouteCache(app.broker, max_age=10)
    assert cache.answer() is None  # never read
    await cache.refresh()
    assert cache.best is not None and cache.best.node_id == app.settings.node_id
    assert cache.answer() is not None
    app.broker.announce(entry("lone", updated_at=time.time() - 11))  # silent for too long
    await cache.refresh()
    assert cache.answer() is None


# --- two real nodes over Redis --------------------------------------------------------------------


async def open_clients(url: str, count: int) -> list[Any]:
    clients = []
    for _ in range(count):
        ws = await websockets.connect(url, open_timeout=timeout(5))
        await asyncio.wait_for(ws.recv(), timeout(5))  # the welcome
        clients.append(ws)
    return clients


async def routed_to(client: httpx.AsyncClient, node_id: str, within: float) -> None:
    """Poll ``/api/v1/route`` until it names ``node_id`` (the registry refreshes every
    ``registry_ttl / 3``)."""
    deadline = time.monotonic() + timeout(within)
    while True:
        answer = await client.get("/api/v1/route", headers=AUTH)
        assert answer.status_code == 200, answer.text
        if answer.json()["node_id"] == node_id:
            return
        assert time.monotonic() < deadline, answer.json()
        await asyncio.sleep(0.1)  # the poll interval


async def test_two_nodes_over_redis_route_away_from_the_busier_one(
    redis_url: str, server_process: Any
) -> None:
    prefix = f"t{uuid.uuid4().hex[:10]}:"
    nodes: list[tuple[ServerProcess, int]] = []  # each with its admin port
    for name in ("node-1", "node-2"):
        admin_port = free_port()
        node = server_process(
            *("--broker", redis_url, "--broker-prefix", prefix, "--registry-ttl", "2"),
            *("--admin-port", str(admin_port), "--api-key", KEY, "--node-id", name),
            *("--max-connections", "50", "--log-level", "warning"),
        )
        nodes.append((node, admin_port))
    (one, one_admin), (two, two_admin) = nodes
    clients: list[Any] = []
    async with admin(one_admin) as at_one, admin(two_admin) as at_two:
        try:
            clients += await open_clients(one.url(), 30)
            for client in (at_one, at_two):  # every node reads the same registry
                await routed_to(client, "node-2", within=5)
            clients += await open_clients(two.url(), 45)  # now the busier one
            await routed_to(at_one, "node-1", within=5)
        finally:
            await asyncio.gather(*(ws.close() for ws in clients))
