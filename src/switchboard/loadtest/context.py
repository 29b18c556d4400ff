"""What a scenario sees in a generator process: its plan and share, the live counters the
progress display reads, the start line shared with the other processes, and the clock."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from .plan import Plan
from .result import Result

#: How long a process waits at the start line for the others (connecting is bounded apart).
START_LINE_GRACE = 30.0


class Barrier(Protocol):
    def wait(self, timeout: float | None = None) -> int: ...
    def abort(self) -> None: ...


class Flag(Protocol):
    def is_set(self) -> bool: ...


@dataclass
class Live:
    """Counters the progress display shows while the run goes (a snapshot every 0.5 s)."""

    phase: str = "connecting"
    open: int = 0
    sent: int = 0
    received: int = 0
    errors: int = 0

    def snapshot(self) -> dict[str, int | str]:
        return {
            "phase": self.phase,
            "open": self.open,
            "sent": self.sent,
            "received": self.received,
            "errors": self.errors,
        }


@dataclass
class Context:
    plan: Plan
    worker: int
    barrier: Barrier
    stop: Flag
    result: Result = field(init=False)
    live: Live = field(default_factory=Live)
    #: ``time.monotonic()`` at the start of the load phase (the same clock in every process
    #: of a host, so timestamps in messages compare across processes).
    t0: float = 0.0

    def __post_init__(self) -> None:
        self.result = Result(self.plan.scenario.value)

    def mine(self, count: int) -> range:
        """The global numbers of the items (connections, publishers) this process runs."""
        return range(self.worker, count, self.plan.processes)

    def error(self, reason: str) -> None:
        self.result.errors[reason] += 1
        self.live.errors += 1

    @property
    def setup_bound(self) -> float:
        """Seconds connecting may take: the ramp at ``--connect-rate``, then one handshake."""
        plan = self.plan
        return plan.total_connections / plan.connect_rate + plan.open_timeout + 5.0

    async def start_line(self) -> None:
        """Wait for every process to be ready, then start the load phase's clock."""
        self.live.phase = "waiting"
        await asyncio.to_thread(self.barrier.wait, self.setup_bound + START_LINE_GRACE)
        self.t0 = time.monotonic()
        self.live.phase = "load"

    def since_start(self) -> float:
        return time.monotonic() - self.t0

    @property
    def deadline(self) -> float:
        """``time.monotonic()`` at which the load phase ends."""
        return self.t0 + self.plan.duration

    def over(self) -> bool:
        """Whether the load phase is over (or stopped); False before it starts."""
        if self.stop.is_set():
            return True
        return self.t0 > 0 and time.monotonic() >= self.deadline

    async def sleep_until(self, when: float) -> None:
        """Sleep until ``when`` (monotonic) or until the run is stopped (Ctrl-C)."""
        while not self.stop.is_set():
            left = when - time.monotonic()
            if left <= 0:
                return
            await asyncio.sleep(min(left, 0.1))

    @staticmethod
    async def poll(condition: Callable[[], bool], until: float) -> bool:
        """Wait until ``condition()`` holds or ``until`` (monotonic) passes; whether it held.
        Polling, because what it waits for (counts over many connections) has no event."""
        while not condition():
            if time.monotonic() >= until:
                return False
            await asyncio.sleep(0.02)
        return True

    def finish_load(self) -> None:
        self.result.maximum("load_s", round(self.since_start(), 3))
        self.live.phase = "draining"
