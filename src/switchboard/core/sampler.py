"""Times and sizes a sample of received messages, by swapping the node's entry point."""

from __future__ import annotations

import asyncio
from bisect import bisect_left
from collections.abc import Callable
from time import perf_counter

from .connection import Connection
from .stats import Stats

Deliver = Callable[[Connection, int, bytes], None]


class Sampler:
    """Times and sizes a sample of messages: the first ``per_window`` of every ``window`` s.

    Timing every message costs two clock reads and two histogram updates, about a fifth of
    an echo's whole cost here. So the node's entry point is swapped: ``measured`` while a
    window's sample is being taken, the plain one afterwards until the next window opens.
    Below ``per_window / window`` messages per second every message is measured.

    Bytes received are not counted per message either (one addition per message costs
    about 4% of an echo): ``bytes_in`` adds, each window, the messages it saw (``count``)
    times the mean size of those it sampled: exact up to 1,000 messages a second.
    """

    def __init__(
        self,
        stats: Stats,
        deliver: Deliver,
        install: Callable[[Deliver], None],
        count: Callable[[], int],
        *,
        per_window: int = 100,
        window: float = 0.1,
    ) -> None:
        self.deliver = deliver
        self.install = install
        self.per_window = per_window
        self.window = window
        self.left = per_window
        self.count = count
        #: Payload bytes received, estimated as described above.
        self.bytes_in = 0.0
        self._counted = count()
        self._window_bytes = 0
        self._mean_size = 0.0
        processing, size = stats.processing, stats.size
        time_bounds, time_counts = processing.bounds, processing.counts
        size_bounds, size_counts = size.bounds, size.counts

        def measured(conn: Connection, opcode: int, payload: bytes) -> None:
            started = perf_counter()
            deliver(conn, opcode, payload)
            elapsed = perf_counter() - started
            time_counts[bisect_left(time_bounds, elapsed)] += 1
            processing.sum += elapsed
            n = len(payload)
            size_counts[bisect_left(size_bounds, n)] += 1
            size.sum += n
            self._window_bytes += n
            self.left -= 1
            if not self.left:
                install(deliver)  # this window's sample is complete

        self.measured = measured

        self._timer: asyncio.TimerHandle | None = None

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self.install(self.measured)
        self._timer = loop.call_later(self.window, self._open_window, loop)

    def _close_window(self) -> None:
        counted = self.count()
        arrived, self._counted = counted - self._counted, counted
        sampled = self.per_window - self.left
        if sampled:
            self._mean_size = self._window_bytes / sampled
        if arrived == sampled:
            self.bytes_in += self._window_bytes  # every message was sized: exact
        else:
            self.bytes_in += arrived * self._mean_size
        self._window_bytes = 0

    def stop(self) -> None:
        self._close_window()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self.install(self.deliver)

    def _open_window(self, loop: asyncio.AbstractEventLoop) -> None:
        self._close_window()
        if self.left < self.per_window:  # something was measured: sample the next window
            self.left = self.per_window
            self.install(self.measured)
        self._timer = loop.call_later(self.window, self._open_window, loop)
