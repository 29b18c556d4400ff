"""The wait before a worker is started again."""

from __future__ import annotations

from switchboard.workers.backoff import Backoff


def test_it_doubles_from_half_a_second_up_to_30() -> None:
    backoff = Backoff()
    waits = [backoff.after_exit(uptime=1.0) for _ in range(9)]
    assert waits == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0]


def test_it_starts_again_from_half_a_second_after_30_seconds_up() -> None:
    backoff = Backoff()
    for _ in range(5):
        backoff.after_exit(uptime=0.1)
    assert backoff.after_exit(uptime=30.0) == 0.5
    assert backoff.after_exit(uptime=0.1) == 1.0
