"""Per-connection message rate limit: a token bucket in front of the router.

Each connection may send ``burst`` messages at once and ``rate`` per second after that.
A message over the limit is answered with ``RATE_LIMIT_EXCEEDED`` and dropped (not decoded);
a client that keeps sending after ``flood_strikes`` consecutive refusals is a flood and is
closed with 1008. With no limit configured the router is called directly: no cost at all.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from .connection import Connection

Deliver = Callable[[Connection, int, bytes], None]


class MessageRateLimit:
    """Token bucket per connection; the state lives in the connection's slots."""

    __slots__ = ("burst", "flood_strikes", "on_flood", "on_refused", "rate")

    def __init__(
        self,
        rate: float,
        burst: int,
        flood_strikes: int,
        *,
        on_refused: Callable[[Connection], None],
        on_flood: Callable[[Connection], None],
    ) -> None:
        self.rate = rate
        self.burst = float(max(burst, 1))
        self.flood_strikes = flood_strikes
        self.on_refused = on_refused
        self.on_flood = on_flood

    def guard(self, deliver: Deliver) -> Deliver:
        """``deliver`` behind the limit."""
        rate, burst, strikes_max = self.rate, self.burst, self.flood_strikes
        on_refused, on_flood = self.on_refused, self.on_flood
        clock = time.monotonic

        def limited(conn: Connection, opcode: int, payload: bytes) -> None:
            now = clock()
            tokens = conn.rate_tokens + (now - conn.rate_stamp) * rate
            conn.rate_stamp = now
            if tokens > burst:
                tokens = burst
            if tokens >= 1.0:
                conn.rate_tokens = tokens - 1.0
                conn.rate_strikes = 0
                deliver(conn, opcode, payload)
                return
            conn.rate_tokens = tokens
            conn.rate_strikes += 1
            if conn.rate_strikes >= strikes_max:
                on_flood(conn)
            else:
                on_refused(conn)

        return limited
