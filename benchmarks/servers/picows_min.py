"""Baseline: a minimal corked picows server (uvloop, msgspec), the design without its features.

Speaks the JSON envelope of ``wsbench -J`` at ``/ws``: ``echo`` -> ``echo_reply`` to the sender,
``broadcast`` -> ``broadcast`` to every open connection, sender included. A reply or broadcast
is framed once (server frames are unmasked, so the bytes suit every client) and queued per
client; one ``call_soon`` at the end of the loop pass writes each client's queue with a single
``write()``. No limits, heartbeats, auth or metrics: what Switchboard pays for those shows
against this.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import struct
from typing import Any

import msgspec
import uvloop
from picows import WSFrame, WSListener, WSMsgType, WSTransport, WSUpgradeRequest, ws_create_server

decode = msgspec.json.Decoder().decode
encode = msgspec.json.Encoder().encode


def text_frame(payload: bytes) -> bytes:
    """One final, unmasked text frame."""
    size = len(payload)
    if size < 126:
        return bytes((0x81, size)) + payload
    if size < 65536:
        return struct.pack("!BBH", 0x81, 126, size) + payload
    return struct.pack("!BBQ", 0x81, 127, size) + payload


class Hub:
    """Every open connection's raw transport and the frames queued for it this loop pass."""

    def __init__(self) -> None:
        self.clients: dict[WSTransport, asyncio.Transport] = {}
        self.queued: dict[asyncio.Transport, list[bytes]] = {}
        self.loop = asyncio.get_running_loop()

    def queue(self, raw: asyncio.Transport, frame: bytes) -> None:
        if not self.queued:
            self.loop.call_soon(self.flush)
        self.queued.setdefault(raw, []).append(frame)

    def flush(self) -> None:
        queued, self.queued = self.queued, {}
        for raw, frames in queued.items():
            if not raw.is_closing():
                raw.write(frames[0] if len(frames) == 1 else b"".join(frames))


class Listener(WSListener):
    def __init__(self, hub: Hub) -> None:
        self.hub = hub

    def on_ws_connected(self, transport: WSTransport) -> None:
        self.raw = transport.underlying_transport
        self.hub.clients[transport] = self.raw

    def on_ws_disconnected(self, transport: WSTransport) -> None:
        self.hub.clients.pop(transport, None)

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        if frame.msg_type == WSMsgType.CLOSE:
            transport.send_close(frame.get_close_code(), frame.get_close_message())
            transport.disconnect()
        elif frame.msg_type == WSMsgType.PING:
            transport.send_pong(frame.get_payload_as_bytes())
        elif frame.msg_type == WSMsgType.TEXT:
            msg: dict[str, Any] = decode(frame.get_payload_as_bytes())
            kind = msg.get("type")
            if kind == "echo":
                out = text_frame(encode({"type": "echo_reply", "data": msg.get("data")}))
                self.hub.queue(self.raw, out)
            elif kind == "broadcast":
                out = text_frame(encode({"type": "broadcast", "data": msg.get("data")}))
                for raw in self.hub.clients.values():
                    self.hub.queue(raw, out)


async def serve(host: str, port: int) -> None:
    hub = Hub()

    def factory(request: WSUpgradeRequest) -> WSListener | None:
        return Listener(hub) if request.path == b"/ws" else None

    # A 2 KiB initial read buffer (it grows on demand), as Switchboard's default, not picows' 16.
    server = await ws_create_server(factory, host, port, read_buffer_init_size=2048)
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        hub.loop.add_signal_handler(sig, stop.set)
    async with server:
        await stop.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    uvloop.run(serve(args.host, args.port))


if __name__ == "__main__":
    main()
