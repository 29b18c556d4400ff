"""The broker contract: every Broker implementation must pass these (memory now, Redis later).

Delivery is awaited, never assumed to have happened when ``publish`` or ``dispatch``
returns: a cluster broker delivers through the network. To show that something was *not*
delivered, a marker is sent after it and awaited first.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Callable

import pytest

from switchboard.broker import (
    Broker,
    BrokerUnavailable,
    Dispatch,
    DispatchKind,
    HistoryOptions,
    MemoryBroker,
    Publication,
    StreamPosition,
)
from switchboard.broker.redis import RedisBroker, from_urls
from switchboard.protocol.codecs import DataFormat

from ..conftest import timeout, wait_until
from .recorder import Received

KEEP = HistoryOptions(size=5, ttl=60)
NONE = HistoryOptions()


def redis_broker(request: pytest.FixtureRequest) -> Broker:
    """A Redis broker on the tests' redis-server, under a prefix of its own per test."""
    url = request.getfixturevalue("redis_url")
    return RedisBroker(url, prefix=f"t{uuid.uuid4().hex[:12]}:")


def sharded_broker(request: pytest.FixtureRequest) -> Broker:
    """Channels spread over two redis-servers (dispatches on the first)."""
    urls = f"{request.getfixturevalue('redis_url')},{request.getfixturevalue('redis_url_2')}"
    return from_urls(urls, prefix=f"t{uuid.uuid4().hex[:12]}:")


BrokerFactory = Callable[[pytest.FixtureRequest], Broker]
FACTORIES: dict[str, BrokerFactory] = {
    "memory": lambda _: MemoryBroker(),
    "redis": redis_broker,
    "redis-sharded": sharded_broker,
}


@pytest.fixture(params=sorted(FACTORIES))
async def broker(request: pytest.FixtureRequest) -> AsyncIterator[tuple[Broker, Received]]:
    instance = FACTORIES[request.param](request)
    received = Received()
    await instance.start(received)
    yield instance, received
    await instance.close()


async def publish_n(broker: Broker, channel: str, n: int, history: HistoryOptions) -> None:
    for i in range(n):
        await broker.publish(channel, b'{"n":%d}' % i, history)


async def test_offsets_start_at_one_and_increase_in_one_epoch(
    broker: tuple[Broker, Received],
) -> None:
    b, _ = broker
    positions = [await b.publish("room:1", b"1", KEEP) for _ in range(3)]
    assert [p.offset for p in positions] == [1, 2, 3]
    assert len({p.epoch for p in positions}) == 1
    assert await b.position("room:1") == positions[-1]
    other = await b.position("room:2")
    assert other.offset == 0


async def test_only_subscribed_channels_are_delivered_in_order(
    broker: tuple[Broker, Received],
) -> None:
    b, received = broker
    await b.subscribe("room:1")
    await b.subscribe("marker")
    await publish_n(b, "room:1", 3, KEEP)
    await publish_n(b, "room:2", 2, KEEP)
    await wait_until(lambda: len(received.publications) == 3)
    await b.unsubscribe("room:1")
    await publish_n(b, "room:1", 1, KEEP)
    await b.publish("marker", b"{}", NONE)
    await wait_until(lambda: received.publications[-1].channel == "marker")
    assert [(p.channel, p.offset, p.data) for p in received.publications] == [
        ("room:1", 1, b'{"n":0}'),
        ("room:1", 2, b'{"n":1}'),
        ("room:1", 3, b'{"n":2}'),
        ("marker", 1, b"{}"),
    ]


async def test_recovery_returns_exactly_what_was_missed(broker: tuple[Broker, Received]) -> None:
    b, _ = broker
    await publish_n(b, "room:1", 2, KEEP)
    seen = await b.position("room:1")
    await publish_n(b, "room:1", 3, KEEP)
    recovery = await b.recover("room:1", seen)
    assert recovery.recovered
    assert [p.offset for p in recovery.publications] == [3, 4, 5]
    assert [p.data for p in recovery.publications] == [b'{"n":0}', b'{"n":1}', b'{"n":2}']
    assert recovery.position == StreamPosition(5, seen.epoch)


async def test_recovery_at_the_top_is_recovered_with_nothing(
    broker: tuple[Broker, Received],
) -> None:
    b, _ = broker
    await publish_n(b, "room:1", 4, KEEP)
    top = await b.position("room:1")
    recovery = await b.recover("room:1", top)
    assert recovery.recovered
    assert recovery.publications == []


async def test_gap_older_than_history_is_not_recovered(broker: tuple[Broker, Received]) -> None:
    b, _ = broker
    await publish_n(b, "room:1", 1, KEEP)
    seen = await b.position("room:1")
    await publish_n(b, "room:1", KEEP.size + 1, KEEP)  # offset 2 has been pushed out
    recovery = await b.recover("room:1", seen)
    assert not recovery.recovered
    assert recovery.publications == []
    assert recovery.position.offset == KEEP.size + 2
    # One step later the history still reaches back far enough.
    just_in = StreamPosition(seen.offset + 1, seen.epoch)
    assert (await b.recover("room:1", just_in)).recovered


async def test_wrong_epoch_or_future_offset_is_not_recovered(
    broker: tuple[Broker, Received],
) -> None:
    b, _ = broker
    await publish_n(b, "room:1", 3, KEEP)
    top = await b.position("room:1")
    assert not (await b.recover("room:1", StreamPosition(1, "another-epoch"))).recovered
    assert not (await b.recover("room:1", StreamPosition(top.offset + 5, top.epoch))).recovered


async def test_expired_history_is_not_recovered(broker: tuple[Broker, Received]) -> None:
    b, _ = broker
    short = HistoryOptions(size=10, ttl=0.2)
    await publish_n(b, "room:1", 1, short)
    seen = await b.position("room:1")
    await publish_n(b, "room:1", 2, short)
    await asyncio.sleep(timeout(0.4))  # the thing under test: the 0.2 s TTL runs out
    recovery = await b.recover("room:1", seen)
    assert not recovery.recovered


async def test_channel_without_history_counts_offsets_but_recovers_nothing(
    broker: tuple[Broker, Received],
) -> None:
    b, _ = broker
    await publish_n(b, "live:1", 1, NONE)
    seen = await b.position("live:1")
    await publish_n(b, "live:1", 2, NONE)
    assert (await b.position("live:1")).offset == 3
    assert not (await b.recover("live:1", seen)).recovered
    assert (await b.recover("live:1", await b.position("live:1"))).recovered


async def test_presence_tracks_members_per_channel(broker: tuple[Broker, Received]) -> None:
    b, _ = broker
    await b.add_presence("room:1", "c-1", {"user": "ann"})
    await b.add_presence("room:1", "c-2", {"user": "bob"})
    await b.add_presence("room:2", "c-1", {"user": "ann"})
    assert await b.presence("room:1") == {"c-1": {"user": "ann"}, "c-2": {"user": "bob"}}
    await b.remove_presence("room:1", "c-1")
    await b.remove_presence("room:1", "c-1")  # idempotent
    assert await b.presence("room:1") == {"c-2": {"user": "bob"}}
    assert await b.presence("room:2") == {"c-1": {"user": "ann"}}
    assert await b.presence("empty") == {}


#: One of each kind, with the values a cluster broker must carry across intact: a user that
#: is not a string, MessagePack data, a reason outside ASCII.
EVERY_KIND = [
    Dispatch(DispatchKind.BROADCAST, data=b'{"all":true}'),
    Dispatch(
        DispatchKind.DIRECT,
        user=42,
        sender="c-1",
        sender_user="ann",
        data=b"\x81\xa1a\x01",
        data_format=DataFormat.MSGPACK,
    ),
    Dispatch(DispatchKind.DIRECT, connection="c-2", sender="server", data=b"7"),
    Dispatch(DispatchKind.DISCONNECT, connection="c-3", code=4003, reason="kicked \u00e9"),
    Dispatch(DispatchKind.DISCONNECT, user="bob", code=1000),
    Dispatch(DispatchKind.JOIN, channel="room:1", sender="c-1", sender_user="ann"),
    Dispatch(DispatchKind.LEAVE, channel="room:1", sender="c-1", sender_user=None),
]


async def test_dispatches_reach_the_handler_intact_and_in_order(
    broker: tuple[Broker, Received],
) -> None:
    b, received = broker
    # The node holds the targets (a cluster broker routes to the nodes that do).
    for conn_id, user in (("c-2", None), ("c-3", None), ("c-4", 42), ("c-5", "bob")):
        b.connected(conn_id, user)
    await asyncio.sleep(0)  # registrations are written with the next loop pass
    for dispatch in EVERY_KIND:
        await b.dispatch(dispatch)
    await wait_until(lambda: len(received.dispatches) >= len(EVERY_KIND))
    assert received.dispatches == EVERY_KIND


async def test_dispatches_need_no_subscription_and_stay_out_of_channels(
    broker: tuple[Broker, Received],
) -> None:
    b, received = broker
    await b.subscribe("room:1")
    await b.dispatch(Dispatch(DispatchKind.JOIN, channel="room:1", sender="c-1"))
    await b.publish("room:1", b"1", KEEP)
    await wait_until(lambda: bool(received.dispatches and received.publications))
    assert [p.offset for p in received.publications] == [1]  # the join took no offset
    assert (await b.history("room:1", 10))[1] == received.publications


async def test_nothing_arrives_after_close(broker: tuple[Broker, Received]) -> None:
    b, received = broker
    await b.subscribe("room:1")
    await b.close()
    with contextlib.suppress(BrokerUnavailable):  # a closed cluster broker may refuse
        await b.dispatch(Dispatch(DispatchKind.BROADCAST, data=b"1"))
        await b.publish("room:1", b"1", KEEP)
    await asyncio.sleep(timeout(0.2))  # the thing under test: nothing comes, even later
    assert received.dispatches == [] and received.publications == []


def offsets(page: tuple[StreamPosition, list[Publication]]) -> list[int]:
    return [p.offset for p in page[1]]


async def test_history_pages_forward_and_back_from_an_exclusive_offset(
    broker: tuple[Broker, Received],
) -> None:
    b, _ = broker
    await publish_n(b, "room:1", 7, KEEP)  # offsets 1-7, the last 5 (3-7) kept
    assert offsets(await b.history_page("room:1", 3)) == [5, 6, 7]
    assert offsets(await b.history_page("room:1", 3, reverse=True)) == [7, 6, 5]
    assert offsets(await b.history_page("room:1", 2, since=0)) == [3, 4]
    assert offsets(await b.history_page("room:1", 2, since=4)) == [5, 6]
    assert offsets(await b.history_page("room:1", 10, since=6)) == [7]
    assert offsets(await b.history_page("room:1", 10, since=7)) == []
    assert offsets(await b.history_page("room:1", 2, since=6, reverse=True)) == [5, 4]
    assert offsets(await b.history_page("room:1", 10, since=4, reverse=True)) == [3]
    assert offsets(await b.history_page("room:1", 0, since=0)) == []
    position, page = await b.history_page("room:1", 1, since=6)
    assert position == await b.position("room:1")
    assert page[0].data == b'{"n":6}' and page[0].epoch == position.epoch
    assert await b.history_page("room:none", 5, since=0) == (StreamPosition(0, ""), [])


async def test_history_pages_leave_out_expired_publications(
    broker: tuple[Broker, Received],
) -> None:
    b, _ = broker
    await publish_n(b, "room:1", 3, HistoryOptions(size=10, ttl=0.05))
    await publish_n(b, "room:1", 2, HistoryOptions(size=10, ttl=60))
    await asyncio.sleep(0.1)  # the first three expire
    assert offsets(await b.history_page("room:1", 2, since=0)) == [4, 5]
    assert offsets(await b.history_page("room:1", 5, since=5, reverse=True)) == [4]


async def test_a_key_is_claimed_once_until_settled_away_or_expired(
    broker: tuple[Broker, Received],
) -> None:
    b, _ = broker
    key = f"k-{uuid.uuid4().hex}"
    assert await b.claim(key, b"pending", 60) is None
    assert await b.claim(key, b"other", 60) == b"pending"
    await b.settle(key, b"result", 60)
    assert await b.claim(key, b"other", 60) == b"result"
    await b.settle(key, None, 60)
    assert await b.claim(key, b"again", 0.05) is None
    assert await b.claim(f"{key}-2", b"another key", 60) is None
    await asyncio.sleep(0.1)
    assert await b.claim(key, b"after expiry", 60) is None
    assert await b.claim(key, b"x", 60) == b"after expiry"
