"""The coalescing outbox on a real event loop: one write per connection per pass, bounds."""

from __future__ import annotations

import asyncio
from typing import Any

from switchboard.core.connection import Connection
from switchboard.core.lifecycle import Phase
from switchboard.core.outbox import Outbox, SlowConsumerPolicy

from .fakes import next_loop_pass


class Sink:
    """Collects what the outbox writes, as a socket would receive it."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []

    @property
    def sink(self) -> Any:
        return self  # the core writes with sink.write

    def write(self, data: bytes) -> None:
        self.writes.append(data)

    def close(self, code: int, reason: str, *, fail: bool = False) -> None:
        pass

    def abort(self) -> None:
        pass


def make(
    limit: int = 1000, policy: SlowConsumerPolicy = SlowConsumerPolicy.DISCONNECT
) -> tuple[Outbox, list[Connection]]:
    slow: list[Connection] = []
    outbox = Outbox(asyncio.get_running_loop(), limit, policy, slow.append)
    return outbox, slow


def conn(name: str = "c") -> tuple[Connection, Sink]:
    sink = Sink()
    return Connection(name, sink, "test", 0.0), sink


async def test_frames_queued_in_one_pass_are_written_once_in_order() -> None:
    outbox, _ = make()
    a, sink_a = conn("a")
    b, sink_b = conn("b")
    for i in range(5):
        outbox.send(a, b"a%d" % i)
    outbox.send_many([a, b], b"both")
    assert sink_a.writes == []  # nothing is written before the loop pass ends
    await next_loop_pass()
    assert sink_a.writes == [b"a0a1a2a3a4both"]
    assert sink_b.writes == [b"both"]


async def test_paused_connection_keeps_frames_until_resumed() -> None:
    outbox, _ = make()
    a, sink = conn()
    outbox.pause(a)
    outbox.send(a, b"1")
    outbox.send(a, b"2")
    await next_loop_pass()
    assert sink.writes == []
    outbox.resume(a)
    await next_loop_pass()
    assert sink.writes == [b"12"]


async def test_overflow_disconnects_under_the_disconnect_policy() -> None:
    outbox, slow = make(limit=10)
    a, _sink = conn()
    outbox.pause(a)
    outbox.send(a, b"x" * 6)
    outbox.send(a, b"y" * 6)
    assert slow == [a]
    assert a.pending is None  # what waited is freed at once
    assert outbox.slow_consumers == 1


async def test_drop_oldest_discards_whole_frames_from_the_front() -> None:
    outbox, slow = make(limit=10, policy=SlowConsumerPolicy.DROP_OLDEST)
    a, sink = conn()
    outbox.pause(a)
    for frame in (b"aaaa", b"bbbb", b"cccc", b"dddd"):
        outbox.send(a, frame)
    assert slow == []
    assert a.pending == [b"cccc", b"dddd"]
    assert a.pending_bytes == 8
    assert outbox.dropped_frames == 2
    outbox.resume(a)
    await next_loop_pass()
    assert sink.writes == [b"ccccdddd"]


async def test_closing_connection_gets_nothing_more() -> None:
    outbox, _ = make()
    a, sink = conn()
    a.enter(Phase.CLOSING)
    outbox.send(a, b"late")
    await next_loop_pass()
    assert sink.writes == []
