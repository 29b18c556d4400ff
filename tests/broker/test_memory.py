"""What only the in-memory broker promises: it forgets idle channels, so memory stays bounded."""

from __future__ import annotations

from switchboard.broker import HistoryOptions, MemoryBroker
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
