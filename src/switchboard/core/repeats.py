"""Repeated log events folded per key: one line per key per interval, then a count.

An attacker decides how often a refusal happens (a forbidden subscribe in a loop, a banned
address reconnecting); one log line each lets them fill the disk and the log pipeline
faster than they spend. The first event of a key (a connection, an address) in an
interval is logged; the rest are counted, and the count is logged as a summary line
(``repeated``) when the interval has passed: with that key's next event, or by the next
sweep, whichever comes first. At most ``max_keys`` keys are tracked; past that every
other key shares one (``OTHERS``), so the tracking itself stays bounded.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable

#: The key events are counted under once ``max_keys`` keys are tracked.
OTHERS = "(others)"


class RepeatFilter:
    """``allow(key)``: whether to log this event now; the suppressed ones are summarised."""

    __slots__ = ("_clock", "_keys", "_next_sweep", "interval", "max_keys", "on_summary")

    def __init__(
        self,
        interval: float,
        on_summary: Callable[[Hashable, int], None],
        *,
        max_keys: int = 4096,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.interval = interval
        #: Called with (key, how many events were not logged) when a key's interval ends.
        self.on_summary = on_summary
        self.max_keys = max_keys
        self._clock = clock
        #: key -> [start of its interval, events suppressed in it]
        self._keys: dict[Hashable, list[float]] = {}
        self._next_sweep = clock() + interval

    def allow(self, key: Hashable) -> bool:
        now = self._clock()
        if now >= self._next_sweep:
            self.sweep(now)
        keys = self._keys
        entry = keys.get(key)
        if entry is None:
            if len(keys) >= self.max_keys:
                key = OTHERS
                entry = keys.get(key)
            if entry is None:
                keys[key] = [now, 0]
                return True
        if now - entry[0] < self.interval:
            entry[1] += 1
            return False
        if entry[1]:
            self.on_summary(key, int(entry[1]))
        entry[0], entry[1] = now, 0
        return True

    def sweep(self, now: float | None = None) -> None:
        """Summarise and forget every key whose interval is over."""
        now = self._clock() if now is None else now
        self._next_sweep = now + self.interval
        done = [key for key, entry in self._keys.items() if now - entry[0] >= self.interval]
        for key in done:
            suppressed = int(self._keys.pop(key)[1])
            if suppressed:
                self.on_summary(key, suppressed)

    def __len__(self) -> int:
        return len(self._keys)
