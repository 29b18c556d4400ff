"""Senders and receivers of the fan-out scenarios (broadcast, channels, storm).

A sender is open loop: message ``k`` is due at ``t0 + k / rate`` whatever the server does
(``rate x duration`` messages in all, however late they go out) and carries its due time,
so a stalled server shows as latency rather than as a quieter test (the wrk2 rule against
coordinated omission). Its data is ``{"s": sender, "q": n, "t": due_ns}``, ``n`` counting
0, 1, 2, ... per destination, which is what a receiver's
:class:`~..streams.StreamTracker` checks for loss, duplicates and order. Only publications
the server acknowledged are owed to receivers.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from typing import Any

from websockets.asyncio.client import ClientConnection

from ..context import Context
from ..streams import StreamTracker
from ..wire import now_ns, padding, parse, send_text
from .common import read_until_closed

#: A receiver is done draining once nothing arrived for this long (seconds).
QUIET = 0.3
#: The destination of a broadcast, in the per-destination tallies.
EVERYONE = "*"


class Sender:
    """One publisher (``publish`` to channels in turn) or broadcaster (``broadcast``)."""

    def __init__(self, ctx: Context, ws: ClientConnection, number: int, channels: list[str]):
        self.ctx = ctx
        self.ws = ws
        self.number = number
        #: Empty for a broadcaster.
        self.channels = channels
        self.next_number: defaultdict[str, int] = defaultdict(int)
        #: Request id -> (destination, due time).
        self.pending: dict[int, tuple[str, float]] = {}
        self.pad = padding(ctx.plan.size)

    async def run(self) -> None:
        ctx, plan = self.ctx, self.ctx.plan
        interval = plan.publishers / plan.rate
        # Publishers are spread over the interval, so P of them do not send at one instant.
        first = ctx.t0 + interval * self.number / plan.publishers
        sent = 0
        while True:
            due = first + sent * interval
            if due >= ctx.deadline:
                return  # the schedule is rate x duration messages, however late they go
            await ctx.sleep_until(due)
            if ctx.stop.is_set() or self.ws.close_code is not None:
                return
            if self.channels:
                destination = self.channels[(self.number + sent) % len(self.channels)]
            else:
                destination = EVERYONE
            sent += 1
            data = {
                "s": self.number,
                "q": self.next_number[destination],
                "t": round(due * 1e9),
                "p": self.pad,
            }
            self.next_number[destination] += 1
            message: dict[str, Any] = {"type": "broadcast", "id": sent, "data": data}
            if destination != EVERYONE:
                message.update(type="publish", channel=destination)
            self.pending[sent] = (destination, due)
            ctx.live.sent += 1
            ctx.result.counters["sent"] += 1
            try:
                await send_text(self.ws, message)
            except Exception:  # closed under us: the reader counts the close
                return

    def handle(self, message: dict[str, Any]) -> bool:
        """Take an ack or error that answers one of this sender's requests (True if so)."""
        kind = message.get("type")
        request = message.get("id")
        if kind not in ("ack", "error") or not isinstance(request, int):
            return False
        if request not in self.pending:
            return False
        destination, due = self.pending.pop(request)
        if kind == "error":
            self.ctx.error(str(message.get("code")))
            self.ctx.result.counters["refused"] += 1
            return True
        self.ctx.result.expected[destination] += 1
        self.ctx.result.record("ack", time.monotonic() - due)
        return True


class Receiver:
    """One connection that counts what reaches it: broadcasts, or channel messages."""

    def __init__(self, ctx: Context, ws: ClientConnection, last: list[float]) -> None:
        self.ctx = ctx
        self.ws = ws
        self.streams: dict[tuple[str, int], StreamTracker] = {}
        #: Per channel: the last offset seen and the epoch of the subscription.
        self.offsets: dict[str, int] = {}
        self.epochs: dict[str, Any] = {}
        self.acks: dict[str, asyncio.Future[dict[str, Any]]] = {}
        #: Shared by every receiver of the process: when the last delivery arrived.
        self.last = last
        self.sender: Sender | None = None
        #: The channel it subscribes to (channels and storm).
        self.channel = ""
        #: Set while the storm drops this connection on purpose.
        self.dropping = False

    def on_frame(self, frame: str | bytes) -> None:
        message = parse(frame)
        if message is None:
            self.ctx.error("unreadable frame")
            return
        kind = message.get("type")
        if kind == "message" or kind == "broadcast":
            self.deliver(message)
        elif self.sender is not None and self.sender.handle(message):
            pass
        elif kind in ("ack", "error") and message.get("id") in self.acks:
            future = self.acks.pop(str(message.get("id")))
            if not future.done():
                future.set_result(message)
        elif kind == "error":
            self.ctx.error(str(message.get("code")))

    def deliver(self, message: dict[str, Any]) -> None:
        ctx = self.ctx
        channel = message.get("channel")
        destination = channel if isinstance(channel, str) else EVERYONE
        offset = message.get("offset")
        if isinstance(channel, str) and isinstance(offset, int):
            self.offsets[channel] = max(offset, self.offsets.get(channel, 0))
        data = message.get("data")
        if not isinstance(data, dict):
            return  # not ours (another client's publication)
        sender, number, due = data.get("s"), data.get("q"), data.get("t")
        if not (isinstance(sender, int) and isinstance(number, int) and isinstance(due, int)):
            return
        stream = self.streams.get((destination, sender))
        if stream is None:
            stream = self.streams[(destination, sender)] = StreamTracker()
        ctx.live.received += 1
        now = time.monotonic()
        self.last[0] = now
        if stream.seen(number):
            ctx.result.record("delivery", (now_ns() - due) / 1e9, now - ctx.t0)

    async def subscribe(self, channel: str, recover: bool = False) -> dict[str, Any] | None:
        """Subscribe (with ``recover_from`` the last offset and epoch when ``recover``); the
        ack, or None after counting why there was none."""
        request = f"sub-{channel}"
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.acks[request] = future
        message: dict[str, Any] = {"type": "subscribe", "channel": channel, "id": request}
        if recover and channel in self.epochs:
            last = self.offsets.get(channel, 0)
            message["recover_from"] = {"offset": last, "epoch": self.epochs[channel]}
        try:
            await send_text(self.ws, message)
            ack = await asyncio.wait_for(future, self.ctx.plan.open_timeout)
        except TimeoutError:
            self.ctx.error("subscribe timeout")
            return None
        except Exception:  # the connection closed: its reader counts the close
            return None
        finally:
            self.acks.pop(request, None)
        if ack.get("type") == "error":
            self.ctx.error(f"subscribe refused: {ack.get('code')}")
            return None
        epoch, offset = ack.get("epoch"), ack.get("offset")
        if epoch is not None:
            self.epochs[channel] = epoch
        if isinstance(offset, int) and (not recover or not ack.get("recovered")):
            self.offsets[channel] = max(offset, self.offsets.get(channel, 0))
        return ack

    def reader(self) -> asyncio.Task[None]:
        """Read the current connection until it closes."""
        ws = self.ws

        def expected() -> bool:
            # over, dropped by the storm, or replaced by the storm's new connection already
            return self.dropping or self.ctx.over() or self.ws is not ws

        return asyncio.create_task(read_until_closed(self.ctx, ws, self.on_frame, expected))


async def drain(ctx: Context, senders: list[Sender], last: list[float]) -> None:
    """After the load phase: wait for the senders' acks, then for the receivers to go quiet
    (each bounded by ``--drain``); what is still unacknowledged is counted ``unacked``."""
    until = time.monotonic() + ctx.plan.drain
    await ctx.poll(lambda: not any(s.pending for s in senders), until)
    ctx.result.counters["unacked"] += sum(len(s.pending) for s in senders)
    await ctx.poll(lambda: time.monotonic() - last[0] >= QUIET, until)


def tally(ctx: Context, receivers: list[Receiver]) -> None:
    """Put the receivers' streams in the result: distinct deliveries, duplicates, reorders."""
    for receiver in receivers:
        for (destination, _), stream in receiver.streams.items():
            ctx.result.unique[destination] += stream.unique
            ctx.result.counters["received"] += stream.unique
            ctx.result.counters["duplicates"] += stream.duplicates
            ctx.result.counters["reordered"] += stream.reordered
