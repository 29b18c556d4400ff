"""The parts that bind ports, over real sockets on 127.0.0.1 port 0: the WebSocket listener
(its stop is the drain) and the control plane's port. Each is built as ``App.start`` builds
it (``_parts_of``), without the rest of the app."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest
import websockets
from websockets.exceptions import InvalidStatus

from switchboard import App, Settings
from switchboard.broker.base import HistoryOptions
from switchboard.broker.memory import MemoryBroker
from switchboard.core.channels import ChannelOptions
from switchboard.core.lifecycle import NodeLifecycle, NodeState
from switchboard.core.stats import Stats
from switchboard.parts import AdminPort, Listener
from switchboard.wiring import build_node, connection_capacity, handshake_gate

from .conftest import recv_json, timeout, wait_until
from .rawclient import RawClient


def settings(**overrides: Any) -> Settings:
    defaults = {"host": "127.0.0.1", "port": 0, "admin_port": 0, "drain_timeout": 1.0}
    return Settings(**{**defaults, **overrides})


def no_history(namespace: str) -> ChannelOptions:
    return ChannelOptions(history=HistoryOptions(0, 0.0))


async def listener_of(s: Settings) -> Listener:
    """A listener over a node with a started in-memory broker, as ``App.start`` makes one."""
    node = build_node(s, MemoryBroker(), no_history, Stats(), None)
    await node.broker.start(node.dispatches)
    capacity, _ = connection_capacity(s)
    return Listener(node, NodeLifecycle(), s, handshake_gate(s), capacity, None)


StartListener = Callable[..., Awaitable[Listener]]


@pytest.fixture
async def listening() -> AsyncIterator[StartListener]:
    """Start listeners with the given settings; each is stopped (drained) at teardown."""
    started: list[Listener] = []

    async def start(**overrides: Any) -> Listener:
        listener = await listener_of(settings(**overrides))
        await listener.start()
        started.append(listener)
        return listener

    yield start
    for listener in started:
        await listener.stop()


def url(listener: Listener, path: str = "/ws") -> str:
    return f"ws://127.0.0.1:{listener.port}{path}"


async def test_start_binds_a_port_that_greets_clients_on_the_configured_path() -> None:
    listener = await listener_of(settings(path="/socket", node_id="node-parts"))
    with pytest.raises(RuntimeError):
        listener.port  # noqa: B018 - not bound before start
    await listener.start()
    try:
        assert listener.port > 0
        async with websockets.connect(url(listener, "/socket")) as ws:
            welcome = await recv_json(ws)
        assert (welcome["type"], welcome["node"]) == ("welcome", "node-parts")
        with pytest.raises(InvalidStatus) as refused:
            await websockets.connect(url(listener, "/ws"))
        assert refused.value.response.status_code == 404
    finally:
        await listener.stop()


async def test_stop_closes_everyone_with_1012_and_a_reconnect_hint_then_stops_listening(
    listening: StartListener,
) -> None:
    listener = await listening()
    address = url(listener)
    ws = await websockets.connect(address)
    await recv_json(ws)
    await listener.stop()
    await asyncio.wait_for(ws.wait_closed(), timeout(5))
    assert ws.close_code == 1012
    hint = json.loads(ws.close_reason or "")
    assert 0 <= hint["reconnect_after_ms"] <= 1000  # a few clients: one wave, 1 s of jitter
    assert listener.aborted == 0  # it answered the close
    assert len(listener.node.registry) == 0
    with pytest.raises(OSError):  # refused: nothing listens any more
        await websockets.connect(address, open_timeout=timeout(5))


async def test_a_client_that_never_answers_the_close_is_dropped_at_the_drain_timeout(
    listening: StartListener,
) -> None:
    drain = timeout(0.3)
    # close_timeout above the drain: only the drain can end the silent client.
    listener = await listening(drain_timeout=drain, close_timeout=timeout(10))
    polite = await websockets.connect(url(listener))
    await recv_json(polite)
    silent = await RawClient.connect(listener.port)
    try:
        await wait_until(lambda: len(listener.node.registry) == 2)
        loop = asyncio.get_running_loop()
        began = loop.time()
        await listener.stop()
        assert loop.time() - began >= drain * 0.9  # it waited for the silent one
        assert listener.aborted == 1  # the silent one only
        assert (await asyncio.wait_for(silent.recv_until_close(), timeout(5))).code == 1012
        assert await silent.at_eof(timeout(5))  # then the server dropped it
        await asyncio.wait_for(polite.wait_closed(), timeout(5))
        assert polite.close_code == 1012
        assert len(listener.node.registry) == 0
    finally:
        silent.close()


def bindable(port: int) -> bool:
    """Whether a server could listen on ``port`` (one still listening there prevents it)."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


async def test_the_admin_port_is_bound_by_start_and_freed_by_stop() -> None:
    app = App(settings())  # the view the control plane reads; never started itself
    admin = AdminPort(app, app.settings)
    with pytest.raises(RuntimeError):
        admin.port  # noqa: B018 - not bound before start
    await admin.start()
    port = admin.port
    base = f"http://127.0.0.1:{port}"
    try:
        assert not bindable(port)
        async with httpx.AsyncClient(base_url=base, timeout=timeout(5)) as client:
            assert (await client.get("/health")).json() == {"status": "ok"}
            ready = await client.get("/ready")  # it reads the view: still starting
            assert (ready.status_code, ready.json()) == (503, {"status": "starting"})
    finally:
        await admin.stop()
    with pytest.raises(RuntimeError):
        admin.port  # noqa: B018 - no longer bound
    async with httpx.AsyncClient(base_url=base, timeout=timeout(5)) as client:
        with pytest.raises(httpx.ConnectError):
            await client.get("/health")
    assert bindable(port)
    await admin.stop()  # a second stop does nothing
    again = AdminPort(app, settings(admin_port=port))  # the same port, bound afresh
    await again.start()
    try:
        assert again.port == port
    finally:
        await again.stop()


async def test_the_drain_closes_in_waves_at_the_drain_rate_each_told_when_to_come_back(
    listening: StartListener,
) -> None:
    # 10 clients at 20 a second: 5 waves over 0.5 s; each close says when to reconnect.
    listener = await listening(drain_rate=20, drain_timeout=4)
    clients = [await websockets.connect(url(listener)) for _ in range(10)]
    for ws in clients:
        await recv_json(ws)
    loop = asyncio.get_running_loop()
    closed_at: list[float] = []

    async def watch(ws: Any) -> None:
        await ws.wait_closed()
        closed_at.append(loop.time())

    watchers = [asyncio.create_task(watch(ws)) for ws in clients]
    await listener.stop()
    await asyncio.wait_for(asyncio.gather(*watchers), timeout(5))
    assert {ws.close_code for ws in clients} == {1012}
    hints = [json.loads(ws.close_reason or "")["reconnect_after_ms"] for ws in clients]
    assert all(0 <= hint <= 1000 for hint in hints)
    assert len(set(hints)) > 1  # jittered, not one moment for all
    assert max(closed_at) - min(closed_at) >= 0.3  # spread out, not all at once


async def test_during_the_grace_new_clients_are_still_taken_then_refused(
    listening: StartListener,
) -> None:
    listener = await listening(drain_grace=timeout(1.0), drain_timeout=timeout(2))
    address = url(listener)
    silent = await RawClient.connect(listener.port)  # never answers: keeps the drain going
    try:
        listener.lifecycle.enter(NodeState.READY)
        listener.lifecycle.enter(NodeState.DRAINING)  # what App.shutdown does before the stop
        drain = asyncio.create_task(listener.stop())
        late = await websockets.connect(address)  # the balancer has not noticed yet
        assert (await recv_json(late))["type"] == "welcome"
        await asyncio.wait_for(late.wait_closed(), timeout(5))  # closed with the others
        assert late.close_code == 1012
        with pytest.raises(InvalidStatus) as refused:  # past the grace: refused
            await websockets.connect(address, open_timeout=timeout(5))
        assert refused.value.response.status_code == 503
        await drain
    finally:
        silent.close()
