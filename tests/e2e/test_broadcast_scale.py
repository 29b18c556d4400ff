"""Broadcast at scale: 1,000 clients, every message exactly once and in order."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable

import websockets

from ..conftest import ServerProcess, recv_json

Spawn = Callable[..., ServerProcess]
CLIENTS = 1000
MESSAGES = 20


async def test_thousand_clients_each_receive_every_broadcast_once_in_order(
    server_process: Spawn,
) -> None:
    # The server runs in its own process so the 1,000 clients do not share its event loop.
    server = server_process("--log-level", "warning")
    clients = []
    for batch in range(0, CLIENTS, 100):
        clients += await asyncio.gather(
            *(websockets.connect(server.url(), max_queue=None) for _ in range(batch, batch + 100))
        )
    try:
        for ws in clients:
            assert (await recv_json(ws, 10))["type"] == "welcome"
        sender = clients[0]
        for seq in range(MESSAGES):
            await sender.send(json.dumps({"type": "broadcast", "data": {"seq": seq}}))

        async def collect(ws: websockets.ClientConnection) -> list[int]:
            return [(await recv_json(ws, 30))["data"]["seq"] for _ in range(MESSAGES)]

        received = await asyncio.gather(*(collect(ws) for ws in clients))
        assert all(seqs == list(range(MESSAGES)) for seqs in received)
        # Exactly once: nothing more is waiting for anyone.
        await sender.send('{"type":"ping","id":"end"}')
        assert await recv_json(sender) == {"type": "pong", "id": "end"}
    finally:
        await asyncio.gather(*(ws.close() for ws in clients))
