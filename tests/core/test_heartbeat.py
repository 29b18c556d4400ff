"""Heartbeat rounds on a real event loop with fake transports: spread, nonces, timeouts."""

from __future__ import annotations

import asyncio
from typing import Any

from switchboard.core.connection import Connection
from switchboard.core.heartbeat import CHUNK, Heartbeat
from switchboard.core.outbox import Outbox, SlowConsumerPolicy
from switchboard.core.registry import Registry
from switchboard.protocol.frames import Opcode

from ..conftest import wait_until
from ..rawclient import parse_server_frame


class Sink:
    """A socket that records when each write happened (loop time)."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.writes: list[tuple[float, bytes]] = []

    @property
    def sink(self) -> Any:
        return self  # the core writes with sink.write

    def write(self, data: bytes) -> None:
        self.writes.append((self.loop.time(), data))

    def close(self, code: int, reason: str, *, fail: bool = False) -> None:
        pass

    def abort(self) -> None:
        pass

    def received_bytes(self) -> int | None:
        return None


def setup(
    count: int, interval: float, ping_timeout: float
) -> tuple[Heartbeat, list[Connection], list[Connection]]:
    loop = asyncio.get_running_loop()
    registry = Registry()
    outbox = Outbox(loop, 1 << 20, SlowConsumerPolicy.DISCONNECT, lambda conn: None)
    timed_out: list[Connection] = []
    conns = []
    for i in range(count):
        conn = Connection(f"c-{i}", Sink(loop), "test", 0.0)
        registry.add(conn)
        conns.append(conn)
    heartbeat = Heartbeat(loop, registry, outbox, interval, ping_timeout, timed_out.append)
    return heartbeat, conns, timed_out


def pings(conn: Connection) -> list[tuple[float, bytes]]:
    sink = conn.transport
    assert isinstance(sink, Sink)
    return [(t, parse_server_frame(data).data) for t, data in sink.writes]


async def test_a_round_is_spread_over_the_interval_a_chunk_at_a_time() -> None:
    count = 4 * CHUNK
    heartbeat, conns, _ = setup(count, interval=0.4, ping_timeout=5)
    heartbeat.start()
    try:
        await wait_until(lambda: all(pings(c) for c in conns), 2.0)
    finally:
        heartbeat.stop()
    # Group the writes into ticks: writes of one tick are microseconds apart, ticks 0.1 s.
    ticks: list[list[float]] = []
    for t in sorted(pings(c)[0][0] for c in conns):
        if ticks and t - ticks[-1][-1] < 0.02:
            ticks[-1].append(t)
        else:
            ticks.append([t])
    # Four ticks, each pinging one chunk; never all connections in one loop pass.
    assert [len(tick) for tick in ticks] == [CHUNK] * 4
    assert ticks[-1][0] - ticks[0][0] >= 0.25  # about 3/4 of the interval, first to last


async def test_every_connection_gets_the_same_ping_with_a_nonce() -> None:
    heartbeat, conns, _ = setup(3, interval=0.05, ping_timeout=5)
    heartbeat.start()
    try:
        await wait_until(lambda: all(pings(c) for c in conns), 2.0)
    finally:
        heartbeat.stop()
    frames = [parse_server_frame(c.transport.writes[0][1]) for c in conns]  # type: ignore[attr-defined]
    assert len({(f.opcode, bytes(f.data)) for f in frames}) == 1
    assert frames[0].opcode == Opcode.PING and len(frames[0].data) == 8


async def test_only_a_pong_echoing_the_nonce_answers_the_ping() -> None:
    heartbeat, conns, timed_out = setup(3, interval=0.05, ping_timeout=0.3)
    honest, unsolicited, silent = conns
    heartbeat.pong(unsolicited, b"")  # before any ping: ignored, no effect
    heartbeat.start()
    try:
        await wait_until(lambda: all(pings(c) for c in conns), 2.0)
        heartbeat.pong(honest, pings(honest)[0][1])
        heartbeat.pong(unsolicited, b"")  # an unsolicited pong: not an answer
        heartbeat.pong(unsolicited, b"12345678")
        await wait_until(lambda: len(timed_out) >= 2, 2.0)
    finally:
        heartbeat.stop()
    assert honest not in timed_out
    assert unsolicited in timed_out and silent in timed_out


async def test_a_connection_that_keeps_answering_is_never_timed_out() -> None:
    heartbeat, (conn,), timed_out = setup(1, interval=0.05, ping_timeout=0.1)
    heartbeat.start()
    try:
        answered = 0
        while heartbeat.rounds < 8:
            await wait_until(lambda: bool(conn.ping_sent_at) or heartbeat.rounds >= 8)
            if conn.ping_sent_at:
                heartbeat.pong(conn, pings(conn)[-1][1])
                answered += 1
    finally:
        heartbeat.stop()
    assert answered >= 4
    assert timed_out == []
