"""CPU time of process trees from /proc, sampled in a thread so a window can be read off later.

wsbench's ``-S PID`` measures one process; a supervisor with workers is several. A
:class:`CpuSampler` reads user + system time of every process of each tree it was given every
:data:`INTERVAL` seconds and answers, for any moment of its run, the CPU seconds used by then
(interpolated between samples), so the caller can take wsbench's measurement window.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from bisect import bisect_left
from collections.abc import Iterable, Mapping
from pathlib import Path

#: Seconds between two samples: with a window of seconds, the error is well under 1%.
INTERVAL = 0.05
_TICK = os.sysconf("SC_CLK_TCK")


def _stat_fields(pid: int) -> list[str] | None:
    """The fields of /proc/PID/stat after the command name (which may hold spaces)."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rfind(")") + 2 :].split()


def tree(root: int) -> list[int]:
    """``root`` and every descendant of it now running."""
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (fields := _stat_fields(int(entry))) is not None:
            parents.setdefault(int(fields[1]), []).append(int(entry))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(parents.get(pid, []))
    return found


def cpu_seconds(pids: Iterable[int]) -> float:
    """User + system CPU seconds of ``pids`` (those that still run)."""
    ticks = 0
    for pid in pids:
        fields = _stat_fields(pid)
        if fields is not None:
            ticks += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
    return ticks / _TICK


class CpuSampler:
    """Samples the CPU seconds of named groups of processes until :meth:`stop`."""

    def __init__(self, groups: Mapping[str, list[int]]) -> None:
        self.groups = dict(groups)
        self.times: list[float] = []
        self.samples: dict[str, list[float]] = {name: [] for name in groups}
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name="cpu-sampler", daemon=True)

    def __enter__(self) -> CpuSampler:
        self._sample()
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def stop(self) -> None:
        if not self._done.is_set():
            self._done.set()
            with contextlib.suppress(RuntimeError):  # never started
                self._thread.join(timeout=5)
            self._sample()

    def _sample(self) -> None:
        now = time.monotonic()
        values = {name: cpu_seconds(pids) for name, pids in self.groups.items()}
        self.times.append(now)
        for name, value in values.items():
            self.samples[name].append(value)

    def _run(self) -> None:
        while not self._done.wait(INTERVAL):
            self._sample()

    def at(self, name: str, moment: float) -> float:
        """CPU seconds of group ``name`` at ``moment`` (time.monotonic), interpolated."""
        times, values = self.times, self.samples[name]
        i = bisect_left(times, moment)
        if i == 0:
            return values[0]
        if i >= len(times):
            return values[-1]
        t0, t1 = times[i - 1], times[i]
        share = (moment - t0) / (t1 - t0) if t1 > t0 else 1.0
        return values[i - 1] + share * (values[i] - values[i - 1])

    def percent(self, name: str, start: float, end: float) -> float:
        """Average CPU of group ``name`` from ``start`` to ``end``, in % of one core."""
        return (self.at(name, end) - self.at(name, start)) / (end - start) * 100
