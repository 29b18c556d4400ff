"""Keepalive: one sweep pings every connection; one check closes those that did not answer.

Two timers for the whole node, never one per connection: every
``interval`` seconds a ping round queues the same two-byte ping frame for each
connection without an outstanding ping, and ``timeout`` seconds after that a
check round closes every connection whose ping is still unanswered.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from ..protocol.frames import PING_FRAME
from .connection import Connection
from .outbox import Outbox
from .registry import Registry


class Heartbeat:
    """Pings all connections periodically and reports the ones that stopped answering."""

    __slots__ = ("_handles", "_loop", "_on_timeout", "interval", "outbox", "registry", "timeout")

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

    def start(self) -> None:
        if self.interval > 0:
            self._later(self.interval, self._ping_round)

    def stop(self) -> None:
        for handle in self._handles:
            handle.cancel()
        self._handles.clear()

    def _ping_round(self) -> None:
        now = self._loop.time()
        send = self.outbox.send
        for conn in self.registry:
            if conn.ping_sent_at == 0.0 and not conn.closing:
                conn.ping_sent_at = now
                if conn.pending is None and not conn.paused:
                    # Nothing queued: write now, no per-connection list for an idle socket.
                    conn.transport.write(PING_FRAME)
                else:
                    send(conn, PING_FRAME)
        self._later(self.timeout, self._check_round)
        self._later(self.interval, self._ping_round)

    def _check_round(self) -> None:
        deadline = self._loop.time() - self.timeout
        expired = [
            conn
            for conn in self.registry
            if 0.0 < conn.ping_sent_at <= deadline and not conn.closing
        ]
        for conn in expired:
            self._on_timeout(conn)

    def _later(self, delay: float, callback: Callable[[], None]) -> None:
        handle: asyncio.TimerHandle

        def run() -> None:
            self._handles.discard(handle)
            callback()

        handle = self._loop.call_later(delay, run)
        self._handles.add(handle)
