"""The HAProxy agent-check responder over real TCP: ``up ready N%`` falling as the node fills
up, ``drain`` from the drain on, one line per connection and the close."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator

import pytest
import websockets

from switchboard import App
from switchboard.cluster.agent import AgentCheck, weight
from switchboard.cluster.announcer import Announcer

from ..conftest import StartServer, timeout, wait_until, ws_url

UP = re.compile(rb"up ready (\d+)%\n")
CAPACITY = 10


async def ask(port: int, send: bytes = b"") -> bytes:
    """Everything the agent writes before it closes (``send``: HAProxy's ``agent-send``)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        if send:
            writer.write(send)
        return await asyncio.wait_for(reader.read(), timeout(5))
    finally:
        writer.close()


async def weight_now(port: int) -> int:
    found = UP.fullmatch(await ask(port))
    assert found is not None
    return int(found.group(1))


async def agent_of(app: App) -> AgentCheck:
    """An agent on port 0 over ``app``'s node, which holds ``CAPACITY`` connections at most."""
    assert app.node is not None and app.monitor is not None
    announcer = Announcer(
        app.node,
        app.lifecycle,
        app.monitor,
        url=lambda: ws_url(app),
        admin=lambda: None,
        version=app.version,
        max_connections=CAPACITY,
    )
    responder = AgentCheck(announcer, app.lifecycle, "127.0.0.1", 0)
    await responder.start()
    return responder


@pytest.fixture
async def agent(start_server: StartServer) -> AsyncIterator[tuple[App, AgentCheck]]:
    app = await start_server(max_connections=CAPACITY)
    responder = await agent_of(app)
    try:
        yield app, responder
    finally:
        await responder.stop()


def test_the_weight_is_one_to_a_hundred_percent() -> None:
    assert [weight(load) for load in (0.0, 0.25, 0.994, 1.0, 2.7)] == [100, 75, 1, 1, 1]


async def test_the_weight_falls_as_connections_fill_the_node(
    agent: tuple[App, AgentCheck],
) -> None:
    app, responder = agent
    idle = await weight_now(responder.port)
    assert idle > 50  # CPU and loop lag of an idle node weigh little
    clients = [await websockets.connect(ws_url(app)) for _ in range(CAPACITY // 2)]
    try:
        await wait_until(lambda: len(app.node.registry) == CAPACITY // 2)  # type: ignore[union-attr]
        half = await weight_now(responder.port)
        assert half <= 50 < idle  # half the connections: half the weight, less CPU and lag
        clients += [await websockets.connect(ws_url(app)) for _ in range(CAPACITY // 2)]
        await wait_until(lambda: len(app.node.registry) == CAPACITY)  # type: ignore[union-attr]
        assert await ask(responder.port) == b"up ready 1%\n"  # full, but never 0 (a drain)
    finally:
        await asyncio.gather(*(ws.close() for ws in clients))


async def test_what_haproxy_sends_is_ignored(agent: tuple[App, AgentCheck]) -> None:
    _, responder = agent
    assert UP.fullmatch(await ask(responder.port, b"be_ws/n1\n")) is not None
    await wait_until(lambda: not responder.connections)  # each connection closed


async def test_drain_from_the_drain_on(start_server: StartServer) -> None:
    app = await start_server(max_connections=CAPACITY, drain_grace=timeout(2))
    responder = await agent_of(app)
    try:
        assert UP.fullmatch(await ask(responder.port)) is not None
        draining = asyncio.create_task(app.shutdown())  # draining, accepting for the grace
        try:
            await wait_until(lambda: app.lifecycle.draining)
            assert await ask(responder.port) == b"drain\n"
        finally:
            await draining
        assert await ask(responder.port) == b"drain\n"  # stopped
    finally:
        await responder.stop()


async def test_a_peer_that_never_closes_is_dropped(start_server: StartServer) -> None:
    app = await start_server()
    assert app.announcer is not None
    responder = AgentCheck(app.announcer, app.lifecycle, "127.0.0.1", 0, timeout=0.2)
    await responder.start()
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", responder.port)
        line = await asyncio.wait_for(reader.readline(), timeout(5))
        assert line.startswith(b"up ready ")
        assert await asyncio.wait_for(reader.read(), timeout(5)) == b""  # our side's FIN
        await wait_until(lambda: not responder.connections)  # dropped though we never closed
        writer.close()
    finally:
        await responder.stop()
    with pytest.raises(RuntimeError):
        responder.port  # noqa: B018 (closed: no port)


async def test_agent_port_starts_and_stops_with_the_node(start_server: StartServer) -> None:
    app = await start_server(agent_port=0)
    assert app.agent is not None
    port = app.agent.port
    assert UP.fullmatch(await ask(port)) is not None
    await app.shutdown()
    with pytest.raises(OSError):
        await asyncio.open_connection("127.0.0.1", port)


async def test_a_node_whose_loop_lags_gets_a_lower_weight(
    agent: tuple[App, AgentCheck],
) -> None:
    app, responder = agent
    assert app.monitor is not None
    await app.monitor.next_sample()
    idle = await weight_now(responder.port)
    # A handler that holds the event loop (a blocking call in an app route, say) past the
    # monitor's next tick: the lag it measures weighs on the score.
    time.sleep(app.monitor.period + 0.3)  # noqa: ASYNC251 - blocking the loop is the point
    await wait_until(lambda: app.monitor.loop_lag >= 0.2, within=5)  # type: ignore[union-attr]
    lagging = await weight_now(responder.port)
    assert lagging < idle - 20  # 300 ms of lag: the lag term is at its cap
