"""The admin port's bounds over real sockets: half-sent requests, header timeout, caps."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest

from switchboard.admin.api import create_admin_app
from switchboard.admin.server import AdminServer

from ..conftest import StartServer, timeout, wait_until

KEY = "server-test-key-0123"
HALF_REQUEST = b"GET /health HTTP/1.1\r\nHost: localhost\r\n"  # never the blank line
#: A management request with its headers complete; its body comes when the test says.
SLOW_PUBLISH = (
    b"POST /api/v1/channels/room:1/publish HTTP/1.1\r\nHost: localhost\r\n"
    + f"X-API-Key: {KEY}\r\nContent-Type: application/json\r\n".encode()
    + b"Content-Length: 13\r\n\r\n"
)
SLOW_PUBLISH_BODY = b'{"data": 123}'

Stream = tuple[asyncio.StreamReader, asyncio.StreamWriter]
StartAdmin = Callable[..., Awaitable[AdminServer]]


@pytest.fixture
async def start_admin(start_server: StartServer) -> AsyncIterator[StartAdmin]:
    """An ``AdminServer`` of a running app, with the given bounds; stopped at teardown."""
    servers: list[AdminServer] = []

    async def start(**bounds: Any) -> AdminServer:
        app = await start_server(admin=False, api_key=KEY)
        server = AdminServer(create_admin_app(app), "127.0.0.1", 0, **bounds)
        await server.start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        await server.stop()


async def half_open(port: int, count: int) -> list[Stream]:
    """``count`` connections that each sent part of a request's headers."""
    streams: list[Stream] = []
    for start in range(0, count, 100):  # in batches: the listen backlog is finite
        batch = [asyncio.open_connection("127.0.0.1", port) for _ in range(min(100, count - start))]
        streams += await asyncio.gather(*batch)
    for _, writer in streams:
        writer.write(HALF_REQUEST)
    await asyncio.gather(*(writer.drain() for _, writer in streams))
    return streams


def close_all(streams: list[Stream]) -> None:
    for _, writer in streams:
        writer.close()


async def closed_by_server(reader: asyncio.StreamReader, within: float) -> bool:
    """Whether the server closes the connection within ``within`` (scaled) seconds."""
    try:
        return await asyncio.wait_for(reader.read(), timeout(within)) == b""
    except TimeoutError:
        return False


async def probe(port: int, path: str) -> httpx.Response:
    async with httpx.AsyncClient(timeout=timeout(2)) as client:
        return await client.get(f"http://127.0.0.1:{port}{path}")


async def test_probes_answer_while_1000_half_sent_requests_are_held(
    start_server: StartServer,
) -> None:
    app = await start_server()  # the default wiring: App starts the admin port
    held = await half_open(app.admin_port, 1000)
    try:
        for _ in range(3):  # not once by luck: each probe is a new connection
            for path in ("/health", "/ready", "/metrics"):
                response = await asyncio.wait_for(probe(app.admin_port, path), timeout(2))
                assert response.status_code == 200, (path, response.text)
        assert not any(reader.at_eof() for reader, _ in held)  # all still held meanwhile
    finally:
        close_all(held)


async def test_a_half_sent_request_is_closed_after_the_header_timeout(
    start_admin: StartAdmin,
) -> None:
    header_timeout = timeout(0.3)
    server = await start_admin(header_timeout=header_timeout)
    loop = asyncio.get_running_loop()
    started = loop.time()
    half = await half_open(server.port, 1)
    silent = [await asyncio.open_connection("127.0.0.1", server.port)]  # sends nothing
    try:
        assert await closed_by_server(half[0][0], 5)
        assert await closed_by_server(silent[0][0], 5)
        assert loop.time() - started >= header_timeout * 0.9  # timed out, not refused
        assert (await probe(server.port, "/health")).status_code == 200
    finally:
        close_all(half + silent)


async def read_response(reader: asyncio.StreamReader) -> tuple[int, dict[str, str], bytes]:
    """One HTTP/1.1 response with a Content-Length: status, headers, body."""
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout(5))
    status_line, *lines = head.decode("latin-1").split("\r\n")[:-2]
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines)}
    body = await asyncio.wait_for(reader.readexactly(int(headers["content-length"])), timeout(5))
    return int(status_line.split()[1]), headers, body


async def test_the_header_timeout_restarts_for_each_request_and_spares_slow_bodies(
    start_admin: StartAdmin,
) -> None:
    server = await start_admin(header_timeout=timeout(0.3))
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    try:
        # A keep-alive connection gets the whole timeout again for its next request (and
        # that request's first bytes stop uvicorn's 5 s keep-alive timer).
        writer.write(b"GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n")
        assert (await read_response(reader))[0] == 200
        writer.write(HALF_REQUEST)
        assert await closed_by_server(reader, 5)
    finally:
        writer.close()
    # Headers complete, body late: the request is being handled, the timeout is over.
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    try:
        writer.write(SLOW_PUBLISH)
        assert not await closed_by_server(reader, 3 * 0.3)  # three header timeouts
        writer.write(SLOW_PUBLISH_BODY)
        status, _, answer = await read_response(reader)
        assert status == 200, answer
    finally:
        writer.close()


async def test_requests_in_flight_are_capped_and_probes_keep_answering(
    start_admin: StartAdmin,
) -> None:
    server = await start_admin(max_requests=3)
    slow: list[Stream] = []
    for _ in range(3):
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(SLOW_PUBLISH)
        slow.append((reader, writer))
    api = httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{server.port}", headers={"X-API-Key": KEY}, timeout=timeout(2)
    )
    try:
        # The slow requests are read by this very loop: poll until they hold the slots.
        deadline = asyncio.get_running_loop().time() + timeout(5)
        while (busy := await api.get("/api/v1/stats")).status_code != 503:
            assert asyncio.get_running_loop().time() < deadline, busy.text
        assert busy.json()["error"]["code"] == "UNAVAILABLE"
        assert busy.headers["retry-after"] == "1"
        for path in ("/health", "/ready", "/metrics"):  # not counted, or counted apart
            assert (await api.get(path)).status_code == 200
        for reader, writer in slow:  # the bodies arrive: the slots free
            writer.write(SLOW_PUBLISH_BODY)
            assert (await read_response(reader))[0] == 200
        assert (await api.get("/api/v1/stats")).status_code == 200
    finally:
        await api.aclose()
        close_all(slow)


async def test_past_the_connection_cap_the_longest_waiting_connection_is_closed(
    start_admin: StartAdmin,
) -> None:
    server = await start_admin(max_connections=20)
    older = await half_open(server.port, 20)
    newer: list[Stream] = []
    try:
        # Accepted after all of them (the listen queue is first in, first out): it closes
        # the oldest and is answered.
        assert (await probe(server.port, "/health")).status_code == 200
        newer = await half_open(server.port, 20)
        # Never more than 20 open: each newcomer closed the connection waiting longest.
        await wait_until(lambda: all(reader.at_eof() for reader, _ in older))
        assert not any(reader.at_eof() for reader, _ in newer)
        assert (await probe(server.port, "/metrics")).status_code == 200
    finally:
        close_all(older + newer)
