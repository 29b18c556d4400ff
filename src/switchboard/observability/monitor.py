"""Once a second: event-loop lag, CPU, memory and traffic rates; warnings an operator can act on.

The samples feed the dashboard (the last few minutes are kept) and the stats API. Besides
rates and gauges a sample counts what the node refused, by code: error frames sent
(``stats.errors``), messages refused by a rate limit (``stats.rate_limited``, by scope) and
upgrades refused (``stats.handshake_rejected``, by reason), each as a total and a rate. Each
warning kind is logged at most once per ``warn_interval`` seconds, with how many times it
was suppressed since, so a sick server does not also flood its logs.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import os
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import structlog

from ..core.stats import PROCESSING_BUCKETS, quantile
from ..tasks import cancelled
from .throttle import Throttle

if TYPE_CHECKING:
    from ..core.node import Node

log = structlog.get_logger("switchboard.monitor")

_PAGE = os.sysconf("SC_PAGE_SIZE")
#: The container's memory limit: cgroup v2, then v1 (v1 says "no limit" with a huge number).
_CGROUP_V2_LIMIT = Path("/sys/fs/cgroup/memory.max")
_CGROUP_V1_LIMIT = Path("/sys/fs/cgroup/memory/memory.limit_in_bytes")
#: The refusals a sample counts: its name in the sample, and the node's counter of it by code.
REFUSALS = ("errors", "rate_limited", "handshake_rejected")


@dataclass(frozen=True, slots=True)
class Thresholds:
    """When to warn; 0 turns a warning off."""

    memory_percent: float = 90.0
    memory_limit: int = 0
    cpu_percent: float = 90.0
    cpu_seconds: float = 30.0
    outbox_bytes: int = 64 * 1024 * 1024
    loop_lag: float = 0.5
    interval: float = 60.0


def resident_memory() -> int:
    """This process's resident set size in bytes (Linux ``/proc``; 0 elsewhere)."""
    try:
        with open("/proc/self/statm", "rb") as statm:
            return int(statm.read().split()[1]) * _PAGE
    except (OSError, ValueError, IndexError):
        return 0


def memory_limit(configured: int = 0) -> int:
    """``configured`` if set, else the cgroup (container) limit, else physical memory."""
    if configured > 0:
        return configured
    physical = int(os.sysconf("SC_PHYS_PAGES")) * _PAGE
    for path in (_CGROUP_V2_LIMIT, _CGROUP_V1_LIMIT):
        with contextlib.suppress(OSError, ValueError):
            text = path.read_text().strip()
            if text != "max" and 0 < int(text) < physical:
                return int(text)
    return physical


class Monitor:
    """Samples the node every ``period`` seconds and keeps ``history`` seconds of samples."""

    def __init__(
        self,
        node: Node,
        thresholds: Thresholds,
        *,
        period: float = 1.0,
        history: float = 300.0,
    ) -> None:
        self.node = node
        self.thresholds = thresholds
        self.period = period
        self.samples: deque[dict[str, Any]] = deque(maxlen=max(1, int(history / period)))
        #: Seconds the last sampling timer fired late.
        self.loop_lag = 0.0
        self.memory_limit = memory_limit(thresholds.memory_limit)
        self._throttles: dict[str, Throttle] = {}
        self._task: asyncio.Task[None] | None = None
        self._new_sample = asyncio.Event()
        self._stopped = False
        self._hot_since: float | None = None
        self._last = self._counters()

    # --- running -------------------------------------------------------------------------------

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        self._stopped = True
        self._new_sample.set()  # wake the live streams, which end
        await cancelled(self._task)
        self._task = None

    async def next_sample(self) -> dict[str, Any] | None:
        """Wait for the next sample (the dashboard's live stream); None once stopped."""
        await self._new_sample.wait()
        if self._stopped or not self.samples:
            return None
        latest: dict[str, Any] = self.samples[-1]
        return latest

    async def _run(self) -> None:
        while True:
            # time.monotonic, not loop.time(): uvloop's clock counts whole milliseconds.
            expected = time.monotonic() + self.period
            await asyncio.sleep(self.period)
            self.loop_lag = max(0.0, time.monotonic() - expected)
            try:
                self.sample()
            except Exception:  # a monitoring bug must not stop monitoring
                log.exception("monitor_sample_failed")

    # --- sampling ------------------------------------------------------------------------------

    def _counters(self) -> dict[str, Any]:
        node = self.node
        stats = node.stats
        return {
            "wall": time.monotonic(),
            "cpu": time.process_time(),
            "opened": node.connections_total,
            "closed": sum(stats.closed.values()),
            "messages_in": node.messages_in(),
            "bytes_in": node.bytes_in(),
            "messages_out": node.outbox.frames_written,
            "bytes_out": node.outbox.bytes_written,
            "processing": list(stats.processing.counts),
            # Copies: the hot path keeps bumping the node's own dicts.
            "errors": dict(stats.errors),
            "rate_limited": dict(stats.rate_limited),
            "handshake_rejected": dict(stats.handshake_rejected),
        }

    def sample(self) -> dict[str, Any]:
        """Take one sample now: rates since the previous one, gauges, then the warnings."""
        now = self._counters()
        last, self._last = self._last, now
        elapsed: float = max(float(now["wall"] - last["wall"]), 1e-9)

        def rate(key: str) -> float:
            return round(float(now[key] - last[key]) / elapsed, 3)

        window = [a - b for a, b in zip(now["processing"], last["processing"], strict=True)]
        p50 = quantile(PROCESSING_BUCKETS, window, 0.5)
        p99 = quantile(PROCESSING_BUCKETS, window, 0.99)
        node = self.node
        counted = node.router.received is not None
        paused, backlog = node.outbox.backlog()
        cpu_percent = round(100.0 * (now["cpu"] - last["cpu"]) / elapsed, 2)
        sample: dict[str, Any] = {
            "t": round(time.time(), 3),
            "node": node.node_id,
            "connections": len(node.registry),
            "opened_per_s": rate("opened"),
            "closed_per_s": rate("closed"),
            # Received messages are counted only with metrics on: None says "not measured".
            "messages_in_per_s": rate("messages_in") if counted else None,
            "messages_out_per_s": rate("messages_out"),
            "bytes_in_per_s": rate("bytes_in") if counted else None,
            "bytes_out_per_s": rate("bytes_out"),
            "p50_ms": None if p50 is None else round(p50 * 1000, 4),
            "p99_ms": None if p99 is None else round(p99 * 1000, 4),
            "memory_bytes": resident_memory(),
            "memory_limit_bytes": self.memory_limit,
            "cpu_percent": cpu_percent,
            "loop_lag_ms": round(self.loop_lag * 1000, 3),
            "outbox_bytes": backlog,
            "outbox_paused": paused,
            "channels": self.busiest_channels(10),
        }
        for kind in REFUSALS:
            by_code = refusal_rates(now[kind], last[kind], elapsed)
            sample[kind] = by_code
            sample[f"{kind}_per_s"] = round(sum(c["per_s"] for c in by_code.values()), 3)
        self.samples.append(sample)
        self._new_sample.set()
        self._new_sample = asyncio.Event()
        self._warn(sample, now["wall"])
        return sample

    def busiest_channels(self, top: int) -> list[dict[str, Any]]:
        subscribers = self.node.channels.subscribers
        # nsmallest, not a sort: clients can make many channels, and this runs every second.
        ranked = heapq.nsmallest(
            top, subscribers.items(), key=lambda item: (-len(item[1]), item[0])
        )
        return [{"channel": name, "subscribers": len(conns)} for name, conns in ranked if conns]

    # --- warnings ------------------------------------------------------------------------------

    def _warn(self, sample: dict[str, Any], now: float) -> None:
        t = self.thresholds
        memory = sample["memory_bytes"]
        if t.memory_percent and self.memory_limit:
            percent = 100.0 * memory / self.memory_limit
            if percent >= t.memory_percent:
                self.warn(
                    "memory_high",
                    memory_bytes=memory,
                    limit_bytes=self.memory_limit,
                    percent=round(percent, 1),
                    threshold_percent=t.memory_percent,
                )
        if t.cpu_percent and sample["cpu_percent"] >= t.cpu_percent:
            if self._hot_since is None:
                self._hot_since = now
            hot_for = now - self._hot_since
            if hot_for >= t.cpu_seconds:
                self.warn(
                    "cpu_high",
                    cpu_percent=sample["cpu_percent"],
                    threshold_percent=t.cpu_percent,
                    for_seconds=round(hot_for, 1),
                )
        else:
            self._hot_since = None
        if t.outbox_bytes and sample["outbox_bytes"] >= t.outbox_bytes:
            self.warn(
                "outbox_backlog",
                backlog_bytes=sample["outbox_bytes"],
                connections=sample["outbox_paused"],
                threshold_bytes=t.outbox_bytes,
            )
        if t.loop_lag and self.loop_lag >= t.loop_lag:
            self.warn(
                "event_loop_lag",
                lag_ms=sample["loop_lag_ms"],
                threshold_ms=round(t.loop_lag * 1000, 3),
            )

    def warn(self, event: str, **fields: Any) -> None:
        """Log the ``event`` warning unless it was logged less than ``interval`` s ago."""
        throttle = self._throttles.get(event)
        if throttle is None:
            throttle = self._throttles[event] = Throttle(self.thresholds.interval)
        throttle(lambda suppressed: log.warning(event, suppressed_since_last=suppressed, **fields))


def refusal_rates(
    now: dict[str, int], last: dict[str, int], elapsed: float
) -> dict[str, dict[str, float]]:
    """``{code: {"total": n, "per_s": rate}}`` for every code counted so far, in code order.

    Codes are the server's own (error codes, rate-limit scopes, handshake reasons), a few
    dozen at most, so a sample stays small however long the node runs.
    """
    return {
        code: {"total": total, "per_s": round((total - last.get(code, 0)) / elapsed, 3)}
        for code, total in sorted(now.items())
    }
