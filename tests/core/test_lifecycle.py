"""Lifecycles: the transition tables, the connection's phases through a node, and the
node's parts started in order and stopped in reverse."""

from __future__ import annotations

import asyncio
import socket

import pytest

from switchboard import App
from switchboard.broker import BrokerHandler, MemoryBroker
from switchboard.config import Settings
from switchboard.core.lifecycle import (
    NODE_STATES,
    PHASES,
    NodeLifecycle,
    NodeState,
    Part,
    Parts,
    Phase,
)
from switchboard.errors import LifecycleError, Reject

from ..conftest import wait_until
from .fakes import Client, make_node


class WatchedBroker(MemoryBroker):
    def __init__(self) -> None:
        super().__init__()
        self.calls: list[str] = []

    async def start(self, handler: BrokerHandler) -> None:
        self.calls.append("start")
        await super().start(handler)

    async def close(self) -> None:
        self.calls.append("close")
        await super().close()


def test_every_state_can_end_and_nothing_leaves_the_end() -> None:
    for table, end in ((PHASES, Phase.CLOSED), (NODE_STATES, NodeState.STOPPED)):
        assert table[end] == frozenset()
        for state, onward in table.items():
            assert state not in onward  # no transition to itself
            assert state == end or end in onward or any(end in table[s] for s in onward)


async def test_a_connection_goes_opening_open_closing_closed() -> None:
    node = make_node()
    deciding = asyncio.Event()

    async def hook(conn: object) -> None:
        await deciding.wait()

    node.connect_hook = hook
    client = Client(node)
    conn = client.conn
    assert conn.phase is Phase.OPENING and not conn.accepted
    deciding.set()
    await wait_until(lambda: conn.phase is Phase.OPEN)
    assert conn.phase is Phase.OPEN and conn.accepted and not conn.closing
    node.close(conn, 1000)
    assert conn.phase is Phase.CLOSING and conn.closing
    node.close(conn, 1000)  # a second close changes nothing
    client.gone()
    assert conn.phase is Phase.CLOSED
    client.gone()  # nor does a second report of the socket's end
    assert conn not in list(node.registry)


async def test_a_refused_connection_is_never_open() -> None:
    node = make_node()

    def refuse(conn: object) -> None:
        raise Reject(4000, "no")

    node.connect_hook = refuse
    client = Client(node)
    assert client.conn.phase is Phase.CLOSING and not client.conn.accepted
    with pytest.raises(LifecycleError):
        client.conn.enter(Phase.OPEN)


def test_the_node_state_refuses_what_its_table_lacks() -> None:
    lifecycle = NodeLifecycle()
    assert not lifecycle.ready and not lifecycle.draining
    with pytest.raises(LifecycleError, match="STARTING -> DRAINING"):
        lifecycle.enter(NodeState.DRAINING)
    lifecycle.enter(NodeState.READY)
    assert lifecycle.ready
    lifecycle.enter(NodeState.DRAINING)
    assert lifecycle.draining and not lifecycle.ready
    lifecycle.enter(NodeState.STOPPED)
    assert lifecycle.draining  # still refusing connections
    with pytest.raises(LifecycleError):
        lifecycle.enter(NodeState.READY)


def recording(log: list[str], name: str, *, fail_start: bool = False) -> Part:
    async def start() -> None:
        if fail_start:
            raise OSError(f"{name} cannot start")
        log.append(f"start {name}")

    async def stop() -> None:
        log.append(f"stop {name}")
        if name == "b":
            raise RuntimeError("b cannot stop")

    return Part(name, start, stop)


async def test_parts_stop_in_reverse_and_a_failing_stop_stops_no_other() -> None:
    log: list[str] = []
    parts = Parts([recording(log, n) for n in "abc"])
    await parts.start()
    await parts.stop()
    assert log == ["start a", "start b", "start c", "stop c", "stop b", "stop a"]
    await parts.stop()  # nothing is stopped twice
    assert len(log) == 6


async def test_a_part_that_cannot_start_stops_those_before_it() -> None:
    log: list[str] = []
    parts = Parts([recording(log, "a"), recording(log, "x", fail_start=True), recording(log, "c")])
    with pytest.raises(OSError, match="x cannot start"):
        await parts.start()
    assert log == ["start a", "stop a"]


async def test_an_app_whose_admin_port_is_taken_stops_what_it_started() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        app = App(Settings(host="127.0.0.1", port=0, admin_port=port))
        broker = app.broker = WatchedBroker()
        with pytest.raises(OSError):
            await app.start()
    assert app.lifecycle.state is NodeState.STOPPED
    assert app.node is None
    assert broker.calls == ["start", "close"]  # started before the admin port, then closed
    with pytest.raises(RuntimeError, match="starts once"):
        await app.start()
