"""Baseline: a plain aiohttp web app, written the straightforward way.

Serves WebSocket at ``/ws`` on 127.0.0.1 with ``web.WebSocketResponse`` and speaks the JSON
envelope protocol that ``wsbench -J`` uses (echo -> echo_reply; broadcast -> every open
connection, sender included, by ``await ws.send_str`` in a loop). JSON goes through the
standard library; the default asyncio event loop is used.
"""

from __future__ import annotations

import argparse
import json

from aiohttp import WSMsgType, web

CLIENTS = web.AppKey("clients", set[web.WebSocketResponse])


async def ws_handler(request: web.Request) -> web.WebSocketResponse:
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    clients = request.app[CLIENTS]
    clients.add(ws)
    try:
        async for msg in ws:
            if msg.type != WSMsgType.TEXT:
                continue
            envelope = json.loads(msg.data)
            kind = envelope.get("type")
            if kind == "echo":
                await ws.send_str(json.dumps({"type": "echo_reply", "data": envelope.get("data")}))
            elif kind == "broadcast":
                out = json.dumps({"type": "broadcast", "data": envelope.get("data")})
                for client in list(clients):
                    if not client.closed:
                        await client.send_str(out)
    finally:
        clients.discard(ws)
    return ws


def make_app() -> web.Application:
    app = web.Application()
    app[CLIENTS] = set()
    app.router.add_get("/ws", ws_handler)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    web.run_app(make_app(), host=args.host, port=args.port, print=None, access_log=None)


if __name__ == "__main__":
    main()
