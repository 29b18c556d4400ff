"""Rate-limited warnings on a fake clock: once per interval, with the count skipped."""

from __future__ import annotations

from switchboard.observability.throttle import Throttle


def test_throttle_suppresses_within_the_interval_and_reports_how_many() -> None:
    now = [100.0]
    emitted: list[int] = []
    throttle = Throttle(60.0, clock=lambda: now[0])

    assert throttle(emitted.append) is True
    now[0] = 110.0
    assert throttle(emitted.append) is False
    now[0] = 159.9
    assert throttle(emitted.append) is False
    assert emitted == [0]
    now[0] = 160.0  # a full interval after the last one emitted
    assert throttle(emitted.append) is True
    assert emitted == [0, 2]
    now[0] = 161.0
    assert throttle(emitted.append) is False
    now[0] = 500.0
    assert throttle(emitted.append) is True
    assert emitted == [0, 2, 1]  # the count starts again after each emission
