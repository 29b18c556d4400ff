"""``channels``: N subscribers over M channels (subscriber g on channel g mod M) and P
publishers of their own publishing at ``--rate`` in all, each to the channels in turn.
Figures: publish-to-delivery latency, publish-to-ack latency, loss, duplicates, order."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from websockets.asyncio.client import ClientConnection

from ..context import Context
from ..wire import close_all
from .common import open_many
from .pubsub import Receiver, Sender, drain, tally


@dataclass
class Fleet:
    """The connections of one process in a channels run (the storm reuses them)."""

    receivers: list[Receiver] = field(default_factory=list)
    senders: list[Sender] = field(default_factory=list)
    readers: list[asyncio.Task[None]] = field(default_factory=list)
    #: When the last delivery of the process arrived (shared by its receivers).
    last: list[float] = field(default_factory=lambda: [0.0])

    def connections(self) -> list[ClientConnection]:
        return [r.ws for r in self.receivers] + [s.ws for s in self.senders]


async def set_up(ctx: Context) -> Fleet:
    """Open and subscribe this process's subscribers, then open its publishers."""
    plan = ctx.plan
    fleet = Fleet()
    numbers = list(ctx.mine(plan.connections))
    publishers = list(ctx.mine(plan.publishers))
    everything = await open_many(ctx, len(numbers) + len(publishers))
    for step, ws in everything.items():
        receiver = Receiver(ctx, ws, fleet.last)
        if step < len(numbers):
            receiver.channel = plan.channel(numbers[step] % plan.channels)
            fleet.receivers.append(receiver)
        else:
            names = [plan.channel(m) for m in range(plan.channels)]
            receiver.sender = Sender(ctx, ws, publishers[step - len(numbers)], names)
            fleet.senders.append(receiver.sender)
        fleet.readers.append(receiver.reader())
    acks = await asyncio.gather(*(r.subscribe(r.channel) for r in fleet.receivers))
    subscribed = [r for r, ack in zip(fleet.receivers, acks, strict=True) if ack is not None]
    for receiver in subscribed:
        ctx.result.receivers[receiver.channel] += 1
    ctx.result.counters["subscribed"] += len(subscribed)
    return fleet


async def finish(ctx: Context, fleet: Fleet, sending: list[asyncio.Task[None]]) -> None:
    """End the load phase: stop sending, drain, count, close."""
    ctx.finish_load()
    await asyncio.gather(*sending)
    await drain(ctx, fleet.senders, fleet.last)
    tally(ctx, fleet.receivers)
    await close_all(fleet.connections())
    await asyncio.gather(*fleet.readers)


async def run(ctx: Context) -> None:
    fleet = await set_up(ctx)
    await ctx.start_line()
    sending = [asyncio.create_task(sender.run()) for sender in fleet.senders]
    await ctx.sleep_until(ctx.deadline)
    await finish(ctx, fleet, sending)
