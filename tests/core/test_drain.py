"""The drain's plan: how many waves over how long, and the close reason it sends."""

from __future__ import annotations

import json

import pytest

from switchboard.core.drain import WAVE_INTERVAL, plan, reconnect_reason


@pytest.mark.parametrize(
    ("connections", "rate", "timeout", "waves", "spread"),
    [
        (0, 1000, 10, 1, 0.0),  # nothing to close: one (empty) wave, no wait
        (50, 1000, 10, 1, 0.05),  # under one wave's worth: all at once
        (10_000, 1000, 10, 50, 5.0),  # 10 s at the rate: capped at half the drain's time
        (2_000, 1000, 10, 20, 2.0),
        (10, 20, 4, 5, 0.5),
    ],
)
def test_waves_close_at_the_rate_within_half_the_drain(
    connections: int, rate: float, timeout: float, waves: int, spread: float
) -> None:
    assert plan(connections, rate, timeout) == (waves, pytest.approx(spread))
    assert waves * WAVE_INTERVAL >= spread - 1e-9


def test_the_reason_is_json_within_a_close_frame() -> None:
    reason = reconnect_reason(123_456)
    assert json.loads(reason) == {"reconnect_after_ms": 123_456}
    assert len(reason.encode()) <= 123
