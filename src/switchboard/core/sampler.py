"""Times and sizes a sample of received messages, for the metrics (pipeline stage "metrics")."""

from __future__ import annotations

import asyncio
from bisect import bisect_left
from collections.abc import Callable
from time import perf_counter

from .stats import Stats


class Sampler:
    """Times and sizes a sample of messages: the first ``per_window`` of every ``window`` s.

    Timing every message costs two clock reads and two histogram updates, about a fifth of
    an echo's whole cost here. So only while ``left`` is above zero does the pipeline time
    a message (and call :meth:`measured`); once a window's sample is complete it reads
    ``left`` as zero until the next window opens. Below ``per_window / window`` messages per
    second every message is measured.

    Bytes received are not counted per message either (one addition per message costs
    about 4% of an echo): ``bytes_in`` adds, each window, the messages it saw (``count``)
    times the mean size of those it sampled: exact up to 1,000 messages a second.
    """

    __slots__ = (
        "_counted",
        "_mean_size",
        "_timer",
        "_window_bytes",
        "bytes_in",
        "count",
        "left",
        "per_window",
        "size",
        "stats",
        "window",
    )

    def __init__(
        self,
        stats: Stats,
        count: Callable[[], int],
        *,
        per_window: int = 100,
        window: float = 0.1,
    ) -> None:
        self.stats = stats
        self.per_window = per_window
        self.window = window
        #: Messages still to measure in this window (0 until :meth:`start`).
        self.left = 0
        self.count = count
        #: Payload bytes received, estimated as described above.
        self.bytes_in = 0.0
        self._counted = count()
        self._window_bytes = 0
        self._mean_size = 0.0
        self._timer: asyncio.TimerHandle | None = None

    def measured(self, started: float, size: int) -> None:
        """A sampled message was handled: it began at ``started`` and had ``size`` bytes."""
        elapsed = perf_counter() - started
        processing, sizes = self.stats.processing, self.stats.size
        processing.counts[bisect_left(processing.bounds, elapsed)] += 1
        processing.sum += elapsed
        sizes.counts[bisect_left(sizes.bounds, size)] += 1
        sizes.sum += size
        self._window_bytes += size
        self.left -= 1

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self.left = self.per_window
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
        self.left = 0

    def _open_window(self, loop: asyncio.AbstractEventLoop) -> None:
        self._close_window()
        self.left = self.per_window
        self._timer = loop.call_later(self.window, self._open_window, loop)
