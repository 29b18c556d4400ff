"""The library face: routes, hooks and replies of ``switchboard.App``, over real sockets."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import msgspec
import pydantic
import pytest
import websockets

from switchboard import App, Connection, Envelope, ErrorCode, Reject, RequestError, Settings
from switchboard.core.lifecycle import NodeState

from .conftest import StartServer, recv_json, timeout, wait_until, ws_url


async def test_sync_and_async_routes_reply_with_the_request_id(start_server: StartServer) -> None:
    app = App()

    @app.route("math.add")
    def add(conn: Connection, msg: Envelope) -> Any:
        numbers = msg.json()
        return {"sum": sum(numbers)}

    @app.route("math.slow_double")
    async def slow_double(conn: Connection, msg: Envelope) -> Any:
        await asyncio.sleep(0.01)  # slow work, so the route has to wait (what it tests)
        return msg.json() * 2

    @app.route("fire.and.forget")
    def nothing(conn: Connection, msg: Envelope) -> None:
        conn.state["seen"] = True

    await start_server(app)
    async with websockets.connect(ws_url(app)) as ws:
        await recv_json(ws)
        await ws.send('{"type":"math.add","data":[1,2,3],"id":"a"}')
        assert await recv_json(ws) == {"type": "math.add_reply", "data": {"sum": 6}, "id": "a"}
        await ws.send('{"type":"math.slow_double","data":21}')
        assert await recv_json(ws) == {"type": "math.slow_double_reply", "data": 42}
        await ws.send('{"type":"fire.and.forget"}')
        await ws.send('{"type":"ping","id":1}')
        assert await recv_json(ws) == {"type": "pong", "id": 1}  # no reply for None...
        await ws.send('{"type":"fire.and.forget","id":"f"}')
        assert await recv_json(ws) == {"type": "ack", "id": "f"}  # ...but an ack when asked


async def test_a_slow_async_handler_does_not_delay_other_connections(
    start_server: StartServer,
) -> None:
    app = App()
    release = asyncio.Event()

    @app.route("wait")
    async def wait(conn: Connection, msg: Envelope) -> str:
        await release.wait()
        return "released"

    await start_server(app)
    async with websockets.connect(ws_url(app)) as slow, websockets.connect(ws_url(app)) as fast:
        await recv_json(slow)
        await recv_json(fast)
        await slow.send('{"type":"wait","id":"w"}')
        await fast.send('{"type":"echo","data":"quick"}')
        assert (await recv_json(fast))["data"] == "quick"
        await slow.send('{"type":"echo","data":"same connection too"}')
        assert (await recv_json(slow))["data"] == "same connection too"
        release.set()
        assert await recv_json(slow) == {"type": "wait_reply", "data": "released", "id": "w"}


@pytest.mark.parametrize("kind", ["sync", "async"])
async def test_handler_exception_is_internal_error_for_that_request(
    start_server: StartServer, kind: str
) -> None:
    app = App()

    if kind == "sync":

        @app.route("boom")
        def boom(conn: Connection, msg: Envelope) -> None:
            raise ValueError("secret detail")
    else:

        @app.route("boom")
        async def boom_async(conn: Connection, msg: Envelope) -> None:
            raise ValueError("secret detail")

    await start_server(app)
    async with websockets.connect(ws_url(app)) as ws:
        await recv_json(ws)
        await ws.send('{"type":"boom","id":9}')
        error = await recv_json(ws)
        assert (error["code"], error["id"]) == ("INTERNAL_ERROR", 9)
        assert "secret" not in error["message"]
        await ws.send('{"type":"echo","data":1}')
        assert (await recv_json(ws))["data"] == 1


async def test_roles_are_checked_and_set_by_on_connect(start_server: StartServer) -> None:
    app = App()

    @app.on_connect
    def connect(conn: Connection) -> None:
        conn.user = "ann"
        conn.roles = frozenset({"member"})

    @app.route("chat.typing", roles={"member"})
    def typing(conn: Connection, msg: Envelope) -> str:
        return f"{conn.user} is typing"

    @app.route("admin.kick", roles={"admin"})
    def kick(conn: Connection, msg: Envelope) -> str:
        return "kicked"

    await start_server(app)
    async with websockets.connect(ws_url(app)) as ws:
        await recv_json(ws)
        await ws.send('{"type":"chat.typing"}')
        assert (await recv_json(ws))["data"] == "ann is typing"
        await ws.send('{"type":"admin.kick","id":"k"}')
        error = await recv_json(ws)
        assert (error["code"], error["id"]) == ("FORBIDDEN", "k")


async def test_default_route_and_replaced_or_removed_builtins(start_server: StartServer) -> None:
    app = App()

    @app.route("$default")
    def anything(conn: Connection, msg: Envelope) -> str:
        return f"no route for {msg.type}"

    @app.route("echo")
    def loud_echo(conn: Connection, msg: Envelope) -> Any:
        return str(msg.json()).upper()

    app.remove_route("broadcast")
    await start_server(app)
    async with websockets.connect(ws_url(app)) as ws:
        await recv_json(ws)
        await ws.send('{"type":"chat.unknown"}')
        assert await recv_json(ws) == {
            "type": "$default_reply",
            "data": "no route for chat.unknown",
        }
        await ws.send('{"type":"echo","data":"hi"}')
        assert (await recv_json(ws))["data"] == "HI"
        await ws.send('{"type":"broadcast","data":1}')
        assert (await recv_json(ws))["type"] == "$default_reply"


async def test_on_connect_can_reject_with_a_close_code(start_server: StartServer) -> None:
    app = App()

    @app.on_connect
    async def connect(conn: Connection) -> None:
        raise Reject(4403, "go away")

    await start_server(app)
    async with websockets.connect(ws_url(app)) as ws:
        await asyncio.wait_for(ws.wait_closed(), timeout(5))
    assert (ws.close_code, ws.close_reason) == (4403, "go away")


async def test_messages_sent_before_an_async_accept_are_handled_after_welcome(
    start_server: StartServer,
) -> None:
    app = App()
    gone: list[tuple[str, int]] = []

    deciding = asyncio.Event()

    @app.on_connect
    async def connect(conn: Connection) -> None:
        await deciding.wait()
        conn.user = "late"

    @app.on_disconnect
    async def disconnect(conn: Connection, code: int) -> None:
        gone.append((conn.user, code))

    await start_server(app)
    async with websockets.connect(ws_url(app)) as ws:
        for i in range(3):
            await ws.send(json.dumps({"type": "echo", "data": i}))
        node = app.node
        assert node is not None
        await wait_until(lambda: sum(len(c.backlog or ()) for c in node.registry) == 3)
        deciding.set()
        assert (await recv_json(ws))["type"] == "welcome"
        assert [(await recv_json(ws))["data"] for _ in range(3)] == [0, 1, 2]
    await wait_until(lambda: bool(gone))
    assert gone == [("late", 1000)]


async def test_a_handler_can_answer_with_its_own_error_code(start_server: StartServer) -> None:
    app = App()

    @app.route("room.join")
    async def join(conn: Connection, msg: Envelope) -> None:
        raise RequestError(ErrorCode.NOT_FOUND, f"no room {msg.json()!r}")

    await start_server(app)
    async with websockets.connect(ws_url(app)) as ws:
        await recv_json(ws)
        await ws.send('{"type":"room.join","data":"attic","id":1}')
        assert await recv_json(ws) == {
            "type": "error",
            "code": "NOT_FOUND",
            "message": "no room 'attic'",
            "id": 1,
        }


class Move(msgspec.Struct):
    """A typed payload (what ``data`` must hold)."""

    piece: str
    to: tuple[int, int]


class Signup(pydantic.BaseModel):
    name: str
    age: int = pydantic.Field(ge=0)


async def test_typed_handlers_get_validated_values_and_bad_data_never_reaches_them(
    start_server: StartServer,
) -> None:
    app = App()
    called: list[Any] = []

    @app.route("move")
    def move(conn: Connection, data: Move) -> str:
        called.append(data)
        return f"{data.piece} to {data.to[0]},{data.to[1]}"

    @app.route("signup")
    async def signup(conn: Connection, msg: Envelope, data: Signup) -> dict[str, Any]:
        called.append(data)
        return {"welcome": data.name, "request": msg.id}

    await start_server(app)
    async with websockets.connect(ws_url(app)) as ws:
        await recv_json(ws)
        await ws.send('{"type":"move","data":{"piece":"knight","to":[2,3]},"id":1}')
        assert await recv_json(ws) == {"type": "move_reply", "data": "knight to 2,3", "id": 1}
        await ws.send('{"type":"move","data":{"piece":"knight","to":[2,"x"]},"id":2}')
        error = await recv_json(ws)
        assert (error["code"], error["id"]) == ("INVALID_MESSAGE_FORMAT", 2)
        assert "$.to[1]" in error["message"]
        await ws.send('{"type":"signup","data":{"name":"ann","age":3},"id":3}')
        assert (await recv_json(ws))["data"] == {"welcome": "ann", "request": 3}
        await ws.send('{"type":"signup","data":{"name":"bob","age":-1},"id":4}')
        error = await recv_json(ws)
        assert (error["code"], error["id"]) == ("INVALID_MESSAGE_FORMAT", 4)
        assert "$.age" in error["message"]
    assert called == [Move("knight", (2, 3)), Signup(name="ann", age=3)]


async def test_lifespan_hooks_run_in_order_around_serving(start_server: StartServer) -> None:
    app = App()
    events: list[str] = []

    @app.on_startup
    def first() -> None:
        events.append("startup 1")

    @app.on_startup
    async def second() -> None:
        offset = await app.publish("boot", "broker is up")  # before the port accepts
        events.append(f"startup 2 published {offset}")

    @app.on_shutdown
    async def closing() -> None:
        assert app.node is not None
        events.append(f"shutdown with {len(app.node.registry)} connections")
        await app.publish("boot", "broker still up")

    @app.on_shutdown
    def last() -> None:
        events.append("shutdown 2")

    await start_server(app)
    assert events == ["startup 1", "startup 2 published 1"]
    async with websockets.connect(ws_url(app)) as ws:
        await recv_json(ws)
        await app.shutdown()
        assert ws.close_code == 1012  # drained before the shutdown hooks
    assert events[2:] == ["shutdown with 0 connections", "shutdown 2"]


async def test_a_startup_hook_that_raises_fails_the_start_cleanly() -> None:
    app = App(Settings(host="127.0.0.1", port=0, admin_port=0))
    stopped: list[str] = []

    @app.on_startup
    async def broken() -> None:
        raise RuntimeError("no database")

    @app.on_shutdown
    def never() -> None:
        stopped.append("ran")

    with pytest.raises(RuntimeError, match="no database"):
        await app.start()
    assert app.lifecycle.state is NodeState.STOPPED
    assert app.node is None and stopped == []
    with pytest.raises(RuntimeError, match="not running"):
        await app.publish("boot", 1)
