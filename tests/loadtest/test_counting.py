"""The counting is proven against a server of this test's own (``websockets``) that speaks
the envelope like Switchboard but, on purpose, never delivers one publication, delivers
two others swapped and one twice: the report must say exactly that. It also records the
handshake, to prove where the token, the headers and the source address went."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from typing import Any

from websockets.asyncio.server import ServerConnection, serve
from websockets.http11 import Request

from .conftest import bench

#: On channel ...-0: offset DROP is never delivered, offset TWICE is delivered twice.
DROP, TWICE = 5, 12
#: On channel ...-1: offsets SWAP and SWAP + 1 are delivered in the other order.
SWAP = 8


class FaultyServer:
    def __init__(self) -> None:
        self.subscribers: defaultdict[str, list[ServerConnection]] = defaultdict(list)
        self.offsets: Counter[str] = Counter()
        self.held: dict[str, str] = {}
        self.requests: list[Request] = []
        self.peers: list[str] = []

    async def handler(self, ws: ServerConnection) -> None:
        assert ws.request is not None
        self.requests.append(ws.request)
        self.peers.append(ws.remote_address[0])
        async for raw in ws:
            message: dict[str, Any] = json.loads(raw)
            channel = message.get("channel", "")
            if message["type"] == "subscribe":
                self.subscribers[channel].append(ws)
                ack = {"type": "ack", "id": message.get("id"), "channel": channel}
                await ws.send(json.dumps({**ack, "offset": self.offsets[channel], "epoch": "e"}))
            elif message["type"] == "publish":
                self.offsets[channel] += 1
                offset = self.offsets[channel]
                ack = {"type": "ack", "id": message["id"], "offset": offset, "epoch": "e"}
                await ws.send(json.dumps(ack))
                await self.deliver(channel, offset, message["data"])

    async def deliver(self, channel: str, offset: int, data: Any) -> None:
        frame = json.dumps({"type": "message", "channel": channel, "offset": offset, "data": data})
        frames = [frame]
        if channel.endswith("-0") and offset == DROP:
            frames = []
        elif channel.endswith("-0") and offset == TWICE:
            frames = [frame, frame]
        elif channel.endswith("-1") and offset == SWAP:
            self.held[channel] = frame
            frames = []
        elif channel.endswith("-1") and offset == SWAP + 1:
            frames = [frame, self.held.pop(channel)]
        for subscriber in self.subscribers[channel]:
            for each in frames:
                await subscriber.send(each)


async def test_one_lost_one_swapped_one_duplicated_are_counted_exactly() -> None:
    server = FaultyServer()
    async with serve(server.handler, "127.0.0.1", 0) as listener:
        port = listener.sockets[0].getsockname()[1]
        figures = await bench(
            "channels", f"ws://127.0.0.1:{port}/ws?room=1",
            "-c", "2", "--channels", "2", "--publishers", "1", "--rate", "40", "-d", "1",
            "--token", "s3cret", "--token-in", "both", "-H", "X-Bench: yes",
            "--source-address", "127.0.0.2",
        )  # fmt: skip
    # 40 publications in a second, alternating: 20 per channel, one subscriber on each
    assert figures["counters"]["sent"] == 40
    assert dict(server.offsets) and all(count == 20 for count in server.offsets.values())
    assert figures["delivery"] == {
        "expected": 40,
        "received": 39,
        "lost": 1,
        "duplicates": 1,
        "reordered": 1,
        "unacked": 0,
        "refused": 0,
    }
    assert figures["latency_ms"]["delivery"]["count"] == 39  # once each, duplicates aside
    assert figures["latency_ms"]["ack"]["count"] == 40
    for request in server.requests:
        assert request.headers["Authorization"] == "Bearer s3cret"
        assert request.headers["X-Bench"] == "yes"
        assert request.path == "/ws?room=1&token=s3cret"
    assert server.peers == ["127.0.0.2"] * 3  # two subscribers and the publisher
