"""Routing through a live server: custom routes, replaced built-ins, failing handlers."""

from __future__ import annotations

import websockets

from switchboard.core.connection import Connection
from switchboard.protocol.envelope import Envelope

from ..conftest import StartServer, recv_json, ws_url


async def test_custom_route_and_removed_builtin(start_server: StartServer) -> None:
    app = await start_server()
    assert app.node is not None
    hub, router = app.node.hub, app.node.router

    def shout(conn: Connection, msg: Envelope) -> None:
        hub.send(conn, {"type": "shouted", "data": msg.value().upper()})

    router.add("shout", shout)
    router.remove("broadcast")
    async with websockets.connect(ws_url(app)) as ws:
        await recv_json(ws)
        await ws.send('{"type":"shout","data":"hey"}')
        assert await recv_json(ws) == {"type": "shouted", "data": "HEY"}
        await ws.send('{"type":"broadcast","data":1}')
        assert (await recv_json(ws))["code"] == "UNKNOWN_MESSAGE_TYPE"


async def test_failing_handler_answers_internal_error_for_that_request_only(
    start_server: StartServer,
) -> None:
    app = await start_server()
    assert app.node is not None

    def broken(conn: Connection, msg: Envelope) -> None:
        raise RuntimeError("bug in handler")

    app.node.router.add("broken", broken)
    async with websockets.connect(ws_url(app)) as ws:
        await recv_json(ws)
        await ws.send('{"type":"broken","id":"b1"}')
        error = await recv_json(ws)
        assert error["code"] == "INTERNAL_ERROR"
        assert error["id"] == "b1"
        assert "bug in handler" not in error["message"]  # internals stay in the log
        await ws.send('{"type":"echo","data":"fine"}')
        assert (await recv_json(ws))["data"] == "fine"
