"""The histogram (no sockets): bucket bounds, percentiles within 0.2 % of the exact ones,
and a merge that equals recording everything in one place."""

from __future__ import annotations

import random

from switchboard.loadtest.histogram import Histogram, bucket_of, highest_in


def exact(values: list[int], percent: float) -> int:
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * percent // 100))  # nearest rank, ceil
    return ordered[int(rank) - 1]


def test_every_value_is_in_its_bucket_and_buckets_are_narrow() -> None:
    values = [*range(3000), *(random.randrange(1, 10**9) for _ in range(5000))]
    for value in values:
        bucket = bucket_of(value)
        assert highest_in(bucket - 1) < value <= highest_in(bucket) if bucket else value == 0
        assert highest_in(bucket) - value <= max(value, 1) / 512


def test_percentiles_are_within_the_precision() -> None:
    rng = random.Random(7)
    values = [int(rng.lognormvariate(7, 1.5)) for _ in range(20_000)]
    histogram = Histogram.of(values)
    for percent in (50, 90, 99, 99.9, 100):
        want = exact(values, percent)
        assert want <= histogram.percentile(percent) <= want + want / 512 + 1
    assert histogram.max == max(values)
    assert histogram.min == min(values)
    assert histogram.total == len(values)


def test_merging_equals_recording_in_one() -> None:
    rng = random.Random(3)
    parts = [[rng.randrange(0, 500_000) for _ in range(1000)] for _ in range(3)]
    merged = Histogram()
    for part in parts:
        merged.merge(Histogram.of(part))
    merged.merge(Histogram())
    whole = Histogram.of([v for part in parts for v in part])
    assert merged.counts == whole.counts
    assert merged.summary_ms() == whole.summary_ms()


def test_small_and_empty() -> None:
    assert Histogram().summary_ms()["p99"] == 0
    histogram = Histogram.of(range(1, 1001))  # exact below 1,024 us
    summary = histogram.summary_ms()
    assert (summary["p50"], summary["p99"], summary["p99.9"], summary["max"]) == (
        0.5,
        0.99,
        0.999,
        1.0,
    )
    histogram.record(-5)  # clocks: never a negative latency
    assert histogram.min == 0
