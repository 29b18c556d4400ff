"""The Redis broker as two nodes see it: each its own RedisBroker on one real redis-server.

The contract suite (``test_contract.py``) runs against one instance; these check what only a
shared Redis gives: what one node publishes or dispatches reaches the other, and a client
recovers on the other node exactly what it missed on the first.
"""

from __future__ import annotations

import socket
import uuid
from collections.abc import AsyncIterator

import pytest

from switchboard.broker import Dispatch, DispatchKind, HistoryOptions, StreamPosition
from switchboard.broker.redis import RedisBroker
from switchboard.errors import BrokerUnavailable

from ..conftest import wait_until
from .recorder import Received

KEEP = HistoryOptions(size=100, ttl=60)
#: Two brokers on one Redis, as two nodes see it, each with what reached it.
TwoNodes = tuple[RedisBroker, Received, RedisBroker, Received]


@pytest.fixture
async def two_nodes(redis_url: str) -> AsyncIterator[TwoNodes]:
    prefix = f"t{uuid.uuid4().hex[:12]}:"
    a, b = RedisBroker(redis_url, prefix=prefix), RedisBroker(redis_url, prefix=prefix)
    node_a, node_b = Received(), Received()
    await a.start(node_a)
    await b.start(node_b)
    yield a, node_a, b, node_b
    await a.close()
    await b.close()


async def test_a_publication_on_one_node_reaches_the_other_in_order(
    two_nodes: TwoNodes,
) -> None:
    a, node_a, b, node_b = two_nodes
    await b.subscribe("room:1")
    for n in range(5):
        await a.publish("room:1", b'{"n":%d}' % n, KEEP)
    await wait_until(lambda: len(node_b.publications) == 5)
    assert [p.offset for p in node_b.publications] == [1, 2, 3, 4, 5]
    assert node_a.publications == []  # a did not subscribe
    assert len({p.epoch for p in node_b.publications}) == 1


async def test_a_client_recovers_on_the_other_node_exactly_what_it_missed(
    two_nodes: TwoNodes,
) -> None:
    a, _, b, _ = two_nodes
    await a.publish("room:1", b"1", KEEP)
    seen = await a.position("room:1")  # the client's last position, on node a
    for n in range(2, 6):
        await a.publish("room:1", b"%d" % n, KEEP)
    recovery = await b.recover("room:1", seen)  # it reconnects to node b
    assert recovery.recovered
    assert [p.data for p in recovery.publications] == [b"2", b"3", b"4", b"5"]
    assert recovery.position == StreamPosition(5, seen.epoch)


async def test_every_node_gets_every_dispatch(
    two_nodes: TwoNodes,
) -> None:
    a, node_a, _, node_b = two_nodes
    kick = Dispatch(DispatchKind.DISCONNECT, user="ann", code=4003, reason="kicked")
    await a.dispatch(kick)
    await wait_until(lambda: bool(node_a.dispatches and node_b.dispatches))
    assert node_a.dispatches == node_b.dispatches == [kick]


async def test_an_unreachable_redis_is_unavailable_without_the_url() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # nothing listens here once the socket closes
    broker = RedisBroker(f"redis://:secret-password@127.0.0.1:{port}/0")
    with pytest.raises(BrokerUnavailable) as refused:
        await broker.publish("room:1", b"1", KEEP)
    assert "secret-password" not in str(refused.value)
    assert str(port) not in str(refused.value)
    await broker.close()
