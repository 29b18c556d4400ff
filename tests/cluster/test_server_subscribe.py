"""Server-side subscribe, unsubscribe and disconnect by user across two nodes over a real
Redis: the call is made on one node, the user's connections are on both."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from switchboard import App

from ..conftest import StartServer, recv_json, timeout
from ..test_serverside import logged_in, login_app


async def two_nodes(start_server: StartServer, redis_url: str) -> tuple[App, App]:
    prefix = f"t{uuid.uuid4().hex[:10]}:"
    settings: dict[str, Any] = {"broker": redis_url, "broker_prefix": prefix}
    first = await start_server(login_app(), node_id="node-1", **settings)
    second = await start_server(login_app(), node_id="node-2", **settings)
    return first, second


async def test_subscribe_a_user_on_every_node(start_server: StartServer, redis_url: str) -> None:
    one, two = await two_nodes(start_server, redis_url)
    here, there = await logged_in(one, "ann"), await logged_in(two, "ann")
    bob = await logged_in(two, "bob")
    try:
        assert await one.subscribe("room:9", user="ann") == 2
        for ws in (here, there):
            subscribed = await recv_json(ws, timeout(5))
            assert (subscribed["type"], subscribed["channel"]) == ("subscribed", "room:9")
        offset = await two.publish("room:9", "from node 2")
        for ws in (here, there):
            message = await recv_json(ws, timeout(5))
            assert (message["offset"], message["data"]) == (offset, "from node 2")
        await bob.send('{"type":"ping","id":1}')
        assert await recv_json(bob) == {"type": "pong", "id": 1}

        assert await two.unsubscribe("room:9", user="ann") == 2
        for ws in (here, there):
            assert await recv_json(ws, timeout(5)) == {"type": "unsubscribed", "channel": "room:9"}

        assert await two.disconnect_user("ann", 4000, "bye") == 2
        for ws in (here, there):
            await asyncio.wait_for(ws.wait_closed(), timeout(5))
            assert ws.close_code == 4000
    finally:
        for ws in (here, there, bob):
            await ws.close()
