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


# --- fan-outs: one shared list for every connection of a broadcast ------------------------------


async def test_fan_outs_to_the_same_connections_share_one_list_and_one_join() -> None:
    outbox, _ = make()
    pairs = [conn(name) for name in "abc"]
    conns = [c for c, _ in pairs]
    for i in range(3):
        outbox.send_many(list(conns), b"f%d" % i)  # a new list each time, as callers make
    assert conns[0].pending is conns[1].pending is conns[2].pending
    await next_loop_pass()
    writes = [sink.writes for _, sink in pairs]
    assert writes == [[b"f0f1f2"]] * 3
    assert writes[0][0] is writes[1][0] is writes[2][0]  # joined once, the same bytes for all
    assert outbox.frames_written == 9
    assert outbox.bytes_written == 18


async def test_a_reply_between_fan_outs_keeps_each_connections_order() -> None:
    outbox, _ = make()
    (a, sink_a), (b, sink_b) = conn("a"), conn("b")
    outbox.send_many([a, b], b"1")
    outbox.send(a, b"r")  # a copies the shared list, then goes on by itself
    outbox.send_many([a, b], b"2")
    outbox.send(b, b"s")
    outbox.send_many([a, b], b"3")
    await next_loop_pass()
    assert sink_a.writes == [b"1r23"]
    assert sink_b.writes == [b"12s3"]


async def test_fan_outs_to_overlapping_audiences_interleave_correctly() -> None:
    outbox, _ = make()
    (a, sink_a), (b, sink_b), (c, sink_c) = conn("a"), conn("b"), conn("c")
    outbox.send_many([a, b], b"1")
    outbox.send_many([b, c], b"2")
    outbox.send_many([a, b], b"3")
    outbox.send_many([a, b], b"4")
    outbox.send_many([a, b, c], b"5")
    await next_loop_pass()
    assert sink_a.writes == [b"1345"]
    assert sink_b.writes == [b"12345"]
    assert sink_c.writes == [b"25"]


async def test_a_paused_member_keeps_the_shared_frames_and_is_bounded() -> None:
    outbox, slow = make(limit=10)
    (a, sink_a), (b, sink_b) = conn("a"), conn("b")
    outbox.pause(b)
    outbox.send_many([a, b], b"xxxx")
    await next_loop_pass()
    outbox.send_many([a, b], b"yyyy")
    outbox.send(a, b"!")  # a's own frame must not reach b through a shared list
    await next_loop_pass()
    assert sink_a.writes == [b"xxxx", b"yyyy!"]
    assert outbox.backlog() == (1, 8)
    outbox.send_many([a, b], b"zzzz")  # b: 12 bytes waiting > 10
    assert slow == [b]
    assert b.pending is None
    await next_loop_pass()
    assert sink_a.writes == [b"xxxx", b"yyyy!", b"zzzz"]
    assert sink_b.writes == []


async def test_drop_oldest_applies_to_a_shared_list_holder() -> None:
    outbox, slow = make(limit=10, policy=SlowConsumerPolicy.DROP_OLDEST)
    (a, sink_a), (b, sink_b) = conn("a"), conn("b")
    outbox.pause(b)
    for frame in (b"aaaa", b"bbbb", b"cccc", b"dddd"):
        outbox.send_many([a, b], frame)
    assert slow == []
    assert b.pending == [b"cccc", b"dddd"]
    assert outbox.dropped_frames == 4  # two for each of a and b, in the same pass
    outbox.send_many([a, b], b"eeee")
    outbox.resume(b)
    await next_loop_pass()
    assert sink_a.writes == [b"ddddeeee"]
    assert sink_b.writes == [b"ddddeeee"]


async def test_frames_for_a_held_connection_are_kept_aside_during_a_fan_out() -> None:
    outbox, _ = make()
    (a, sink_a), (b, sink_b) = conn("a"), conn("b")
    outbox.send_many([a, b], b"1")
    saved = outbox.hold(a)
    outbox.send_many([a, b], b"2")
    held = outbox.release(a, saved)
    outbox.send_many([a, b], b"3")
    assert held == [b"2"]
    for frame in held:
        outbox.send(a, frame)
    await next_loop_pass()
    assert sink_a.writes == [b"132"]
    assert sink_b.writes == [b"123"]
