"""The measured broker: failures counted by operation and raised, publish latency observed,
every call passed to the broker it wraps unchanged.

The broker underneath is the embedded one, made to fail on demand; no mocks, no sockets.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from time import perf_counter

import pytest

from switchboard.broker.base import (
    Broker,
    Dispatch,
    DispatchKind,
    HistoryOptions,
    Publication,
    Recovery,
    StreamPosition,
)
from switchboard.core.measured_broker import MeasuredBroker
from switchboard.core.stats import Stats
from switchboard.errors import BrokerUnavailable
from switchboard.protocol.codecs import DataFormat

from ..broker.flaky import FlakyBroker
from ..broker.recorder import Received
from .fakes import Client, make_node, next_loop_pass

KEEP = HistoryOptions(10, 60.0)


Call = Callable[[Broker], Awaitable[object]]

#: The operations a failure is counted under (docs/operations.md, broker_errors_total).
COUNTED: dict[str, Call] = {
    "publish": lambda b: b.publish("room:1", b"1", KEEP),
    "dispatch": lambda b: b.dispatch(Dispatch(DispatchKind.BROADCAST, data=b"1")),
    "subscribe": lambda b: b.subscribe("room:1"),
    "unsubscribe": lambda b: b.unsubscribe("room:1"),
    "recover": lambda b: b.recover("room:1", StreamPosition(0, "")),
}
#: Reads that are passed through as they are, failures included.
UNCOUNTED: dict[str, Call] = {
    "position": lambda b: b.position("room:1"),
    "history": lambda b: b.history("room:1", 5),
    "presence": lambda b: b.presence("room:1"),
}


def measured() -> tuple[MeasuredBroker, FlakyBroker, Stats]:
    inner, stats = FlakyBroker(), Stats()
    return MeasuredBroker(inner, stats), inner, stats


@pytest.mark.parametrize("operation", list(COUNTED))
async def test_a_failure_is_counted_under_its_operation_and_raised(operation: str) -> None:
    broker, inner, stats = measured()
    inner.failing.add(operation)
    for _ in range(2):
        with pytest.raises(BrokerUnavailable) as raised:
            await COUNTED[operation](broker)
        assert raised.value is inner.raised[-1]  # the broker's own error, not a new one
    assert stats.broker_errors == {operation: 2}
    inner.failing.clear()
    await COUNTED[operation](broker)
    assert stats.broker_errors == {operation: 2}  # a success counts nothing


@pytest.mark.parametrize("operation", list(UNCOUNTED))
async def test_a_failing_read_outside_the_counted_operations_passes_through(
    operation: str,
) -> None:
    broker, inner, stats = measured()
    inner.failing.add(operation)
    with pytest.raises(BrokerUnavailable) as raised:
        await UNCOUNTED[operation](broker)
    assert raised.value is inner.raised[-1]
    assert stats.broker_errors == {}


async def test_publish_latency_is_observed_for_each_successful_publish() -> None:
    broker, inner, stats = measured()
    inner.delay = 0.02  # the thing under test: a broker this slow to answer
    began = perf_counter()
    await broker.publish("room:1", b"1", KEEP)
    waited = perf_counter() - began
    assert sum(stats.broker_publish.counts) == 1
    # The broker's time, in seconds (the loop's timers may fire up to a millisecond early).
    assert 0.015 <= stats.broker_publish.sum <= waited
    inner.delay = 0.0
    inner.failing.add("publish")
    with pytest.raises(BrokerUnavailable):
        await broker.publish("room:1", b"2", KEEP)
    await broker.dispatch(Dispatch(DispatchKind.BROADCAST, data=b"1"))
    assert sum(stats.broker_publish.counts) == 1  # neither a failure nor a dispatch


async def test_every_call_reaches_the_broker_underneath_and_its_answer_comes_back() -> None:
    broker, inner, _ = measured()
    handler = Received(reach=3)
    await broker.start(handler)
    await broker.subscribe("room:1")
    position = await broker.publish("room:1", b"\xa1a", KEEP, DataFormat.MSGPACK)
    assert position == await inner.position("room:1") == StreamPosition(1, position.epoch)
    publication = Publication("room:1", 1, position.epoch, b"\xa1a", DataFormat.MSGPACK)
    assert handler.publications == [publication]  # delivered, in the publisher's format
    assert await broker.position("room:1") == position
    assert await broker.history("room:1", 5) == (position, [publication])
    since = StreamPosition(0, position.epoch)
    assert await broker.recover("room:1", since) == Recovery(True, position, [publication])
    dispatch = Dispatch(DispatchKind.DIRECT, connection="c-1", data=b"7")
    assert await broker.dispatch(dispatch) == 3  # the handler's answer
    assert handler.dispatches == [dispatch]
    await broker.add_presence("room:1", "c-1", {"user": "ann"})
    assert await broker.presence("room:1") == {"c-1": {"user": "ann"}}
    await broker.remove_presence("room:1", "c-1")
    assert await broker.presence("room:1") == {}
    assert broker.history_usage() == inner.history_usage()
    await broker.unsubscribe("room:1")
    await broker.publish("room:1", b"\xa1b", KEEP, DataFormat.MSGPACK)
    assert len(handler.publications) == 1  # no longer subscribed underneath
    await broker.close()
    assert await broker.dispatch(dispatch) == 0  # closed underneath: no handler any more


async def test_a_client_whose_publish_fails_gets_unavailable_and_the_failure_is_counted() -> None:
    stats = Stats()
    inner = FlakyBroker()
    node = make_node(broker=MeasuredBroker(inner, stats), stats=stats)
    inner.failing.add("publish")
    client = Client(node)
    client.send('{"type":"publish","channel":"room:1","data":1,"id":"p1"}')
    await next_loop_pass()
    error = client.messages()[-1]
    assert (error["type"], error["code"], error["id"]) == ("error", "UNAVAILABLE", "p1")
    assert stats.broker_errors == {"publish": 1}
