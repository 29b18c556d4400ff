"""The channel-creation limit: how many new channels (streams) one connection may start.

A publish or subscribe that gives a channel its stream takes a token from the connection's
bucket (``create_rate`` per second, ``create_burst`` at once); with no token left only
channels that already have a stream may be used (RATE_LIMIT_EXCEEDED, counted as
``rate_limited{kind="channel_create"}``).
"""

from __future__ import annotations

from ..broker.base import Broker
from ..errors import RequestError
from ..protocol.codes import ErrorCode
from .connection import Connection
from .ratelimit import bucket_of
from .stats import Stats, bump

#: Where a connection's channel-creation bucket lives in ``conn.state``.
_CREATE_BUCKET = "switchboard.channel_create"


class CreationLimit:
    """One token bucket per connection for the channels it creates (off at rate 0)."""

    __slots__ = ("broker", "burst", "rate", "stats")

    def __init__(self, broker: Broker, stats: Stats, rate: float, burst: int) -> None:
        self.broker = broker
        self.stats = stats
        self.rate = rate
        self.burst = float(burst or max(1, round(rate)))

    def tokens(self, conn: Connection) -> list[float]:
        """``conn``'s channel-creation bucket ``[tokens, stamp]``, refilled to now."""
        return bucket_of(conn, _CREATE_BUCKET, self.rate, self.burst)

    def allows_ahead(self, conn: Connection, ahead: int) -> bool:
        """Whether the bucket holds a token for each of ``ahead`` requests and one more."""
        return not self.rate or self.tokens(conn)[0] >= ahead + 1.0

    async def check(self, conn: Connection, channel: str) -> None:
        """Refuse a channel with no stream yet when ``conn`` may create no more just now."""
        if not self.rate or self.tokens(conn)[0] >= 1.0:
            return
        position, _ = await self.broker.history(channel, 0)
        if not position.epoch:  # no stream: using it would create one
            bump(self.stats.rate_limited, "channel_create")
            raise RequestError(
                ErrorCode.RATE_LIMIT_EXCEEDED,
                f"at most {self.rate:g} new channels per second per connection",
            )

    def created(self, conn: Connection) -> None:
        """``conn`` just started a channel's stream: one token spent."""
        if self.rate:
            bucket = self.tokens(conn)
            bucket[0] = max(0.0, bucket[0] - 1.0)
