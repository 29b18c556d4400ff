"""The generator process of ``scale.py``: one share of the held connections, and the publisher.

``scale.py --generator K`` runs :func:`main`: it opens ``--count`` connections from
``--source`` (100 at a time, each waiting for its ``welcome``), subscribes the first
``--subscribe`` of them to :data:`CHANNEL` (waiting for the ack), prints ``{"ready": N, ...}``
and waits for a line on stdin. Then it holds them for ``--duration`` seconds; generator 0
(``--publisher``) also publishes ``--rate`` times a second on one more connection, each
publication stamped with ``time.monotonic_ns()``. At the end it prints one JSON line (drops by
reason, deliveries, every delivery's latency in microseconds) and aborts its connections.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from typing import Any

from harness import config as cfg
from harness.procs import hand_over
from harness.wsclient import Client, open_client, upgrade_request

CHANNEL = "scale:live"
OPEN_CONCURRENCY = 100  # handshakes in flight per generator
OPEN_TIMEOUT_S = 30.0
RAMP_TIMEOUT_S = 300.0  # one generator's connections all opened (and subscribed)
DRAIN_S = 3.0  # after the last publication, for late deliveries and acks


class Generator:
    """One process's share: ``count`` connections, the first ``subscribers`` of them subscribed."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.clients: list[Client] = []
        self.failed: dict[str, int] = {}
        self.latency_us: list[int] = []
        self.seen: list[set[int]] = []
        self.dropped: dict[str, int] = {}
        self.ending = False  # set before this process closes its own connections
        self.errors = 0
        self.subscribed = 0

    def on_message(self, index: int) -> Any:
        seen = self.seen[index]

        def handle(payload: bytes) -> None:
            now = time.monotonic_ns()
            msg = json.loads(payload)
            if msg.get("type") == "message" and msg.get("channel") == CHANNEL:
                data = msg["data"]
                self.latency_us.append((now - data["t"]) // 1000)
                seen.add(data["seq"])
            elif msg.get("type") == "error":
                self.errors += 1

        return handle

    async def open_one(self, index: int, limit: asyncio.Semaphore) -> None:
        subscriber = index < self.args.subscribe
        self.seen.append(set())
        async with limit:
            request = upgrade_request(cfg.HOST, self.args.port, cfg.WS_PATH)
            client: Client | None = None
            try:
                client = await asyncio.wait_for(
                    open_client(
                        cfg.HOST,
                        self.args.port,
                        request,
                        self.args.source,
                        self.on_message(index) if subscriber else None,
                    ),
                    OPEN_TIMEOUT_S,
                )
                await asyncio.wait_for(asyncio.shield(client.first), OPEN_TIMEOUT_S)
                if subscriber:
                    await self.subscribe(client)
                    self.subscribed += 1
            except (OSError, ConnectionError, TimeoutError, ValueError) as exc:
                why = "timeout" if isinstance(exc, TimeoutError) else str(exc)[:60]
                self.failed[why] = self.failed.get(why, 0) + 1
                if client is not None:
                    client.reset()
                return
            client.closed.add_done_callback(self.on_closed)
            self.clients.append(client)

    async def subscribe(self, client: Client) -> None:
        acked: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        client.on_text, handler = acked.set_result, client.on_text
        client.send_text(json.dumps({"type": "subscribe", "channel": CHANNEL, "id": "s"}).encode())
        reply = json.loads(await asyncio.wait_for(acked, OPEN_TIMEOUT_S))
        client.on_text = handler
        if reply.get("type") != "ack":
            raise ValueError(f"subscribe answered {reply.get('type')}: {reply.get('code')}")

    def on_closed(self, closed: asyncio.Future[int | None]) -> None:
        if not self.ending:
            why = f"close {closed.result()}" if closed.result() else "connection lost"
            self.dropped[why] = self.dropped.get(why, 0) + 1

    async def publish(self, stats: dict[str, Any]) -> None:
        """Generator 0: ``rate`` publications a second on an extra connection, acks counted."""
        acks: list[int] = []

        def on_ack(payload: bytes) -> None:
            msg = json.loads(payload)
            if msg.get("type") == "ack":
                acks.append(1)
            elif msg.get("type") == "error":
                stats["publish_errors"] += 1

        request = upgrade_request(cfg.HOST, self.args.port, cfg.WS_PATH)
        publisher = await open_client(cfg.HOST, self.args.port, request, self.args.source, on_ack)
        await asyncio.wait_for(asyncio.shield(publisher.first), OPEN_TIMEOUT_S)
        start, interval = time.monotonic(), 1.0 / self.args.rate
        total = int(self.args.duration * self.args.rate)
        for seq in range(total):
            await asyncio.sleep(max(0.0, start + seq * interval - time.monotonic()))
            data = {"seq": seq, "t": time.monotonic_ns()}
            msg = {"type": "publish", "channel": CHANNEL, "data": data, "id": str(seq)}
            publisher.send_text(json.dumps(msg).encode())
            stats["published"] += 1
        await asyncio.sleep(DRAIN_S)
        stats["acked"] = len(acks)
        publisher.reset()

    async def run(self) -> dict[str, Any]:
        limit = asyncio.Semaphore(OPEN_CONCURRENCY)
        started = time.monotonic()
        opening = asyncio.gather(*(self.open_one(i, limit) for i in range(self.args.count)))
        try:
            await asyncio.wait_for(opening, RAMP_TIMEOUT_S)
        except TimeoutError:  # the connections still opening are given up
            given_up = self.args.count - len(self.clients) - sum(self.failed.values())
            self.failed["ramp timeout"] = given_up
        open_s = time.monotonic() - started
        ready = {"ready": len(self.clients), "open_s": open_s, "failed": self.failed}
        print(json.dumps(ready), flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)  # "go"
        stats: dict[str, Any] = {"published": 0, "acked": 0, "publish_errors": 0}
        if self.args.publisher:
            await self.publish(stats)
        else:
            await asyncio.sleep(self.args.duration + DRAIN_S)
        self.ending = True
        open_at_end = sum(1 for client in self.clients if not client.closed.done())
        received = sum(len(seen) for seen in self.seen[: self.args.subscribe])
        for client in self.clients:
            client.reset()
        return {
            **stats,
            "opened": len(self.clients),
            "open_at_end": open_at_end,
            "subscribers": self.subscribed,
            "received": received,
            "dropped": self.dropped,
            "errors": self.errors,
            "latency_us": self.latency_us,
        }


def main(args: argparse.Namespace) -> int:
    import uvloop

    result = uvloop.run(Generator(args).run())
    hand_over(args.out, result)
    return 0
