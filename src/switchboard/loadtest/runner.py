"""Runs a plan over its generator processes and merges what they found.

``--processes 1`` runs the one generator in a thread of this process (nothing to spawn, and
the same code path); more start fresh interpreters (``spawn``: a forked copy of a process
that has threads and an event loop is not safe), joined by a start-line barrier so that the
load phase begins at once everywhere. Ctrl-C sets ``stop``: every generator ends its load
phase early and still reports. A hard bound stops the run if a generator hangs.
"""

from __future__ import annotations

import multiprocessing
import queue
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from ..errors import BenchFailed
from .context import START_LINE_GRACE
from .plan import Plan, raise_file_limit
from .result import Result
from .worker import run_worker

Snapshots = dict[int, dict[str, Any]]
#: Seconds past the expected end after which the run is stopped, then abandoned.
OVERRUN = 15.0


def run_plan(plan: Plan, on_progress: Callable[[Snapshots], None] | None = None) -> Result:
    """Run ``plan`` and return the merged result; ``on_progress`` gets the latest snapshot of
    each generator whenever one arrives."""
    plan = replace(plan, run_id=uuid.uuid4().hex[:8])
    if plan.processes == 1:
        return _run_thread(plan, on_progress)
    return _run_processes(plan, on_progress)


def _expected_end(plan: Plan) -> float:
    setup = plan.total_connections / plan.connect_rate + plan.open_timeout + 5.0
    return time.monotonic() + setup + START_LINE_GRACE + plan.duration + plan.drain + 3.0


def _run_thread(plan: Plan, on_progress: Callable[[Snapshots], None] | None) -> Result:
    raise_file_limit()
    outbox: queue.Queue[Any] = queue.Queue()
    barrier = threading.Barrier(1)
    stop = threading.Event()
    thread = threading.Thread(
        target=run_worker,
        args=(plan, 0, outbox, barrier, stop, False),
        name="switchboard-bench",
        daemon=True,
    )
    thread.start()
    results = _collect(plan, outbox, stop, [thread.is_alive], on_progress)
    thread.join(timeout=OVERRUN)
    return results


def _run_processes(plan: Plan, on_progress: Callable[[Snapshots], None] | None) -> Result:
    context = multiprocessing.get_context("spawn")
    outbox = context.Queue()
    barrier = context.Barrier(plan.processes)
    stop = context.Event()
    processes = [
        context.Process(
            target=run_worker,
            args=(plan, worker, outbox, barrier, stop, True),
            name=f"switchboard-bench-{worker}",
            daemon=True,
        )
        for worker in range(plan.processes)
    ]
    for process in processes:
        process.start()
    try:
        return _collect(plan, outbox, stop, [p.is_alive for p in processes], on_progress)
    finally:
        for process in processes:
            process.join(timeout=OVERRUN)
            if process.is_alive():
                process.terminate()
                process.join(timeout=5)
        outbox.close()


def _collect(
    plan: Plan,
    outbox: Any,
    stop: Any,
    alive: list[Callable[[], bool]],
    on_progress: Callable[[Snapshots], None] | None,
) -> Result:
    """Read the generators' messages until each has sent its result or error."""
    results: dict[int, Result] = {}
    errors: dict[int, str] = {}
    snapshots: Snapshots = {}
    dead_since: dict[int, float] = {}
    end = _expected_end(plan)
    while len(results) + len(errors) < len(alive):
        try:
            kind, worker, payload = outbox.get(timeout=0.25)
        except queue.Empty:
            now = time.monotonic()
            if now > end:
                stop.set()
            if now > end + OVERRUN:
                raise BenchFailed("the generators did not finish in time") from None
            for worker, is_alive in enumerate(alive):
                if worker in results or worker in errors or is_alive():
                    continue
                # its last message may still be in the pipe: give it a moment
                dead_since.setdefault(worker, now)
                if now - dead_since[worker] > 1.0:
                    errors[worker] = "exited without a result"
            continue
        except KeyboardInterrupt:
            if stop.is_set():
                raise  # the second Ctrl-C: give up on the figures
            stop.set()  # the first: end the load phase now; the generators still report
            continue
        if kind == "progress":
            snapshots[worker] = payload
            if on_progress is not None:
                on_progress(snapshots)
        elif kind == "result":
            results[worker] = payload
        else:
            errors[worker] = str(payload)
    if errors:
        # the generator that failed first, not those it left waiting at the start line
        causes = [w for w in sorted(errors) if "BrokenBarrierError" not in errors[w]]
        first = (causes or sorted(errors))[0]
        raise BenchFailed(f"generator {first} failed: {errors[first]}")
    return Result.merged([results[worker] for worker in sorted(results)])
