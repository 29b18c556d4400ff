"""How long the supervisor waits before it starts again a worker that exited."""

from __future__ import annotations

#: The first wait, and the wait again once a worker has stayed up ``STABLE`` seconds.
FIRST = 0.5
#: The longest wait: a worker that cannot start is tried twice a minute.
LONGEST = 30.0
#: Seconds up after which an exit is a new failure, not the same one again.
STABLE = 30.0


class Backoff:
    """Exponential: 0.5 s, doubling up to 30 s, back to 0.5 s after 30 s up."""

    __slots__ = ("_next",)

    def __init__(self) -> None:
        self._next = FIRST

    def after_exit(self, uptime: float) -> float:
        """Seconds to wait before the next start of a worker that was up ``uptime`` s."""
        if uptime >= STABLE:
            self._next = FIRST
        delay = self._next
        self._next = min(delay * 2, LONGEST)
        return delay
