"""The node's counters: histogram buckets as Prometheus reads them, quantile estimates."""

from __future__ import annotations

import pytest

from switchboard.core.stats import Histogram, bump, quantile


def test_cumulative_pairs_add_up_and_end_with_inf() -> None:
    histogram = Histogram((0.001, 0.5, 2))
    for value in (0.0005, 0.2, 0.3, 5.0):
        histogram.observe(value)
    assert histogram.cumulative() == [("0.001", 1), ("0.5", 3), ("2.0", 3), ("+Inf", 4)]


def test_quantile_interpolates_linearly_within_the_bucket() -> None:
    bounds = (1.0, 2.0, 4.0)
    assert quantile(bounds, [2, 2, 0, 0], 0.5) == 1.0  # rank 2: the top of the first bucket
    assert quantile(bounds, [2, 2, 0, 0], 0.75) == 1.5  # rank 3: halfway through (1, 2]
    assert quantile(bounds, [0, 0, 4, 0], 0.25) == 2.5  # rank 1 of 4 in (2, 4]
    assert quantile(bounds, [4, 0, 0, 0], 0.5) == 0.5  # the first bucket starts at 0
    assert quantile(bounds, [0, 10, 0, 0], 0.99) == pytest.approx(1.99)
    assert quantile(bounds, [1, 0, 0, 1], 1.0) == 4.0  # the overflow bucket: the last bound


def test_quantile_of_no_observations_is_none() -> None:
    assert quantile((1.0, 2.0), [0, 0, 0], 0.5) is None
    assert quantile((1.0, 2.0), [], 0.99) is None


def test_quantile_of_a_histogram() -> None:
    histogram = Histogram((1.0, 2.0, 4.0))
    for value in (0.5, 1.0, 1.5, 3.0, 10.0):
        histogram.observe(value)
    assert histogram.counts == [2, 1, 1, 1]  # a value on a bound counts in that bucket
    assert sum(histogram.counts) == 5
    assert histogram.sum == 16.0
    assert quantile(histogram.bounds, histogram.counts, 0.5) == 1.5  # rank 2.5


def test_bump_counts_from_zero() -> None:
    counter: dict[str, int] = {}
    bump(counter, "a")
    bump(counter, "a", 2)
    bump(counter, "b")
    assert counter == {"a": 3, "b": 1}
