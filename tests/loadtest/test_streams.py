"""The stream tracker (no sockets): loss, duplicates and reordering counted exactly."""

from __future__ import annotations

from switchboard.loadtest.streams import StreamTracker


def track(numbers: list[int]) -> StreamTracker:
    tracker = StreamTracker()
    for number in numbers:
        tracker.seen(number)
    return tracker


def test_in_order() -> None:
    tracker = track(list(range(100)))
    assert (tracker.unique, tracker.duplicates, tracker.reordered) == (100, 0, 0)
    assert tracker.above == set()


def test_one_lost_is_not_a_reorder() -> None:
    tracker = track([0, 1, 2, 4, 5, 6])
    assert (tracker.unique, tracker.duplicates, tracker.reordered) == (6, 0, 0)


def test_a_swap_counts_once_and_loses_nothing() -> None:
    tracker = track([0, 1, 3, 2, 4])
    assert (tracker.unique, tracker.duplicates, tracker.reordered) == (5, 0, 1)
    assert tracker.prefix == 5 and tracker.above == set()


def test_duplicates_before_and_after_the_prefix() -> None:
    tracker = track([0, 1, 1, 5, 5, 2, 0])
    assert (tracker.unique, tracker.duplicates, tracker.reordered) == (4, 3, 1)
