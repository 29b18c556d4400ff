"""The circuit breaker of one backend route: stop calling a backend that keeps failing.

::

    CLOSED    --failure_threshold consecutive failures-->  OPEN
    OPEN      --cooldown over, the next request (a trial)->  HALF_OPEN
    HALF_OPEN --the trial succeeds-->                        CLOSED
    HALF_OPEN --the trial fails-->                           OPEN (a new cooldown)

While OPEN, and in HALF_OPEN for every request but the trial, :meth:`Breaker.allow` says
no and the request is refused at once (``UNAVAILABLE``): nothing waits on a backend known
to be down. A failure is a request that could not be done (no connection, a timeout, a
5xx); a 4xx is an answer, so it counts as a success. Sans-I/O: the clock is passed in.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from enum import IntEnum


class Circuit(IntEnum):
    """The breaker's state; the value is the ``switchboard_backend_circuit_state`` gauge."""

    CLOSED = 0
    OPEN = 1
    HALF_OPEN = 2


class Breaker:
    """Counts consecutive failures; ``allow()`` before a request, then ``succeeded()`` or
    ``failed()`` after it."""

    __slots__ = ("_clock", "cooldown", "failures", "opened", "opened_at", "state", "threshold")

    def __init__(
        self, threshold: int, cooldown: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.threshold = threshold
        self.cooldown = cooldown
        self._clock = clock
        self.state = Circuit.CLOSED
        #: Consecutive failures so far (reset by a success).
        self.failures = 0
        #: Times the circuit opened (a counter for the metrics).
        self.opened = 0
        self.opened_at = 0.0

    def allow(self) -> bool:
        """Whether a request may go now; after the cooldown the first one is the trial."""
        state = self.state
        if state is Circuit.CLOSED:
            return True
        if state is Circuit.OPEN and self._clock() - self.opened_at >= self.cooldown:
            self.state = Circuit.HALF_OPEN
            return True
        return False

    def succeeded(self) -> bool:
        """A request got an answer; True when that closed an open circuit."""
        self.failures = 0
        if self.state is Circuit.CLOSED:
            return False
        self.state = Circuit.CLOSED
        return True

    def failed(self) -> bool:
        """A request failed; True when that opened the circuit."""
        self.failures += 1
        if self.state is Circuit.HALF_OPEN or (
            self.state is Circuit.CLOSED and self.failures >= self.threshold
        ):
            self.state = Circuit.OPEN
            self.opened_at = self._clock()
            self.opened += 1
            return True
        return False

    def retry_after(self) -> float:
        """Seconds until an open circuit lets a trial through (0 when it would now)."""
        if self.state is not Circuit.OPEN:
            return 0.0
        return max(0.0, self.cooldown - (self._clock() - self.opened_at))
