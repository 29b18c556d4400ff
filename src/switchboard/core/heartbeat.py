"""Keepalive: rounds of pings spread over the interval; a pong must echo the round's nonce.

No timer per connection. Every ``interval`` seconds a round starts: it takes the list of
open connections and pings them ``CHUNK`` at a time, the chunks spread evenly over the
interval, so one tick costs a bystander a few hundred writes at most, whatever the number
of connections (20,000 pinged in one go held the loop 300 ms). ``timeout`` seconds after a
chunk was pinged, the connections of that chunk still waiting for their pong are reported.

Each round's ping carries a random nonce, framed once for everyone. Only a pong echoing it
(RFC 6455 5.5.3: a pong carries the ping's data) answers the ping: a client that never
reads cannot keep itself alive with unsolicited pongs.
"""

from __future__ import annotations

import asyncio
import math
import secrets
from collections.abc import Callable
from functools import partial

from ..protocol.frames import Opcode, encode_frame
from .connection import Connection
from .outbox import Outbox
from .registry import Registry

#: Connections pinged per tick of a round.
CHUNK = 256
#: Bytes of random nonce in each round's ping.
NONCE_BYTES = 8


class Heartbeat:
    """Pings all connections periodically and reports the ones that stopped answering."""

    __slots__ = (
        "_handles",
        "_loop",
        "_nonces",
        "_on_timeout",
        "interval",
        "outbox",
        "registry",
        "rounds",
        "timeout",
    )

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        registry: Registry,
        outbox: Outbox,
        interval: float,
        timeout: float,
        on_timeout: Callable[[Connection], None],
    ) -> None:
        self._loop = loop
        self.registry = registry
        self.outbox = outbox
        self.interval = interval
        self.timeout = timeout
        self._on_timeout = on_timeout
        self._handles: set[asyncio.TimerHandle] = set()
        #: Round start (the ``ping_sent_at`` of its connections) -> that round's nonce, for
        #: the rounds whose pings may still be answered.
        self._nonces: dict[float, bytes] = {}
        self.rounds = 0

    def start(self) -> None:
        if self.interval > 0:
            self._later(self.interval, self._ping_round)

    def stop(self) -> None:
        for handle in self._handles:
            handle.cancel()
        self._handles.clear()

    def pong(self, conn: Connection, payload: bytes) -> None:
        """A pong arrived: it answers the outstanding ping if it carries that ping's nonce."""
        sent_at = conn.ping_sent_at
        if sent_at and self._nonces.get(sent_at) == payload:
            conn.ping_sent_at = 0.0

    def _ping_round(self) -> None:
        self._later(self.interval, self._ping_round)
        started = self._loop.time()
        nonce = secrets.token_bytes(NONCE_BYTES)
        self._nonces[started] = nonce
        # A ping may stay unanswered for ``timeout`` after the last chunk of its round.
        keep = started - self.interval - self.timeout
        for old in [t for t in self._nonces if t < keep]:
            del self._nonces[old]
        self.rounds += 1
        conns = self.registry.snapshot()
        if not conns:
            return
        chunks = math.ceil(len(conns) / CHUNK)
        step = self.interval / chunks
        self._ping_chunk(conns, 0, step, started, encode_frame(Opcode.PING, nonce))

    def _ping_chunk(
        self, conns: list[Connection], start: int, step: float, round_id: float, frame: bytes
    ) -> None:
        send = self.outbox.send
        for conn in conns[start : start + CHUNK]:
            if conn.ping_sent_at == 0.0 and not conn.closing:
                conn.ping_sent_at = round_id
                if conn.pending is None and not conn.paused:
                    # Nothing queued: write now, no per-connection list for an idle socket.
                    conn.transport.sink.write(frame)
                else:
                    send(conn, frame)
        # The check reads the same slice of the round's list: no second list to hold.
        self._later(self.timeout, partial(self._check_chunk, conns, start, round_id))
        nxt = start + CHUNK
        if nxt < len(conns):
            self._later(step, partial(self._ping_chunk, conns, nxt, step, round_id, frame))

    def _check_chunk(self, conns: list[Connection], start: int, round_id: float) -> None:
        """Report the connections of one chunk still waiting for this round's pong."""
        on_timeout = self._on_timeout
        for conn in conns[start : start + CHUNK]:
            if conn.ping_sent_at == round_id and not conn.closing:
                on_timeout(conn)

    def _later(self, delay: float, callback: Callable[[], None]) -> None:
        handle: asyncio.TimerHandle

        def run() -> None:
            self._handles.discard(handle)
            callback()

        handle = self._loop.call_later(delay, run)
        self._handles.add(handle)
