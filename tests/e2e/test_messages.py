"""The v1 JSON protocol end to end with the ``websockets`` client."""

from __future__ import annotations

import asyncio
import json

import websockets

from ..conftest import StartServer, recv_json, timeout, ws_url


async def test_welcome_then_echo_with_id(start_server: StartServer) -> None:
    app = await start_server(ping_interval=15)
    async with websockets.connect(ws_url(app)) as ws:
        welcome = await recv_json(ws)
        assert welcome["type"] == "welcome"
        assert welcome["connection_id"].startswith("c-")
        assert welcome["heartbeat"] == 15
        assert welcome["node"] == app.settings.node_id
        await ws.send(json.dumps({"type": "echo", "data": {"x": [1, "ü", None]}, "id": "r1"}))
        assert await recv_json(ws) == {
            "type": "echo_reply",
            "data": {"x": [1, "ü", None]},
            "id": "r1",
        }


async def test_connection_ids_are_unique(start_server: StartServer) -> None:
    app = await start_server()
    ids = set()
    for _ in range(20):
        async with websockets.connect(ws_url(app)) as ws:
            ids.add((await recv_json(ws))["connection_id"])
    assert len(ids) == 20


async def test_bad_input_gets_error_frames_and_the_connection_stays_open(
    start_server: StartServer,
) -> None:
    app = await start_server()
    async with websockets.connect(ws_url(app)) as ws:
        await recv_json(ws)
        cases = [
            ("{not json", "INVALID_JSON", None),
            ('["type", "echo"]', "INVALID_MESSAGE_FORMAT", None),
            ('{"data": 1}', "INVALID_MESSAGE_FORMAT", None),
            ('{"type": 42, "id": "q1"}', "INVALID_MESSAGE_FORMAT", "q1"),
            ('{"type": "no.such.type", "id": 3}', "UNKNOWN_MESSAGE_TYPE", 3),
        ]
        for text, code, request_id in cases:
            await ws.send(text)
            error = await recv_json(ws)
            assert error["type"] == "error"
            assert error["code"] == code, text
            assert error["message"]
            assert error.get("id") == request_id
        await ws.send(b"\x01\x02binary")
        error = await recv_json(ws)
        assert error["code"] == "INVALID_MESSAGE_FORMAT"
        assert "binary" in error["message"]
        await ws.send('{"type":"echo","data":"still here"}')
        assert (await recv_json(ws))["data"] == "still here"


async def test_application_ping_gets_pong(start_server: StartServer) -> None:
    app = await start_server()
    async with websockets.connect(ws_url(app)) as ws:
        await recv_json(ws)
        await ws.send('{"type":"ping","id":"p"}')
        assert await recv_json(ws) == {"type": "pong", "id": "p"}
        await ws.send('{"type":"ping"}')
        assert await recv_json(ws) == {"type": "pong"}


async def test_broadcast_reaches_everyone_including_the_sender(start_server: StartServer) -> None:
    app = await start_server()
    clients = [await websockets.connect(ws_url(app)) for _ in range(5)]
    try:
        for ws in clients:
            await recv_json(ws)
        await clients[2].send('{"type":"broadcast","data":{"hello":"all"},"id":"b"}')
        for ws in clients:
            assert await recv_json(ws) == {"type": "broadcast", "data": {"hello": "all"}}
        assert await recv_json(clients[2]) == {"type": "ack", "id": "b"}
    finally:
        for ws in clients:
            await ws.close()


async def test_fragmented_message_is_reassembled(start_server: StartServer) -> None:
    app = await start_server()
    async with websockets.connect(ws_url(app)) as ws:
        await recv_json(ws)
        await ws.send(['{"type":"echo",', '"data":"in three', ' parts","id":1}'])
        assert await recv_json(ws) == {"type": "echo_reply", "data": "in three parts", "id": 1}


async def test_replies_keep_request_order_under_pipelining(start_server: StartServer) -> None:
    app = await start_server()
    async with websockets.connect(ws_url(app)) as ws:
        await recv_json(ws)
        for i in range(500):
            await ws.send(json.dumps({"type": "echo", "data": i}))
        got = [(await recv_json(ws))["data"] for _ in range(500)]
        assert got == list(range(500))


async def test_message_at_the_size_limit_is_accepted(start_server: StartServer) -> None:
    app = await start_server(max_message_size=4096)
    async with websockets.connect(ws_url(app)) as ws:
        await recv_json(ws)
        prefix = '{"type":"echo","data":"'
        body = "x" * (4096 - len(prefix) - 2)
        await ws.send(prefix + body + '"}')
        assert len((await recv_json(ws))["data"]) == len(body)


async def test_oversize_message_closes_1009(start_server: StartServer) -> None:
    app = await start_server(max_message_size=4096)
    async with websockets.connect(ws_url(app)) as ws:
        await recv_json(ws)
        await ws.send("x" * 4097)
        await asyncio.wait_for(ws.wait_closed(), timeout(5))
    assert ws.close_code == 1009


async def test_oversize_is_counted_across_fragments(start_server: StartServer) -> None:
    app = await start_server(max_message_size=4096)
    async with websockets.connect(ws_url(app)) as ws:
        await recv_json(ws)
        await ws.send(["x" * 3000, "x" * 3000])  # each fragment fits, the message does not
        await asyncio.wait_for(ws.wait_closed(), timeout(5))
    assert ws.close_code == 1009
    assert "4096" in (ws.close_reason or "")


async def test_subprotocol_v1_json_is_selected_when_offered(start_server: StartServer) -> None:
    app = await start_server()
    async with websockets.connect(ws_url(app), subprotocols=["x.other", "v1.json"]) as ws:
        assert ws.subprotocol == "v1.json"
    async with websockets.connect(ws_url(app)) as ws:
        assert ws.subprotocol is None
        assert (await recv_json(ws))["type"] == "welcome"
