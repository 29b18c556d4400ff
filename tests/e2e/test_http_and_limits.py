"""The HTTP side of the WebSocket port: probes, 404/400, and the handshake limits."""

from __future__ import annotations

import asyncio
import json

import pytest
import websockets
from websockets.exceptions import InvalidStatus

from ..conftest import StartServer, recv_json, timeout, wait_until, ws_url
from ..rawclient import RawClient


async def http_get(port: int, path: str, headers: str = "") -> tuple[int, bytes]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: x\r\n{headers}\r\n".encode())
    data = await asyncio.wait_for(reader.read(), timeout(5))
    writer.close()
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body


async def test_health_and_ready(start_server: StartServer) -> None:
    app = await start_server()
    assert await http_get(app.port, "/health") == (200, b'{"status":"ok"}')
    assert await http_get(app.port, "/ready") == (200, b'{"status":"ready"}')


async def test_unknown_path_is_404_and_plain_get_on_ws_path_is_400(
    start_server: StartServer,
) -> None:
    app = await start_server()
    assert (await http_get(app.port, "/nope"))[0] == 404
    assert (await http_get(app.port, "/ws"))[0] == 400
    with pytest.raises(InvalidStatus) as info:
        await websockets.connect(ws_url(app, "/other"))
    assert info.value.response.status_code == 404


async def test_bad_upgrade_gets_400(start_server: StartServer) -> None:
    app = await start_server()
    headers = "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
    status, _ = await http_get(app.port, "/ws", headers)
    assert status == 400  # no Sec-WebSocket-Key


async def test_max_connections_refuses_with_503_and_serves_the_others(
    start_server: StartServer,
) -> None:
    app = await start_server(max_connections=3)
    clients = [await websockets.connect(ws_url(app)) for _ in range(3)]
    for ws in clients:
        await recv_json(ws)
    with pytest.raises(InvalidStatus) as info:
        await websockets.connect(ws_url(app))
    assert info.value.response.status_code == 503
    await clients[0].send('{"type":"echo","data":"ok"}')
    assert (await recv_json(clients[0]))["data"] == "ok"
    await clients[1].close()
    await wait_until(lambda: app.node is not None and len(app.node.registry) == 2)
    async with websockets.connect(ws_url(app)) as ws:  # a slot is free again
        assert (await recv_json(ws))["type"] == "welcome"
    for ws in clients:
        await ws.close()


async def test_oversized_headers_get_431(start_server: StartServer) -> None:
    app = await start_server(max_header_size=2048)
    client = await RawClient.connect(app.port, extra_headers={"X-Junk": "j" * 3000})
    assert client.status == 431


async def test_slow_handshake_is_dropped_after_the_timeout(start_server: StartServer) -> None:
    app = await start_server(handshake_timeout=0.3)
    reader, writer = await asyncio.open_connection("127.0.0.1", app.port)
    writer.write(b"GET /ws HTTP/1.1\r\nHost: x\r\n")  # never finishes the request
    data = await asyncio.wait_for(reader.read(), timeout(5))
    assert data == b""  # the server closed the socket
    async with websockets.connect(ws_url(app)) as ws:  # and still serves others
        assert (await recv_json(ws))["type"] == "welcome"


async def test_ready_turns_503_while_draining(start_server: StartServer) -> None:
    app = await start_server(drain_timeout=1.0)
    # A client that never answers the close frame keeps the drain waiting.
    stubborn = await RawClient.connect(app.port)
    await stubborn.recv_frame()
    drain = asyncio.create_task(app.shutdown())
    # The drain has begun once the close frames are out; it waits for the stubborn one.
    close = await asyncio.wait_for(stubborn.recv_until_close(), timeout(5))
    assert close.code == 1012
    assert await http_get(app.port, "/ready") == (503, b'{"status":"draining"}')
    assert (await http_get(app.port, "/health"))[0] == 200
    refused = await RawClient.connect(app.port)
    assert refused.status == 503
    await asyncio.wait_for(drain, timeout(5))
    assert await stubborn.at_eof(timeout(5))


async def test_shutdown_closes_everyone_with_1012_after_pending_messages(
    start_server: StartServer,
) -> None:
    app = await start_server()
    clients = [await websockets.connect(ws_url(app)) for _ in range(10)]
    for ws in clients:
        await recv_json(ws)
    await clients[0].send(json.dumps({"type": "broadcast", "data": "last words"}))
    assert (await recv_json(clients[0]))["data"] == "last words"
    await app.shutdown()
    for ws in clients[1:]:
        assert (await recv_json(ws))["data"] == "last words"
    for ws in clients:
        await asyncio.wait_for(ws.wait_closed(), timeout(5))
        assert ws.close_code == 1012


async def test_probes_answer_http_1_0_as_balancers_send_it(start_server: StartServer) -> None:
    # HAProxy's `option httpchk GET /ready` sends HTTP/1.0 without a Host header.
    app = await start_server()
    for path, body in (("/ready", b'{"status":"ready"}'), ("/health", b'{"status":"ok"}')):
        reader, writer = await asyncio.open_connection("127.0.0.1", app.port)
        writer.write(f"GET {path} HTTP/1.0\r\n\r\n".encode())
        answer = await asyncio.wait_for(reader.read(), timeout(5))
        writer.close()
        assert answer.startswith(b"HTTP/1.1 200 ")
        assert answer.endswith(body)
