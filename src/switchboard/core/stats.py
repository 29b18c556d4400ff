"""A node's counters: plain integers the hot path bumps, read by metrics and the admin API.

Nothing here knows Prometheus. ``observability/metrics.py`` turns these numbers into
metric families when ``/metrics`` is scraped, so a message costs a few integer additions,
not a labelled-metric lookup and a lock.
"""

from __future__ import annotations

import asyncio
from bisect import bisect_left
from collections.abc import Callable, Sequence
from time import perf_counter
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .connection import Connection

#: Message processing time buckets (seconds): sub-millisecond ones, then 1 ms to 5 s.
PROCESSING_BUCKETS = (
    0.00001,
    0.000025,
    0.00005,
    0.0001,
    0.00025,
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
)
#: Message size buckets (bytes).
SIZE_BUCKETS = (64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216)
#: Connection duration buckets (seconds).
DURATION_BUCKETS = (1.0, 10.0, 60.0, 300.0, 1800.0, 3600.0, 6 * 3600.0, 24 * 3600.0)
#: Broker call latency buckets (seconds).
BROKER_BUCKETS = (0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.25, 1.0)


class Histogram:
    """Counts per bucket (``value <= bound``, the last one unbounded) and their sum."""

    __slots__ = ("bounds", "counts", "sum")

    def __init__(self, bounds: Sequence[float]) -> None:
        self.bounds = tuple(bounds)
        self.counts = [0] * (len(self.bounds) + 1)
        self.sum = 0.0

    def observe(self, value: float) -> None:
        self.counts[bisect_left(self.bounds, value)] += 1
        self.sum += value

    @property
    def count(self) -> int:
        return sum(self.counts)

    def cumulative(self) -> list[tuple[str, int]]:
        """Prometheus-style ``(le, cumulative count)`` pairs, ending with ``+Inf``."""
        pairs: list[tuple[str, int]] = []
        total = 0
        for bound, count in zip(self.bounds, self.counts, strict=False):
            total += count
            pairs.append((_le(bound), total))
        pairs.append(("+Inf", total + self.counts[-1]))
        return pairs


def quantile(bounds: Sequence[float], counts: Sequence[int], q: float) -> float | None:
    """Estimate the ``q`` quantile from bucket counts (linear within a bucket, as
    Prometheus' ``histogram_quantile`` does); None when there are no observations."""
    total = sum(counts)
    if not total:
        return None
    rank = q * total
    seen = 0
    lower = 0.0
    for i, count in enumerate(counts):
        upper = bounds[i] if i < len(bounds) else bounds[-1]
        if count and seen + count >= rank:
            return lower + (upper - lower) * (rank - seen) / count
        seen += count
        lower = upper
    return bounds[-1]


def _le(bound: float) -> str:
    return repr(float(bound))


def bump(counter: dict[Any, int], key: Any, by: int = 1) -> None:
    counter[key] = counter.get(key, 0) + by


class Stats:
    """Everything one node counts. Keys of the dicts are label values (bounded sets)."""

    def __init__(self) -> None:
        #: close code -> connections closed with it
        self.closed: dict[int, int] = {}
        self.duration = Histogram(DURATION_BUCKETS)
        #: message type (a routed type, ``unknown`` or ``invalid``) -> messages received
        self.received: dict[str, int] = {}
        #: message class (a server struct, ``dict`` for route replies) -> messages queued
        self.sent: dict[type, int] = {}
        #: bytes received by connections that have closed (open ones keep their own count)
        self.closed_bytes_in = 0
        #: sampled (see :class:`Sampler`); frames and bytes written are the outbox's counts
        self.size = Histogram(SIZE_BUCKETS)
        self.processing = Histogram(PROCESSING_BUCKETS)
        #: error code -> error frames sent
        self.errors: dict[str, int] = {}
        #: scope (connection, user, route) -> messages refused
        self.rate_limited: dict[str, int] = {}
        #: reason -> upgrades refused
        self.handshake_rejected: dict[str, int] = {}
        self.broker_publish = Histogram(BROKER_BUCKETS)
        #: broker operation -> failures
        self.broker_errors: dict[str, int] = {}


class Sampler:
    """Times and sizes a sample of messages: the first ``per_window`` of every ``window`` s.

    Timing every message costs two clock reads and two histogram updates, about a fifth of
    an echo's whole cost here. So the node's entry point is swapped: ``measured`` while a
    window's sample is being taken, the plain one afterwards until the next window opens.
    Below ``per_window / window`` messages per second every message is measured.
    """

    def __init__(
        self,
        stats: Stats,
        deliver: Callable[[Connection, int, bytes], None],
        install: Callable[[Callable[[Connection, int, bytes], None]], None],
        *,
        per_window: int = 100,
        window: float = 0.1,
    ) -> None:
        self.deliver = deliver
        self.install = install
        self.per_window = per_window
        self.window = window
        self.left = per_window
        processing, size = stats.processing, stats.size
        time_bounds, time_counts = processing.bounds, processing.counts
        size_bounds, size_counts = size.bounds, size.counts

        def measured(conn: Connection, opcode: int, payload: bytes) -> None:
            started = perf_counter()
            deliver(conn, opcode, payload)
            elapsed = perf_counter() - started
            time_counts[bisect_left(time_bounds, elapsed)] += 1
            processing.sum += elapsed
            n = len(payload)
            size_counts[bisect_left(size_bounds, n)] += 1
            size.sum += n
            self.left -= 1
            if not self.left:
                install(deliver)  # this window's sample is complete

        self.measured = measured

        self._timer: asyncio.TimerHandle | None = None

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self.install(self.measured)
        self._timer = loop.call_later(self.window, self._open_window, loop)

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self.install(self.deliver)

    def _open_window(self, loop: asyncio.AbstractEventLoop) -> None:
        if self.left < self.per_window:  # something was measured: sample the next window
            self.left = self.per_window
            self.install(self.measured)
        self._timer = loop.call_later(self.window, self._open_window, loop)
