"""The picows listener over real sockets on 127.0.0.1: what the node is told about each
connection's life, close reasons on the wire, messages held for an async ``on_connect``."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from websockets.frames import Close, Opcode

from switchboard import App
from switchboard.core.connection import Connection

from ..conftest import StartServer, timeout, wait_until
from ..rawclient import RawClient


class Observer:
    """Records the node's view of each connection's end: (code, reason, closed by)."""

    def __init__(self) -> None:
        self.ends: list[tuple[int, str, str]] = []

    def opened(self, conn: Connection) -> None:
        pass

    def closed(self, conn: Connection, code: int, reason: str, by: str) -> None:
        self.ends.append((code, reason, by))


async def watched(start_server: StartServer, **settings: Any) -> tuple[App, Observer]:
    app = await start_server(**settings)
    assert app.node is not None
    observer = Observer()
    app.node.observer = observer
    return app, observer


async def opened(app: App) -> tuple[RawClient, Connection]:
    client = await RawClient.connect(app.port)
    assert client.status == 101
    welcome = json.loads((await asyncio.wait_for(client.recv_frame(), timeout(5))).data)
    assert app.node is not None
    conn = app.node.registry.get(welcome["connection_id"])
    assert conn is not None
    return client, conn


async def test_a_client_close_reaches_the_node_with_its_code_and_reason(
    start_server: StartServer,
) -> None:
    app, observer = await watched(start_server)
    client, conn = await opened(app)
    client.send_frame(Opcode.CLOSE, Close(4000, "done here").serialize())
    assert await client.at_eof(timeout(5))
    await wait_until(lambda: bool(observer.ends))
    assert observer.ends == [(4000, "done here", "client")]
    assert app.node is not None and app.node.registry.get(conn.id) is None


async def test_a_server_close_is_reported_as_the_servers(start_server: StartServer) -> None:
    app, observer = await watched(start_server)
    client, conn = await opened(app)
    assert app.node is not None
    app.node.close(conn, 1000, "maintenance")
    close = await asyncio.wait_for(client.recv_until_close(), timeout(5))
    assert (close.code, close.reason) == (1000, "maintenance")
    client.send_frame(Opcode.CLOSE, Close(1000, "").serialize())
    await wait_until(lambda: bool(observer.ends))
    assert observer.ends == [(1000, "maintenance", "server")]


async def test_a_dropped_socket_is_1006_from_the_network(start_server: StartServer) -> None:
    app, observer = await watched(start_server)
    client, _ = await opened(app)
    client.writer.transport.abort()
    await wait_until(lambda: bool(observer.ends))
    ((code, _, by),) = observer.ends
    assert (code, by) == (1006, "network")


async def test_a_long_close_reason_is_cut_to_fit_the_frame_on_a_character_boundary(
    start_server: StartServer,
) -> None:
    app = await start_server()
    client, conn = await opened(app)
    assert app.node is not None
    app.node.close(conn, 1000, "é" * 100)  # 200 bytes of UTF-8; a close frame holds 123
    raw = await asyncio.wait_for(client.recv_raw_frame(), timeout(5))
    assert raw[1] <= 125  # a control frame's payload: the code and at most 123 bytes
    close = Close.parse(raw[2:])  # raises on a reason that is not valid UTF-8
    assert close.reason == "é" * 61


async def test_messages_sent_before_an_async_on_connect_decides_are_answered_after_it(
    start_server: StartServer,
) -> None:
    app = await start_server()
    assert app.node is not None
    decide = asyncio.Event()

    async def slow(conn: Connection) -> None:
        await decide.wait()

    app.node.connect_hook = slow
    client = await RawClient.connect(app.port)
    for n in range(3):
        client.send_frame(Opcode.TEXT, json.dumps({"type": "echo", "data": n}).encode())
    await wait_until(lambda: any(c.backlog for c in app.node.registry))  # type: ignore[union-attr]
    decide.set()
    frames = [await asyncio.wait_for(client.recv_frame(), timeout(5)) for _ in range(4)]
    messages = [json.loads(frame.data) for frame in frames]
    assert messages[0]["type"] == "welcome"
    assert [m["data"] for m in messages[1:]] == [0, 1, 2]


async def test_the_kernel_count_of_received_bytes_covers_the_handshake_and_frames(
    start_server: StartServer,
) -> None:
    app = await start_server()
    client, conn = await opened(app)
    before = conn.transport.received_bytes()
    if before is None:
        return  # not Linux: nothing to count with
    assert before > 100  # at least the upgrade request
    client.send_frame(Opcode.TEXT, b'{"type":"echo","data":"' + b"x" * 1000 + b'"}')
    await asyncio.wait_for(client.recv_frame(), timeout(5))
    after = conn.transport.received_bytes()
    assert after is not None and after - before >= 1000 + 6  # payload, header and mask
