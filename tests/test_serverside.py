"""The server-side API of ``App`` (``serverside.py``): subscribe, unsubscribe, publish with a
skip and disconnect by user, over real sockets with the ``websockets`` client."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
import websockets

from switchboard import App, Connection, Envelope

from .conftest import StartServer, recv_json, ws_url


def login_app() -> App:
    """An app whose ``login`` route makes the connection the user its data names."""
    app = App()

    @app.route("login")
    def login(conn: Connection, msg: Envelope) -> None:
        app.set_user(conn, msg.value())

    return app


async def logged_in(app: App, user: str) -> Any:
    ws = await websockets.connect(ws_url(app))
    await recv_json(ws)  # welcome
    await ws.send(f'{{"type":"login","data":"{user}","id":"l"}}')
    assert await recv_json(ws) == {"type": "ack", "id": "l"}
    return ws


async def test_subscribe_a_user_reaches_each_of_its_connections(start_server: StartServer) -> None:
    app = await start_server(login_app())
    first, second, other = [await logged_in(app, u) for u in ("ann", "ann", "bob")]
    try:
        assert await app.subscribe("room:1", user="ann") == 2
        for ws in (first, second):
            subscribed = await recv_json(ws)
            assert subscribed == {
                "type": "subscribed",
                "channel": "room:1",
                "offset": 0,
                "epoch": subscribed["epoch"],
            }
        offset = await app.publish("room:1", {"text": "hi"})
        for ws in (first, second):
            message = await recv_json(ws)
            assert message == {"type": "message", "channel": "room:1", "offset": offset,
                               "data": {"text": "hi"}}  # fmt: skip
        await other.send('{"type":"ping","id":1}')
        assert await recv_json(other) == {"type": "pong", "id": 1}  # bob got nothing

        assert await app.unsubscribe("room:1", user="ann") == 2
        for ws in (first, second):
            assert await recv_json(ws) == {"type": "unsubscribed", "channel": "room:1"}
        await app.publish("room:1", "after")
        await first.send('{"type":"ping","id":2}')
        assert await recv_json(first) == {"type": "pong", "id": 2}  # no more publications
    finally:
        for ws in (first, second, other):
            await ws.close()


async def test_subscribe_by_connection_id_or_object_and_resume_from_its_offset(
    start_server: StartServer,
) -> None:
    app = App()
    seen: list[Connection] = []

    @app.route("hello")
    def hello(conn: Connection, msg: Envelope) -> None:
        seen.append(conn)

    await start_server(app)
    async with websockets.connect(ws_url(app)) as ws:
        conn_id = (await recv_json(ws))["connection_id"]
        assert await app.subscribe("news", connection="c-nobody") == 0
        assert await app.subscribe("news", connection=conn_id) == 1
        subscribed = await recv_json(ws)
        assert subscribed["type"] == "subscribed" and "id" not in subscribed
        first = await app.publish("news", 1)
        last = await recv_json(ws)
        assert (last["offset"], last["data"]) == (first, 1)
        await ws.send('{"type":"hello","id":"h"}')
        assert await recv_json(ws) == {"type": "ack", "id": "h"}
        assert await app.unsubscribe("news", connection=seen[0]) == 1
        assert await recv_json(ws) == {"type": "unsubscribed", "channel": "news"}
        missed = await app.publish("news", 2)
        with pytest.raises(TypeError):
            await app.subscribe("news")
        with pytest.raises(ValueError, match="channel"):
            await app.subscribe("bad channel!", connection=conn_id)
    # Resumable like its own subscriptions: a new connection recovers from what it saw.
    async with websockets.connect(ws_url(app)) as ws:
        await recv_json(ws)
        since = {"offset": last["offset"], "epoch": subscribed["epoch"]}
        await ws.send(json.dumps({"type": "subscribe", "channel": "news", "recover_from": since}))
        assert (await recv_json(ws))["recovered"] is True
        assert (await recv_json(ws))["offset"] == missed


async def test_server_subscribe_bypasses_permissions_but_counts_toward_the_limit(
    start_server: StartServer,
) -> None:
    app = await start_server(
        max_subscriptions=1, namespaces={"private": {"subscribe_roles": ["admin"]}}
    )
    async with websockets.connect(ws_url(app)) as ws:
        conn_id = (await recv_json(ws))["connection_id"]
        await ws.send('{"type":"subscribe","channel":"private:x","id":1}')
        assert (await recv_json(ws))["code"] == "FORBIDDEN"
        assert await app.subscribe("private:x", connection=conn_id) == 1
        assert (await recv_json(ws))["type"] == "subscribed"
        assert await app.subscribe("private:y", connection=conn_id) == 0
        error = await recv_json(ws)
        assert error["type"] == "error" and error["code"] == "FORBIDDEN"
        assert "private:y" in error["message"] and "at most 1" in error["message"]


async def test_subscribe_in_on_connect_takes_effect_after_the_welcome(
    start_server: StartServer,
) -> None:
    app = App()

    @app.on_connect
    async def connect(conn: Connection) -> None:
        assert await app.subscribe("lobby", connection=conn) == 1

    await start_server(app)
    async with websockets.connect(ws_url(app)) as ws:
        assert (await recv_json(ws))["type"] == "welcome"
        assert (await recv_json(ws))["type"] == "subscribed"
        offset = await app.publish("lobby", "welcome aboard")
        assert (await recv_json(ws))["offset"] == offset


async def test_publish_skips_the_sender_who_still_gets_its_ack(start_server: StartServer) -> None:
    app = App()

    @app.route("say")
    async def say(conn: Connection, msg: Envelope) -> int:
        return await app.publish("room", msg.value(), skip=conn)

    await start_server(app)
    async with websockets.connect(ws_url(app)) as me, websockets.connect(ws_url(app)) as you:
        for ws in (me, you):
            await recv_json(ws)
            await ws.send('{"type":"subscribe","channel":"room"}')
            await recv_json(ws)
        await me.send('{"type":"say","data":"one","id":1}')
        assert await recv_json(me) == {"type": "say_reply", "data": 1, "id": 1}
        assert (await recv_json(you))["data"] == "one"
        await app.publish("room", "two")  # no skip: both get it
        assert (await recv_json(me))["data"] == "two"
        assert (await recv_json(you))["data"] == "two"


async def test_disconnect_user_closes_each_of_its_connections(start_server: StartServer) -> None:
    app = await start_server(login_app())
    first, second, other = [await logged_in(app, u) for u in ("ann", "ann", "bob")]
    try:
        assert await app.disconnect_user("ann", 4000, "bye") == 2
        for ws in (first, second):
            await asyncio.wait_for(ws.wait_closed(), 5)
            assert ws.close_code == 4000 and ws.close_reason == "bye"
        await other.send('{"type":"ping","id":1}')
        assert await recv_json(other) == {"type": "pong", "id": 1}
        assert await app.disconnect_user("nobody") == 0
    finally:
        for ws in (first, second, other):
            await ws.close()


@pytest.mark.parametrize("codec", ["v1.json", "v2.proto"])
async def test_a_client_publish_may_skip_its_sender(start_server: StartServer, codec: str) -> None:
    from websockets.typing import Subprotocol

    from switchboard.protocol.proto import envelope_pb2

    app = await start_server()
    async with websockets.connect(ws_url(app), subprotocols=[Subprotocol(codec)]) as me, \
            websockets.connect(ws_url(app)) as you:  # fmt: skip
        await me.recv()
        await recv_json(you)
        for ws, binary in ((me, codec == "v2.proto"), (you, False)):
            if binary:
                await ws.send(
                    envelope_pb2.Envelope(type="subscribe", channel="room").SerializeToString()
                )
            else:
                await ws.send('{"type":"subscribe","channel":"room"}')
            await ws.recv()
        if codec == "v2.proto":
            request = envelope_pb2.Envelope(
                type="publish", channel="room", int_id=1, skip_self=True
            )
            request.value.string_value = "mine"
            await me.send(request.SerializeToString())
            ack = envelope_pb2.Envelope()
            ack.ParseFromString(await me.recv())
            assert (ack.type, ack.int_id, ack.offset) == ("ack", 1, 1)
        else:
            await me.send(
                '{"type":"publish","channel":"room","data":"mine","skip_self":true,"id":1}'
            )
            ack = await recv_json(me)
            assert (ack["type"], ack["id"], ack["offset"]) == ("ack", 1, 1)
        assert (await recv_json(you))["data"] == "mine"
        await app.publish("room", "everyone")  # no skip: the sender gets this one
        if codec == "v2.proto":
            message = envelope_pb2.Envelope()
            message.ParseFromString(await me.recv())
            assert (message.type, message.offset) == ("message", 2)
        else:
            assert (await recv_json(me))["offset"] == 2
