"""On-demand diagnostics: where memory is allocated (tracemalloc) and event-loop lag."""

from __future__ import annotations

import asyncio
import linecache
import time
import tracemalloc
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Allocation:
    where: str
    size_bytes: int
    count: int


@dataclass(frozen=True, slots=True)
class AllocationReport:
    traced_seconds: float
    total_bytes: int
    top: list[Allocation]


class AllocationTracer:
    """Traces allocations for a while and reports the biggest allocation sites.

    ``tracemalloc`` slows every allocation down, so it runs only for the asked window (unless
    it was already on, e.g. ``PYTHONTRACEMALLOC=1``, in which case it is left on).
    """

    def __init__(self) -> None:
        self._lock = asyncio.Lock()

    @property
    def busy(self) -> bool:
        return self._lock.locked()

    async def report(self, seconds: float, top: int, frames: int = 1) -> AllocationReport:
        """New allocations still alive after ``seconds`` of tracing, biggest sites first."""
        async with self._lock:
            started_here = not tracemalloc.is_tracing()
            if started_here:
                tracemalloc.start(frames)
            try:
                await asyncio.sleep(seconds)
                snapshot = tracemalloc.take_snapshot()
            finally:
                if started_here:
                    tracemalloc.stop()
        # Sorting a big snapshot takes a while: not on the loop that serves WebSockets.
        stats = await asyncio.to_thread(_statistics, snapshot)
        return AllocationReport(
            traced_seconds=seconds,
            total_bytes=sum(stat.size for stat in stats),
            top=[
                Allocation(
                    where=f"{stat.traceback[0].filename}:{stat.traceback[0].lineno}",
                    size_bytes=stat.size,
                    count=stat.count,
                )
                for stat in stats[:top]
            ],
        )


def _statistics(snapshot: tracemalloc.Snapshot) -> list[tracemalloc.Statistic]:
    ours = (
        tracemalloc.Filter(False, tracemalloc.__file__),
        tracemalloc.Filter(False, linecache.__file__),
    )
    return snapshot.filter_traces(ours).statistics("lineno")


async def loop_pass_lag() -> float:
    """Seconds one trip around the event loop takes now (what waits ahead of a callback)."""
    loop = asyncio.get_running_loop()
    started = time.monotonic()  # not loop.time(): uvloop's clock counts whole milliseconds
    done = loop.create_future()
    loop.call_soon(done.set_result, None)
    await done
    return time.monotonic() - started
