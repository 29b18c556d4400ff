"""A one-off read of a channel's history from the central, for a local client resuming
from further back than the edge kept.

The wire protocol has no history request: a ``subscribe`` with ``recover_from`` is how a
client reads what it missed. This opens a connection of its own (so the edge's live
subscription of the channel, on its upstream connection, is never touched), subscribes
with ``recover_from``, collects the missed publications up to the ack's offset, and closes.
"""

from __future__ import annotations

import asyncio
from typing import Any

import msgspec
import websockets
from websockets.typing import Subprotocol

from ..broker.base import Publication, Recovery, StreamPosition
from ..errors import ErrorReply

_decode = msgspec.json.Decoder(dict[str, Any]).decode
_encode = msgspec.json.encode


async def replay(
    url: str, token: str | None, channel: str, since: StreamPosition, within: float
) -> Recovery:
    """What ``channel`` published after ``since``, as the central's history holds it."""
    # wait_for, not asyncio.timeout: a serial route's first step runs outside a task.
    return await asyncio.wait_for(_replay(url, token, channel, since), within)


async def _replay(url: str, token: str | None, channel: str, since: StreamPosition) -> Recovery:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with websockets.connect(
        url, subprotocols=[Subprotocol("v1.json")], additional_headers=headers, max_size=None
    ) as ws:
        await ws.recv()  # the welcome
        recover_from = {"offset": since.offset, "epoch": since.epoch}
        request = {"type": "subscribe", "channel": channel, "id": 1, "recover_from": recover_from}
        await ws.send(_encode(request).decode())  # a text frame: v1.json
        position: StreamPosition | None = None
        missed: list[Publication] = []
        while True:  # (recv, not ``async for``: a return here leaves no generator open)
            frame = _decode(await ws.recv())
            kind = frame.get("type")
            if position is None:
                if frame.get("id") != 1:
                    continue
                if kind == "error":
                    raise ErrorReply(frame)
                position = StreamPosition(int(frame.get("offset", 0)), str(frame.get("epoch", "")))
                if not frame.get("recovered"):
                    return Recovery(False, position)
                if since.offset >= position.offset:
                    return Recovery(True, position)
            elif kind == "message" and frame.get("channel") == channel:
                offset = int(frame.get("offset", 0))
                if since.offset < offset <= position.offset:
                    data = _encode(frame.get("data"))
                    missed.append(Publication(channel, offset, position.epoch, data))
                if offset >= position.offset:
                    return Recovery(True, position, missed)
