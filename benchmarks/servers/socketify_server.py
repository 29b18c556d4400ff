"""Baseline: uWebSockets through its Python binding, socketify, with the JSON envelope in Python.

Serves WebSocket at ``/ws`` and speaks the JSON envelope protocol of ``wsbench -J``, decoded
and encoded with msgspec in Python like the other baselines:

* ``{"type": "echo", "data": X}`` -> ``{"type": "echo_reply", "data": X}`` by ``ws.send``;
* ``{"type": "broadcast", "data": X}`` -> ``{"type": "broadcast", "data": X}`` to every open
  connection, sender included, by one ``app.publish`` on the topic every connection joins on
  open. uWebSockets' pub/sub hands the message to each subscriber inside C++ and corks the
  writes to the end of the loop iteration (one ``write()`` per socket), which is its fastest
  way to fan out: a Python loop of ``ws.send`` pays one call through cffi per client.

``max_backpressure`` is raised to 16 MiB: at the default 64 KiB uWebSockets skips slow
subscribers silently, which wsbench would count as lost broadcasts; the other servers buffer.
No permessage-deflate, no idle timeout that a benchmark could hit.
"""

from __future__ import annotations

import argparse
import signal
from typing import Any

import msgspec
from socketify import App, AppListenOptions, OpCode

TOPIC = "all"
decode = msgspec.json.Decoder().decode
encode = msgspec.json.Encoder().encode


def build(app: App) -> None:
    def on_open(ws: Any) -> None:
        ws.subscribe(TOPIC)

    def on_message(ws: Any, message: str | bytes, opcode: OpCode) -> None:
        if opcode != OpCode.TEXT:
            return
        msg: dict[str, Any] = decode(message)
        kind = msg.get("type")
        if kind == "echo":
            ws.send(encode({"type": "echo_reply", "data": msg.get("data")}), OpCode.TEXT)
        elif kind == "broadcast":
            app.publish(TOPIC, encode({"type": "broadcast", "data": msg.get("data")}), OpCode.TEXT)

    app.ws(
        "/ws",
        {
            "compression": 0,
            "max_payload_length": 1024 * 1024,
            "max_backpressure": 16 * 1024 * 1024,
            "idle_timeout": 960,  # the largest uWebSockets takes (seconds)
            "open": on_open,
            "message": on_message,
        },
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    app = App()
    build(app)
    app.listen(AppListenOptions(port=args.port, host=args.host))
    signal.signal(signal.SIGTERM, lambda signum, frame: app.close())
    app.run()


if __name__ == "__main__":
    main()
