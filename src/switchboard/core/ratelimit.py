"""Message rate limits: token buckets in front of the router, per connection and per user.

A connection may send ``burst`` messages at once and ``rate`` per second after that; all the
connections of one user together may send ``user_burst`` at once and ``user_rate`` per second
(anonymous connections have no user bucket). Pings count as messages. A message over a
limit is answered with ``RATE_LIMIT_EXCEEDED`` and dropped (not decoded).

A connection refused more than ``flood_strikes`` times within ``flood_window`` seconds is a
flood and is closed with 1008. The refusals are a leaky bucket (each adds one, they drain
at ``flood_strikes / flood_window`` per second), a sliding window in one float: a client
that sends just over its rate, so that a refill lets a message through between refusals,
is still counted (consecutive refusals were reset by every message let through). With no
limit configured the router is called directly: no cost at all.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from .connection import Connection

#: Seconds a user's bucket may sit unused before it is forgotten (it would be full anyway).
USER_IDLE = 60.0


class MessageRateLimit:
    """Token buckets: the connection's lives in its slots, users' in a dict here."""

    __slots__ = (
        "admit",
        "burst",
        "clock",
        "flood_strikes",
        "flood_window",
        "on_flood",
        "on_refused",
        "rate",
        "user_burst",
        "user_rate",
        "users",
    )

    def __init__(
        self,
        rate: float,
        burst: int,
        flood_strikes: int,
        *,
        on_refused: Callable[[Connection, str], None],
        on_flood: Callable[[Connection], None],
        user_rate: float = 0.0,
        user_burst: int = 0,
        flood_window: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.clock = clock
        self.rate = rate
        self.burst = float(max(burst, 1))
        self.user_rate = user_rate
        self.user_burst = float(max(user_burst, 1))
        self.flood_strikes = flood_strikes
        self.flood_window = flood_window
        self.on_refused = on_refused
        self.on_flood = on_flood
        #: user -> [tokens, last update]
        self.users: dict[Any, list[float]] = {}
        #: ``admit(conn)``: True when ``conn`` may send one more message (or ping); a
        #: refusal is answered and counted (pipeline stage "limits").
        self.admit: Callable[[Connection], bool] = self._admission()

    def _admission(self) -> Callable[[Connection], bool]:
        """The ``admit`` check, with the settings bound into one closure (the hot path)."""
        rate, burst, strikes_max = self.rate, self.burst, self.flood_strikes
        user_rate, user_burst = self.user_rate, self.user_burst
        on_refused, on_flood = self.on_refused, self.on_flood
        clock = self.clock
        sweep = [1024.0]  # sweep idle user buckets once there are this many

        leak = strikes_max / self.flood_window  # refusals drained per second

        def refuse(conn: Connection, scope: str) -> None:
            conn.rate_strikes += 1.0
            if conn.rate_strikes >= strikes_max:
                on_flood(conn)
            else:
                on_refused(conn, scope)

        def admit(conn: Connection) -> bool:
            now = clock()
            elapsed = now - conn.rate_stamp
            conn.rate_stamp = now
            strikes = conn.rate_strikes
            if strikes:  # the refusals drain between messages: a leaky bucket, no own stamp
                strikes -= elapsed * leak
                conn.rate_strikes = strikes if strikes > 0.0 else 0.0
            if rate:
                tokens = conn.rate_tokens + elapsed * rate
                if tokens > burst:
                    tokens = burst
                if tokens < 1.0:
                    conn.rate_tokens = tokens
                    refuse(conn, "connection")
                    return False
                conn.rate_tokens = tokens - 1.0
            user = conn.user
            if user_rate and user is not None:
                try:
                    tokens = self._user_tokens(user, now, sweep)
                except TypeError:  # an unhashable user (set by a hook): no user bucket
                    tokens = user_burst
                if tokens < 1.0:
                    refuse(conn, "user")
                    return False
            return True

        return admit

    def _user_tokens(self, user: Any, now: float, sweep: list[float]) -> float:
        """Refill ``user``'s bucket and take a token if there is one; the tokens it had."""
        users = self.users
        bucket = users.get(user)
        if bucket is None:
            if len(users) >= sweep[0]:
                self._forget_idle(now)
                sweep[0] = max(1024.0, 2.0 * len(self.users))
            bucket = self.users[user] = [self.user_burst, now]
        tokens = min(self.user_burst, bucket[0] + (now - bucket[1]) * self.user_rate)
        bucket[1] = now
        bucket[0] = tokens if tokens < 1.0 else tokens - 1.0
        return tokens

    def _forget_idle(self, now: float) -> None:
        self.users = {u: b for u, b in self.users.items() if now - b[1] < USER_IDLE}


def bucket_of(conn: Connection, key: str, rate: float, burst: float) -> list[float]:
    """``conn``'s token bucket ``[tokens, stamp]`` kept under ``key`` in ``conn.state``
    (created full), refilled to now: the caller takes what it spends from ``[0]``."""
    now = time.monotonic()
    bucket: list[float] | None = conn.state.get(key)
    if bucket is None:
        bucket = conn.state[key] = [burst, now]
    else:
        bucket[0] = min(burst, bucket[0] + (now - bucket[1]) * rate)
        bucket[1] = now
    return bucket


def route_allows(conn: Connection, key: str, rate: float, burst: float) -> bool:
    """One token from ``conn``'s bucket for ``key`` (a rate-limited route), if it has one."""
    bucket = bucket_of(conn, key, rate, burst)
    if bucket[0] < 1.0:
        return False
    bucket[0] -= 1.0
    return True
