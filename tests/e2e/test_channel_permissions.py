"""Channel permissions per namespace (roles, user-limited names, channel tokens), real clients."""

from __future__ import annotations

import json
from typing import Any

import websockets

from ..conftest import StartServer, recv_json, ws_url
from ..security.keys import SECRET, token

NAMESPACES = {
    "staff": {"subscribe_roles": ["admin"], "publish_roles": ["admin"]},
    "news": {"publish_roles": ["editor"]},
    "dm": {"user_limited": True},
    "private": {"channel_token": True},
}


async def ask(ws: Any, request: dict[str, Any]) -> dict[str, Any]:
    await ws.send(json.dumps(request))
    while True:
        reply = await recv_json(ws)
        if reply.get("id") == request["id"]:
            return reply


async def test_roles_user_limited_and_channel_tokens(start_server: StartServer) -> None:
    app = await start_server(jwt_secret=SECRET, namespaces=NAMESPACES)
    url = ws_url(app)
    ann = f"{url}?token={token('ann', roles=['admin', 'editor'])}"
    bob = f"{url}?token={token('bob')}"
    async with websockets.connect(ann) as admin, websockets.connect(bob) as user:
        await recv_json(admin)
        await recv_json(user)

        async def outcome(ws: Any, request: dict[str, Any]) -> str:
            reply = await ask(ws, {"id": "r", **request})
            return str(reply["type"] if reply["type"] != "error" else reply["code"])

        sub = {"type": "subscribe"}
        assert await outcome(admin, {**sub, "channel": "staff:ops"}) == "ack"
        assert await outcome(user, {**sub, "channel": "staff:ops"}) == "FORBIDDEN"
        publish = {"type": "publish", "data": 1}
        assert await outcome(user, {**sub, "channel": "news:today"}) == "ack"  # anyone reads
        assert await outcome(user, {**publish, "channel": "news:today"}) == "FORBIDDEN"
        assert await outcome(admin, {**publish, "channel": "news:today"}) == "ack"

        assert await outcome(user, {**sub, "channel": "dm:chat#ann,bob"}) == "ack"
        assert await outcome(user, {**sub, "channel": "dm:chat#ann,carl"}) == "FORBIDDEN"
        assert await outcome(user, {**publish, "channel": "dm:chat#ann,carl"}) == "FORBIDDEN"

        room = "private:board-7"
        assert await outcome(user, {**sub, "channel": room}) == "FORBIDDEN"  # no token
        grant = token("bob", channel=room)
        assert await outcome(user, {**sub, "channel": room, "token": grant}) == "ack"
        other_room = token("bob", channel="private:board-8")
        assert await outcome(user, {**sub, "channel": room, "token": other_room}) == "FORBIDDEN"
        not_bobs = token("ann", channel=room)
        assert await outcome(user, {**sub, "channel": room, "token": not_bobs}) == "FORBIDDEN"
        # Refusals answer that request only: the connection keeps working.
        assert await outcome(user, {"type": "ping"}) == "pong"
