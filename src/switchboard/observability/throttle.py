"""Rate-limited warnings: an operator wants to hear about a problem, not a thousand times."""

from __future__ import annotations

import time
from collections.abc import Callable


class Throttle:
    """Run a warning at most once per ``interval`` seconds, telling how many were skipped."""

    __slots__ = ("_clock", "_last", "_suppressed", "interval")

    def __init__(self, interval: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.interval = interval
        self._clock = clock
        self._last = float("-inf")
        self._suppressed = 0

    def __call__(self, emit: Callable[[int], object]) -> bool:
        now = self._clock()
        if now - self._last < self.interval:
            self._suppressed += 1
            return False
        self._last = now
        emit(self._suppressed)
        self._suppressed = 0
        return True
