"""Repeated log events folded per key: what reaches the log, and the counts it is told."""

from __future__ import annotations

from collections.abc import Hashable

from switchboard.core.repeats import OTHERS, RepeatFilter


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def make(max_keys: int = 100) -> tuple[RepeatFilter, Clock, list[tuple[Hashable, int]]]:
    clock = Clock()
    summaries: list[tuple[Hashable, int]] = []
    repeats = RepeatFilter(
        10.0, lambda key, n: summaries.append((key, n)), max_keys=max_keys, clock=clock
    )
    return repeats, clock, summaries


def test_one_line_per_key_per_interval_then_the_count() -> None:
    repeats, clock, summaries = make()
    logged = sum(repeats.allow("c-1") for _ in range(100_000))
    assert logged == 1
    clock.now += 10
    assert repeats.allow("c-1")  # a new interval: logged, with the count of the last one
    assert summaries == [("c-1", 99_999)]


def test_keys_are_folded_apart() -> None:
    repeats, _, _ = make()
    assert repeats.allow("a")
    assert repeats.allow("b")
    assert not repeats.allow("a")


def test_a_quiet_key_is_summarised_by_the_sweep() -> None:
    repeats, clock, summaries = make()
    repeats.allow("a")
    repeats.allow("a")
    repeats.allow("a")
    clock.now += 11
    repeats.allow("someone else")  # any event past the interval sweeps
    assert summaries == [("a", 2)]
    assert len(repeats) == 1


def test_tracking_is_bounded_by_max_keys() -> None:
    repeats, clock, summaries = make(max_keys=10)
    logged = sum(repeats.allow(f"address-{i}") for i in range(10_000))
    assert logged == 11  # ten keys, then one line for all the others
    assert len(repeats) == 11
    clock.now += 10
    repeats.sweep()
    assert (OTHERS, 10_000 - 11) in summaries
    assert len(repeats) == 0
