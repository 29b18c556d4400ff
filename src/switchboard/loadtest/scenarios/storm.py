"""``storm``: the channels scenario, and at ``--storm-at`` every subscriber's connection is
dropped at once (the TCP connection aborted, as a network failure would) and comes back:
reconnect, subscribe with ``recover_from`` its last offset and epoch. Publishers go on all
along, so loss counts what the resume did not bring back. Figures: each subscriber's time
from the drop to its resumed ack, the time until all had resumed, how many the server could
not recover (``recovered: false``), and the channels scenario's figures."""

from __future__ import annotations

import asyncio
import random
import time

from ..context import Context
from ..wire import dial, failure
from .channels import Fleet, finish, set_up
from .pubsub import Receiver

#: Pause between reconnect attempts of one subscriber whose attempt failed (seconds).
RETRY_PAUSE = 0.05


async def resume(ctx: Context, fleet: Fleet, receiver: Receiver, dropped: float) -> None:
    """Reconnect one subscriber and resume its channel; its figures go in the result."""
    counters = ctx.result.counters
    if ctx.plan.storm_jitter:
        await asyncio.sleep(random.uniform(0, ctx.plan.storm_jitter / 1000))
    while True:
        if ctx.over():
            counters["not_resumed"] += 1
            return
        try:
            ws = await dial(ctx.plan)
        except Exception as exc:  # counted, then tried again until the run ends
            ctx.error(f"reconnect failed: {failure(exc)}")
            await asyncio.sleep(RETRY_PAUSE)
            continue
        break
    ctx.live.open += 1
    receiver.ws = ws
    receiver.dropping = False
    fleet.readers.append(receiver.reader())
    ack = await receiver.subscribe(receiver.channel, recover=True)
    if ack is None:
        counters["not_resumed"] += 1
        return
    took = time.monotonic() - dropped
    ctx.result.record("resume", took)
    ctx.result.maximum("all_resumed_s", round(took, 4))
    counters["resumed"] += 1
    counters["recovered" if ack.get("recovered") is True else "not_recovered"] += 1


async def storm(ctx: Context, fleet: Fleet) -> None:
    ctx.live.phase = "storm"
    dropped = time.monotonic()
    victims = [r for r in fleet.receivers if r.channel in r.epochs]
    for receiver in victims:
        receiver.dropping = True
        receiver.ws.transport.abort()
    ctx.result.counters["dropped"] += len(victims)
    await asyncio.gather(*(resume(ctx, fleet, r, dropped) for r in victims))
    ctx.live.phase = "load"


async def run(ctx: Context) -> None:
    fleet = await set_up(ctx)
    await ctx.start_line()
    sending = [asyncio.create_task(sender.run()) for sender in fleet.senders]
    await ctx.sleep_until(ctx.t0 + ctx.plan.storm_time)
    if not ctx.over():
        await storm(ctx, fleet)
    await ctx.sleep_until(ctx.deadline)
    await finish(ctx, fleet, sending)
