"""Closing connections whose credentials (a token) expire, unless refreshed in time."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from .connection import Connection


class CredentialExpiry:
    """One timer per connection that authenticated with an expiring token."""

    __slots__ = ("_expire", "_loop", "_timers")

    def __init__(
        self, loop: asyncio.AbstractEventLoop, expire: Callable[[Connection], None]
    ) -> None:
        self._loop = loop
        self._expire = expire
        self._timers: dict[Connection, asyncio.TimerHandle] = {}

    def set(self, conn: Connection, expires_at: float) -> None:
        """(Re)arm: ``conn`` is closed at Unix time ``expires_at``."""
        self.cancel(conn)
        delay = max(0.0, expires_at - time.time())
        self._timers[conn] = self._loop.call_later(delay, self._fire, conn)

    def cancel(self, conn: Connection) -> None:
        timer = self._timers.pop(conn, None)
        if timer is not None:
            timer.cancel()

    def _fire(self, conn: Connection) -> None:
        self._timers.pop(conn, None)
        if not conn.closing:
            self._expire(conn)

    def __len__(self) -> int:
        return len(self._timers)
