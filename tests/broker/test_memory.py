"""What only the in-memory broker promises: it forgets idle channels, so memory stays bounded."""

from __future__ import annotations

from switchboard.broker import Dispatch, DispatchKind, HistoryOptions, MemoryBroker, Publication
from switchboard.broker.memory import IDLE_STREAM_TTL, SWEEP_EVERY


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_channels_used_once_are_swept_after_they_go_idle() -> None:
    clock = Clock()
    broker = MemoryBroker(clock=clock)
    for i in range(SWEEP_EVERY - 1):
        await broker.publish(f"user:{i}", b"1", HistoryOptions())
    assert len(broker._streams) == SWEEP_EVERY - 1
    clock.now += IDLE_STREAM_TTL + 1
    await broker.publish("busy", b"1", HistoryOptions())  # the sweep runs on this publication
    assert list(broker._streams) == ["busy"]


async def test_an_expired_channel_starts_a_new_epoch() -> None:
    clock = Clock()
    broker = MemoryBroker(clock=clock)
    first = await broker.publish("room:1", b"1", HistoryOptions(size=10, ttl=5))
    clock.now += IDLE_STREAM_TTL + 1
    second = await broker.publish("room:1", b"2", HistoryOptions(size=10, ttl=5))
    assert second.offset == 1
    assert second.epoch != first.epoch
    assert not (await broker.recover("room:1", first)).recovered


# --- the global history bound -------------------------------------------------------------

MB = 1024 * 1024
KEEP = HistoryOptions(size=100, ttl=300)


async def test_history_of_many_channels_stays_within_the_global_bound() -> None:
    """The attack: 1 MB publications to fresh channels nobody follows."""
    broker = MemoryBroker(max_history_bytes=8 * MB)
    for i in range(40):
        await broker.publish(f"spam:{i}", b"x" * MB, KEEP)
        assert broker.history_bytes <= 8 * MB
    usage = broker.history_usage()
    assert usage.limit == 8 * MB
    assert usage.evicted == 40 - 7  # each weighs a bit over 1 MB: 7 fit
    # The oldest went first: the last channels still hold theirs, the first ones not.
    _, last = await broker.history("spam:39", 10)
    _, first = await broker.history("spam:0", 10)
    assert len(last) == 1 and first == []


async def test_eviction_takes_the_oldest_publication_whichever_channel_holds_it() -> None:
    broker = MemoryBroker(max_history_bytes=3 * (1000 + 200 + 6))
    await broker.publish("room:a", b"a" * 1000, KEEP)
    await broker.publish("room:b", b"b" * 1000, KEEP)
    await broker.publish("room:a", b"A" * 1000, KEEP)
    await broker.publish("room:c", b"c" * 1000, KEEP)  # evicts room:a's first
    _, a = await broker.history("room:a", 10)
    _, b = await broker.history("room:b", 10)
    assert [p.offset for p in a] == [2]
    assert [p.offset for p in b] == [1]


async def test_a_client_whose_history_was_evicted_is_told_to_resync() -> None:
    broker = MemoryBroker(max_history_bytes=4000)
    start = await broker.position("room:1")
    for _ in range(10):
        await broker.publish("room:1", b"x" * 1000, KEEP)
    recovery = await broker.recover("room:1", start)
    assert not recovery.recovered  # never a silent gap
    assert recovery.position.offset == 10


async def test_the_eviction_queue_stays_bounded_when_channels_trim_themselves() -> None:
    """A busy channel with a small history drops its own oldest entries: the node-wide
    eviction queue must not keep one entry per publication ever made."""
    broker = MemoryBroker(max_history_bytes=64 * MB)
    small = HistoryOptions(size=10, ttl=300)
    for i in range(20_000):
        await broker.publish("busy", b"%d" % i, small)
    assert len(broker._kept) <= 2 * 10 + 1024
    _, kept = await broker.history("busy", 100)
    assert [p.offset for p in kept] == list(range(19_991, 20_001))


async def test_expired_channels_give_their_bytes_back() -> None:
    clock = Clock()
    broker = MemoryBroker(clock=clock, max_history_bytes=64 * MB)
    await broker.publish("room:1", b"x" * 1000, HistoryOptions(size=10, ttl=5))
    assert broker.history_bytes > 1000
    clock.now += IDLE_STREAM_TTL + 1
    _, kept = await broker.history("room:1", 10)
    assert kept == []
    assert broker.history_bytes == 0


class Counting:
    """A node whose handler reaches ``reach`` connections per dispatch."""

    def __init__(self, reach: int) -> None:
        self.reach = reach

    def on_publication(self, publication: Publication) -> None:
        pass

    def on_dispatch(self, dispatch: Dispatch) -> int:
        return self.reach


async def test_dispatch_answers_how_many_connections_the_node_reached() -> None:
    broker = MemoryBroker()
    kick = Dispatch(DispatchKind.DISCONNECT, connection="c-1", code=1000)
    assert await broker.dispatch(kick) == 0  # not started: no node to reach
    await broker.start(Counting(3))
    assert await broker.dispatch(kick) == 3
    await broker.close()
    assert await broker.dispatch(kick) == 0
