"""``echo``: every connection keeps ``--window`` requests in flight (closed loop) for
``--duration``; the figure is the round trip, with the envelope (``echo``/``echo_reply``) or,
with ``--raw``, bytes that a plain echo server sends back unchanged."""

from __future__ import annotations

import asyncio
import time

from websockets.asyncio.client import ClientConnection

from ..context import Context
from ..wire import close_all, envelope, now_ns, padding, parse, raw_payload, raw_stamp
from .common import open_many, read_until_closed


class EchoClient:
    """One connection's loop: a send whenever a reply frees a place in the window."""

    def __init__(self, ctx: Context, ws: ClientConnection) -> None:
        self.ctx = ctx
        self.ws = ws
        self.window = asyncio.Semaphore(ctx.plan.window)
        self.in_flight = 0
        self.sequence = 0
        self.pad = padding(ctx.plan.size)

    def frame(self) -> str | bytes:
        if self.ctx.plan.raw:
            return raw_payload(now_ns(), self.ctx.plan.size)
        self.sequence += 1
        data = {"t": now_ns(), "p": self.pad}
        return envelope({"type": "echo", "id": self.sequence, "data": data}).decode()

    async def send_loop(self) -> None:
        ctx = self.ctx
        while True:
            await self.window.acquire()
            if ctx.over() or self.ws.close_code is not None:
                return
            self.in_flight += 1
            ctx.live.sent += 1
            ctx.result.counters["sent"] += 1
            try:
                await self.ws.send(self.frame())
            except Exception:  # the connection closed: read_until_closed counts it
                return

    def on_frame(self, frame: str | bytes) -> None:
        ctx = self.ctx
        stamp = self.stamp(frame)
        if stamp is None:
            return
        self.in_flight -= 1
        self.window.release()
        ctx.live.received += 1
        ctx.result.counters["received"] += 1
        now = time.monotonic()
        ctx.result.record("rtt", (now_ns() - stamp) / 1e9, now - ctx.t0)

    def stamp(self, frame: str | bytes) -> int | None:
        """The send time a reply carries; None for frames that answer nothing (welcome)."""
        if self.ctx.plan.raw:
            return raw_stamp(frame)
        message = parse(frame)
        if message is None:
            self.ctx.error("unreadable frame")
            return None
        if message.get("type") == "error":
            self.ctx.error(str(message.get("code")))
            self.in_flight -= 1
            self.window.release()
            return None
        data = message.get("data")
        if message.get("type") != "echo_reply" or not isinstance(data, dict):
            return None
        stamp = data.get("t")
        return stamp if isinstance(stamp, int) else None


async def run(ctx: Context) -> None:
    plan = ctx.plan
    connections = list((await open_many(ctx, plan.share(plan.connections, ctx.worker))).values())
    await ctx.start_line()
    clients = [EchoClient(ctx, ws) for ws in connections]
    readers = [
        asyncio.create_task(read_until_closed(ctx, c.ws, c.on_frame, ctx.over)) for c in clients
    ]
    senders = [asyncio.create_task(c.send_loop()) for c in clients]
    await ctx.sleep_until(ctx.deadline)
    ctx.finish_load()
    for client in clients:
        client.window.release()  # wake every sender so it sees the end
    await asyncio.gather(*senders)
    await ctx.poll(lambda: all(c.in_flight <= 0 for c in clients), time.monotonic() + plan.drain)
    ctx.result.counters["unanswered"] += sum(max(c.in_flight, 0) for c in clients)
    await close_all(connections)
    await asyncio.gather(*readers)
