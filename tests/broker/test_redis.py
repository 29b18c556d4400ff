"""The Redis broker as two nodes see it: each its own RedisBroker on one real redis-server.

The contract suite (``test_contract.py``) runs against one instance; these check what only a
shared Redis gives: what one node publishes or dispatches reaches the other, dispatches go
to the nodes that hold their target, a client recovers on the other node exactly what it
missed on the first, and a node whose PUB/SUB link drops misses nothing.
"""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections.abc import AsyncIterator

import msgspec
import pytest
import redis.asyncio as aioredis

from switchboard.broker import Dispatch, DispatchKind, HistoryOptions, StreamPosition
from switchboard.broker.base import NodeInfo
from switchboard.broker.redis import RedisBroker
from switchboard.errors import BrokerUnavailable

from ..conftest import timeout, wait_until
from .recorder import Received

KEEP = HistoryOptions(size=100, ttl=60)
#: Two brokers on one Redis, as two nodes see it, each with what reached it.
TwoNodes = tuple[RedisBroker, Received, RedisBroker, Received]


@pytest.fixture
async def two_nodes(redis_url: str) -> AsyncIterator[TwoNodes]:
    prefix = f"t{uuid.uuid4().hex[:12]}:"
    a = RedisBroker(redis_url, prefix=prefix, registry_ttl=1.0)
    b = RedisBroker(redis_url, prefix=prefix, registry_ttl=1.0)
    node_a, node_b = Received(), Received()
    await a.start(node_a)
    await b.start(node_b)
    yield a, node_a, b, node_b
    await a.close()
    await b.close()


async def written(*brokers: RedisBroker) -> None:
    """Until what each broker queued is in Redis (one node's writes are ordered; two nodes'
    are not, so a test that reads on one what another wrote waits for this)."""
    await asyncio.gather(*(b._batch.command("PING") for b in brokers))


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


async def test_publications_of_one_loop_pass_share_one_round_trip(
    two_nodes: TwoNodes,
) -> None:
    a, _, b, node_b = two_nodes
    await b.subscribe("room:1")
    before = a._batch.pipelines
    positions = await asyncio.gather(*(a.publish("room:1", b"%d" % n, KEEP) for n in range(50)))
    assert [p.offset for p in positions] == list(range(1, 51))
    assert a._batch.pipelines - before <= 2
    await wait_until(lambda: len(node_b.publications) == 50)
    assert [p.data for p in node_b.publications] == [b"%d" % n for n in range(50)]


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


async def test_broadcasts_reach_every_node_and_count_every_connection(
    two_nodes: TwoNodes,
) -> None:
    a, node_a, b, node_b = two_nodes
    a.connected("c-a1", None)
    b.connected("c-b1", "ann")
    b.connected("c-b2", None)
    await written(a, b)
    hello = Dispatch(DispatchKind.BROADCAST, data=b'"hi"')
    assert await a.dispatch(hello) == 3
    await wait_until(lambda: bool(node_a.dispatches and node_b.dispatches))
    assert node_a.dispatches == node_b.dispatches == [hello]


async def test_a_direct_message_goes_only_to_the_nodes_that_hold_its_target(
    two_nodes: TwoNodes,
) -> None:
    a, node_a, b, node_b = two_nodes
    a.connected("c-a1", "ann")
    b.connected("c-b1", "ann")
    b.connected("c-b2", 42)
    await written(a, b)
    to_ann = Dispatch(DispatchKind.DIRECT, user="ann", data=b"1")
    to_42 = Dispatch(DispatchKind.DIRECT, user=42, data=b"2")
    to_b2 = Dispatch(DispatchKind.DISCONNECT, connection="c-b2", code=4000)
    assert await a.dispatch(to_ann) == 2
    assert await a.dispatch(to_42) == 1
    assert await a.dispatch(Dispatch(DispatchKind.DIRECT, user="42", data=b"x")) == 0
    assert await a.dispatch(to_b2) == 1
    assert await a.dispatch(Dispatch(DispatchKind.DIRECT, connection="c-none")) == 0
    await wait_until(lambda: len(node_b.dispatches) == 3)
    assert node_b.dispatches == [to_ann, to_42, to_b2]
    assert node_a.dispatches == [to_ann]


async def test_a_connection_that_closed_or_whose_node_stopped_is_not_found(
    two_nodes: TwoNodes,
) -> None:
    a, _, b, _ = two_nodes
    b.connected("c-b1", "ann")
    b.connected("c-b2", "ann")
    b.disconnected("c-b1")
    await written(b)
    assert await a.dispatch(Dispatch(DispatchKind.DIRECT, user="ann")) == 1
    assert await a.dispatch(Dispatch(DispatchKind.DIRECT, connection="c-b1")) == 0
    await b.close()  # a clean stop leaves the registry at once
    assert await a.dispatch(Dispatch(DispatchKind.DIRECT, user="ann")) == 0


async def test_a_node_that_stops_refreshing_drops_out_within_its_ttl(
    two_nodes: TwoNodes,
) -> None:
    a, _, b, _ = two_nodes
    b.connected("c-b1", "ann")
    await written(b)
    assert await a.dispatch(Dispatch(DispatchKind.DIRECT, user="ann")) == 1
    refresher = b.registry._refresher
    assert refresher is not None
    refresher.cancel()
    await asyncio.sleep(timeout(1.2))  # the TTL (1 s) under test
    assert await a.dispatch(Dispatch(DispatchKind.DIRECT, user="ann")) == 0


async def test_a_node_rewrites_its_entries_when_redis_lost_them(
    two_nodes: TwoNodes, redis_url: str
) -> None:
    a, _, b, _ = two_nodes
    b.connected("c-b1", "ann")
    await written(b)
    assert await a.dispatch(Dispatch(DispatchKind.DIRECT, user="ann")) == 1
    client = aioredis.from_url(redis_url)
    try:
        await client.delete(*[key async for key in client.scan_iter(f"{b.prefix}{{registry}}*")])
    finally:
        await client.aclose()
    assert await a.dispatch(Dispatch(DispatchKind.DIRECT, user="ann")) == 0
    # The next refresh (every ttl / 3) finds the node missing and writes it all again.
    deadline = asyncio.get_running_loop().time() + timeout(2.0)
    while await a.dispatch(Dispatch(DispatchKind.DIRECT, user="ann")) != 1:
        assert asyncio.get_running_loop().time() < deadline, "node b never wrote itself again"
        await asyncio.sleep(0.05)  # the poll interval


async def test_presence_of_a_node_that_stopped_vouching_expires(
    two_nodes: TwoNodes,
) -> None:
    a, _, b, _ = two_nodes
    await a.add_presence("room:1", "c-a1", {"user": "ann"})
    await b.add_presence("room:1", "c-b1", {"user": "bob"})
    assert set(await a.presence("room:1")) == {"c-a1", "c-b1"}
    refresher = b._presence_refresher
    assert refresher is not None
    refresher.cancel()
    await asyncio.sleep(timeout(1.2))
    assert set(await a.presence("room:1")) == {"c-a1"}  # a kept vouching for its member


async def test_a_dropped_pubsub_link_misses_nothing(two_nodes: TwoNodes, redis_url: str) -> None:
    a, _, b, node_b = two_nodes
    await b.subscribe("room:1")
    await a.publish("room:1", b"0", KEEP)
    await wait_until(lambda: len(node_b.publications) == 1)
    client = aioredis.from_url(redis_url)
    try:
        await client.client_kill_filter(_type="pubsub")  # every node's link drops
        for n in range(1, 30):  # published while b reconnects, and after
            await a.publish("room:1", b"%d" % n, KEEP)
    finally:
        await client.aclose()
    await wait_until(lambda: len(node_b.publications) >= 30, within=15)  # reconnect, catch up
    await asyncio.sleep(timeout(0.2))  # nothing twice, even later
    assert [p.data for p in node_b.publications] == [b"%d" % n for n in range(30)]
    assert b.link.restores == 1


async def test_an_unreachable_redis_is_unavailable_without_the_url() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # nothing listens here once the socket closes
    broker = RedisBroker(f"redis://:secret-password@127.0.0.1:{port}/0")
    with pytest.raises(BrokerUnavailable) as refused:
        await broker.publish("room:1", b"1", KEEP)
    assert "secret-password" not in str(refused.value)
    assert str(port) not in str(refused.value)
    with pytest.raises(BrokerUnavailable) as refused:
        await broker.start(Received())
    assert "secret-password" not in str(refused.value)
    await broker.close()


async def test_a_broker_opened_only_to_read_writes_nothing_when_closed(redis_url: str) -> None:
    reader = RedisBroker(redis_url, prefix=f"t{uuid.uuid4().hex[:12]}:")  # switchboard nodes
    assert await reader.nodes() == []
    calls = reader._batch.calls
    await reader.close()
    assert reader._batch.calls == calls  # no leaving a registry it never joined


async def test_a_node_s_load_reaches_the_registry_at_each_announce(two_nodes: TwoNodes) -> None:
    a, _, b, _ = two_nodes
    entry = NodeInfo(node_id="a", url="ws://a/ws", state="ready", connections=1)
    a.announce(entry)
    assert a._announcing is not None
    await a._announcing  # the refresh a new state starts, done
    a.announce(msgspec.structs.replace(entry, connections=5))  # the same state: no refresh
    await written(a)
    assert [(n.node_id, n.connections) for n in await b.nodes()] == [("a", 5)]
