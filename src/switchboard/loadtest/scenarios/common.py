"""What several scenarios do the same way: open their share of connections at the ramp
rate, and read a connection until it closes, counting a close that was not asked for."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from ..context import Context
from ..wire import closed, dial, failure

Handler = Callable[[str | bytes], None]


async def open_many(
    ctx: Context, count: int, began: float | None = None
) -> dict[int, ClientConnection]:
    """Open ``count`` connections at this process's share of ``--connect-rate``, by their
    place 0 .. count - 1; those that fail are counted (``connect failed: <reason>``) and
    left out."""
    plan = ctx.plan
    start = time.monotonic() if began is None else began
    interval = plan.processes / plan.connect_rate

    async def one(step: int) -> ClientConnection | None:
        await ctx.sleep_until(start + step * interval)
        if ctx.stop.is_set():
            return None
        dialled = time.monotonic()
        try:
            ws = await dial(plan)
        except Exception as exc:  # a refused connection is a figure, not a crash
            ctx.error(f"connect failed: {failure(exc)}")
            return None
        ctx.result.record("handshake", time.monotonic() - dialled)
        ctx.live.open += 1
        return ws

    opened = await asyncio.gather(*(one(step) for step in range(count)))
    connections = {step: ws for step, ws in enumerate(opened) if ws is not None}
    ctx.result.counters["connected"] += len(connections)
    return connections


async def read_until_closed(
    ctx: Context, ws: ClientConnection, handle: Handler, expected: Callable[[], bool]
) -> None:
    """Feed every frame of ``ws`` to ``handle``; a close while ``expected()`` is False (the
    run did not ask for it) is counted as ``closed <code>``."""
    try:
        async for frame in ws:
            handle(frame)
    except ConnectionClosed as exc:
        if not expected():
            ctx.error(closed(exc))
    else:  # a normal close (1000, 1001) ends the iteration without an exception
        if not expected():
            ctx.error(f"closed {ws.close_code}")
    finally:
        ctx.live.open -= 1
