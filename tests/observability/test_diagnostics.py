"""On-demand diagnostics on a real loop: allocation sites and the loop's pass time."""

from __future__ import annotations

import asyncio
import time
import tracemalloc

from switchboard.observability.diagnostics import AllocationTracer, loop_pass_lag

from ..conftest import timeout

KEPT: list[bytes] = []


async def allocate_while_traced() -> None:
    await asyncio.sleep(0)  # one loop pass (no wait): tracing has begun by then
    KEPT.extend(bytes(1024) + bytes([i % 256]) for i in range(2000))


async def test_the_report_names_the_site_of_allocations_still_alive() -> None:
    tracer = AllocationTracer()
    was_tracing = tracemalloc.is_tracing()  # PYTHONTRACEMALLOC=1 turns it on for good
    KEPT.clear()
    try:
        worker = asyncio.ensure_future(allocate_while_traced())
        report = await tracer.report(timeout(0.05), top=5)
        await worker
    finally:
        KEPT.clear()
    assert tracemalloc.is_tracing() == was_tracing  # left as it was found
    top = report.top[0]
    assert top.where.startswith(__file__) and top.count >= 2000
    assert top.size_bytes >= 2000 * 1024
    assert report.total_bytes >= top.size_bytes


async def test_one_report_at_a_time() -> None:
    tracer = AllocationTracer()
    running = asyncio.ensure_future(tracer.report(timeout(0.05), top=1))
    await asyncio.sleep(0)  # one loop pass (no wait): the report task takes the lock
    assert tracer.busy
    await running
    assert not tracer.busy


async def test_loop_pass_lag_measures_what_waits_ahead_of_a_callback() -> None:
    assert 0 <= await loop_pass_lag() < timeout(0.05)
    loop = asyncio.get_running_loop()
    loop.call_soon(time.sleep, 0.05)  # a blocking callback already queued
    assert await loop_pass_lag() >= 0.05
