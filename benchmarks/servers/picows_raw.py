"""Baseline: the raw picows core API on uvloop, written the straightforward way.

Serves WebSocket at ``/ws`` on 127.0.0.1 and speaks the JSON envelope protocol that
``wsbench -J`` uses:

* ``{"type": "echo", "data": X}`` -> ``{"type": "echo_reply", "data": X}`` to the sender;
* ``{"type": "broadcast", "data": X}`` -> ``{"type": "broadcast", "data": X}`` to every open
  connection (sender included), one ``transport.send`` per connection.

JSON goes through msgspec; picows options are left at their defaults.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
from typing import Any

import msgspec
import uvloop
from picows import WSFrame, WSListener, WSMsgType, WSTransport, WSUpgradeRequest, ws_create_server

PATH = b"/ws"
decode = msgspec.json.Decoder().decode
encode = msgspec.json.Encoder().encode


class EnvelopeListener(WSListener):
    """One instance per connection; ``clients`` is shared by all of them."""

    def __init__(self, clients: set[WSTransport]) -> None:
        self.clients = clients

    def on_ws_connected(self, transport: WSTransport) -> None:
        self.clients.add(transport)

    def on_ws_disconnected(self, transport: WSTransport) -> None:
        self.clients.discard(transport)

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        if frame.msg_type == WSMsgType.CLOSE:
            transport.send_close(frame.get_close_code(), frame.get_close_message())
            transport.disconnect()
            return
        if frame.msg_type != WSMsgType.TEXT:
            return
        msg: dict[str, Any] = decode(frame.get_payload_as_bytes())
        kind = msg.get("type")
        if kind == "echo":
            transport.send(WSMsgType.TEXT, encode({"type": "echo_reply", "data": msg.get("data")}))
        elif kind == "broadcast":
            out = encode({"type": "broadcast", "data": msg.get("data")})
            for client in self.clients:
                client.send(WSMsgType.TEXT, out)


async def serve(host: str, port: int) -> None:
    clients: set[WSTransport] = set()

    def factory(request: WSUpgradeRequest) -> WSListener | None:
        return EnvelopeListener(clients) if request.path == PATH else None

    server = await ws_create_server(factory, host, port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
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
