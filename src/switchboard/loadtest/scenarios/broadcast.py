"""``broadcast``: N connections, ``--publishers`` of them sending ``broadcast`` at ``--rate``
in all; every connection (senders too, as the protocol says) must get every acknowledged
broadcast once, in each sender's order. Figures: delivery latency, loss, duplicates, order."""

from __future__ import annotations

import asyncio

from ..context import Context
from ..wire import close_all
from .common import open_many
from .pubsub import EVERYONE, Receiver, Sender, drain, tally


async def run(ctx: Context) -> None:
    plan = ctx.plan
    numbers = list(ctx.mine(plan.connections))
    connections = await open_many(ctx, len(numbers))
    last = [0.0]
    receivers: list[Receiver] = []
    senders: list[Sender] = []
    # The run's connection g is opened by worker g % processes; senders are g < publishers.
    for step, ws in connections.items():
        number = numbers[step]
        receiver = Receiver(ctx, ws, last)
        receivers.append(receiver)
        if number < plan.publishers:
            receiver.sender = Sender(ctx, receiver.ws, number, [])
            senders.append(receiver.sender)
    ctx.result.receivers[EVERYONE] += len(receivers)
    readers = [receiver.reader() for receiver in receivers]
    await ctx.start_line()
    sending = [asyncio.create_task(sender.run()) for sender in senders]
    await ctx.sleep_until(ctx.deadline)
    ctx.finish_load()
    await asyncio.gather(*sending)
    await drain(ctx, senders, last)
    tally(ctx, receivers)
    await close_all(connections.values())
    await asyncio.gather(*readers)
