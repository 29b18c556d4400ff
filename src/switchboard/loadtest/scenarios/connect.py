"""``connect``: open N connections at ``--connect-rate``, hold them for the rest of
``--duration``, and count handshake latency, refusals and connections the server dropped."""

from __future__ import annotations

import asyncio
import time

from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from ..context import Context
from ..wire import close_all, closed, dial, failure


async def run(ctx: Context) -> None:
    plan = ctx.plan
    await ctx.start_line()  # every process ramps at once: the rate is the sum of theirs
    mine = ctx.mine(plan.connections)
    interval = plan.processes / plan.connect_rate
    held: list[ClientConnection] = []
    watchers: list[asyncio.Task[None]] = []
    attempts: list[asyncio.Task[None]] = []

    async def watch(ws: ClientConnection) -> None:
        try:
            async for _ in ws:
                ctx.live.received += 1
        except ConnectionClosed as exc:
            if not ctx.over():
                ctx.error(f"dropped: {closed(exc)}")
                ctx.result.counters["dropped"] += 1
        else:
            if not ctx.over():
                ctx.error(f"dropped: closed {ws.close_code}")
                ctx.result.counters["dropped"] += 1
        ctx.live.open -= 1

    async def attempt() -> None:
        began = time.monotonic()
        ctx.live.sent += 1
        try:
            ws = await dial(plan)
        except Exception as exc:  # every failure is a figure of the run, not a crash
            ctx.error(failure(exc))
            ctx.result.counters["failed"] += 1
            return
        ctx.result.record("handshake", time.monotonic() - began, began - ctx.t0)
        ctx.result.counters["connected"] += 1
        ctx.live.open += 1
        held.append(ws)
        watchers.append(asyncio.create_task(watch(ws)))

    for step, _ in enumerate(mine):
        await ctx.sleep_until(ctx.t0 + step * interval)
        if ctx.over():
            break
        attempts.append(asyncio.create_task(attempt()))
    if attempts:
        await asyncio.wait(attempts)
    ctx.result.maximum("ramp_s", round(ctx.since_start(), 3))
    ctx.live.phase = "holding"
    await ctx.sleep_until(ctx.deadline)
    ctx.result.counters["held"] = sum(1 for ws in held if ws.close_code is None)
    ctx.finish_load()
    await close_all(held)
    await asyncio.gather(*watchers, return_exceptions=True)
