"""A node's counters: plain integers the hot path bumps, read by metrics and the admin API.

Nothing here knows Prometheus. ``observability/metrics.py`` turns these numbers into
metric families when ``/metrics`` is scraped, so a message costs a few integer additions,
not a labelled-metric lookup and a lock.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from typing import Any

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
        #: sampled (see ``core/sampler.py``); frames and bytes written are the outbox's counts
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
