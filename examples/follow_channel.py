"""Follow a channel across reconnects without losing or repeating a message.

python examples/follow_channel.py ws://127.0.0.1:8080/ws room:1
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Callable
from typing import Any

import websockets


async def follow(
    url: str,
    channel: str,
    handle: Callable[[int, Any], None],
    position: dict[str, Any] | None = None,
) -> dict[str, Any] | None:
    """Deliver every publication of ``channel`` to ``handle(offset, data)``, resuming after
    each disconnect from the last position seen. Returns that position when cancelled."""
    while True:
        try:
            async with websockets.connect(url) as ws:
                await ws.recv()  # welcome
                request: dict[str, Any] = {"type": "subscribe", "channel": channel, "id": "sub"}
                if position is not None:
                    request["recover_from"] = position
                await ws.send(json.dumps(request))
                async for raw in ws:
                    msg = json.loads(raw)
                    if msg["type"] == "ack" and msg.get("id") == "sub":
                        if msg.get("recovered") is False:
                            print("gap too old: reload state from the application")
                        position = {"offset": msg["offset"], "epoch": msg["epoch"]}
                    elif msg["type"] == "message" and position is not None:
                        handle(msg["offset"], msg["data"])
                        position = {"offset": msg["offset"], "epoch": position["epoch"]}
        except (OSError, websockets.ConnectionClosed):
            await asyncio.sleep(1)  # back off, then resume from `position`
        except asyncio.CancelledError:
            return position


if __name__ == "__main__":
    asyncio.run(follow(sys.argv[1], sys.argv[2], lambda offset, data: print(offset, data)))
