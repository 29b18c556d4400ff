"""A log-bucketed latency histogram in the manner of HdrHistogram: constant relative error,
cheap to record, exact to merge across processes.

Values are whole microseconds. The first ``2**SUB_BITS`` values each have a bucket of their
own; above that every power of two is cut into ``2**(SUB_BITS - 1)`` equal buckets, so a
bucket is never wider than 1/512 of its values (0.2 %, HdrHistogram's "3 significant
digits" at 1,024 sub-buckets). A percentile is the highest value of its bucket, as
HdrHistogram reports it: it never under-states a latency, and the exact maximum is kept
aside. Buckets live in a dict, so an idle histogram is a few hundred bytes and pickles small
for the trip from a generator process to the parent.

Why not the ``hdrhistogram`` package: it ships no type information (mypy strict would need an
override) and a compiled extension, for the 80 lines below.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

SUB_BITS = 10
_HALF = 1 << (SUB_BITS - 1)
_EXACT = 1 << SUB_BITS

#: The percentiles every report shows, in order.
PERCENTILES: tuple[float, ...] = (50.0, 90.0, 99.0, 99.9)


def bucket_of(value: int) -> int:
    """The bucket index of ``value`` (microseconds, >= 0)."""
    if value < _EXACT:
        return value
    shift = value.bit_length() - SUB_BITS
    return (shift << (SUB_BITS - 1)) + (value >> shift)


def highest_in(bucket: int) -> int:
    """The largest value that falls in ``bucket``."""
    if bucket < _EXACT:
        return bucket
    shift = (bucket >> (SUB_BITS - 1)) - 1
    mantissa = bucket - (shift << (SUB_BITS - 1))
    return ((mantissa + 1) << shift) - 1


class Histogram:
    """Counts of latencies in microseconds (see the module docstring for the precision)."""

    __slots__ = ("counts", "max", "min", "sum", "total")

    def __init__(self) -> None:
        self.counts: dict[int, int] = {}
        self.total = 0
        self.sum = 0
        self.min = 0
        self.max = 0

    def record(self, micros: int) -> None:
        """Count one value; a negative one (clocks of two hosts) counts as 0."""
        value = max(micros, 0)
        bucket = bucket_of(value)
        self.counts[bucket] = self.counts.get(bucket, 0) + 1
        if self.total == 0 or value < self.min:
            self.min = value
        if value > self.max:
            self.max = value
        self.total += 1
        self.sum += value

    def record_seconds(self, seconds: float) -> None:
        self.record(round(seconds * 1_000_000))

    def merge(self, other: Histogram) -> None:
        """Add every count of ``other`` (exactly what recording its values here would do)."""
        if other.total == 0:
            return
        for bucket, count in other.counts.items():
            self.counts[bucket] = self.counts.get(bucket, 0) + count
        self.min = other.min if self.total == 0 else min(self.min, other.min)
        self.max = max(self.max, other.max)
        self.total += other.total
        self.sum += other.sum

    def percentile(self, percent: float) -> int:
        """The value at or below which ``percent`` of the counts lie (0 when empty)."""
        if self.total == 0:
            return 0
        # the nearest rank; rounded first so that 99.9 % of 1,000 is 999, not 999.0000001
        rank = max(1, math.ceil(round(self.total * percent / 100.0, 6)))
        seen = 0
        for bucket in sorted(self.counts):
            seen += self.counts[bucket]
            if seen >= rank:
                return min(highest_in(bucket), self.max)
        return self.max

    def summary_ms(self) -> dict[str, float]:
        """``count``, ``mean``, ``min``, ``p50``/``p90``/``p99``/``p99.9`` and ``max`` (in
        milliseconds, except the count)."""
        out: dict[str, float] = {"count": float(self.total)}
        out["mean"] = round(self.sum / self.total / 1000.0, 3) if self.total else 0.0
        out["min"] = self.min / 1000.0
        for percent in PERCENTILES:
            out[f"p{percent:g}"] = self.percentile(percent) / 1000.0
        out["max"] = self.max / 1000.0
        return out

    @classmethod
    def of(cls, values: Iterable[int]) -> Histogram:
        histogram = cls()
        for value in values:
            histogram.record(value)
        return histogram
