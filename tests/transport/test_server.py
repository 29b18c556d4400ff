"""The listening socket's handshake reader: timeouts, hand-over to picows, TLS, pipelining."""

from __future__ import annotations

import asyncio
import gc
import json
import ssl
from pathlib import Path

import pytest
from websockets.frames import Frame, Opcode

from switchboard.transport.server import HandshakeReader

from ..conftest import StartServer, timeout, wait_until
from ..e2e.test_handshake_rules import assert_echoes, request
from ..rawclient import RawClient
from ..security.certs import client_context, write_certificate


async def connect(port: int, tls: ssl.SSLContext | None = None) -> RawClient:
    reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=tls)
    return RawClient(reader, writer)


async def read_head(client: RawClient) -> None:
    head = await asyncio.wait_for(client.reader.readuntil(b"\r\n\r\n"), timeout(5))
    client.status = int(head.split(b" ", 2)[1])
    client.response_headers = head


def echo_frame(text: str) -> bytes:
    envelope = json.dumps({"type": "echo", "data": text}).encode()
    return Frame(Opcode.TEXT, envelope).serialize(mask=True, extensions=[])


@pytest.fixture
def tls_files(tmp_path: Path) -> tuple[Path, Path]:
    cert, key, _ = write_certificate(tmp_path, "server")
    return cert, key


@pytest.mark.parametrize("junk", [0, 12 * 1024], ids=["small-head", "12-KiB-head"])
@pytest.mark.parametrize("use_tls", [False, True], ids=["tcp", "tls"])
async def test_a_frame_pipelined_behind_the_request_is_not_lost(
    start_server: StartServer, tls_files: tuple[Path, Path], use_tls: bool, junk: int
) -> None:
    """Request and first frame in one write (and, with TLS, one record): echoed back."""
    cert, key = tls_files
    tls = {"tls_cert": cert, "tls_key": key} if use_tls else {}
    app = await start_server(max_header_size=16 * 1024, **tls)
    client = await connect(app.port, client_context(cert) if use_tls else None)
    extra = {"X_Junk": "j" * junk} if junk else {}
    client.writer.write(request(app.port, **extra) + echo_frame("early"))
    await read_head(client)
    assert client.status == 101
    messages = [json.loads(bytes((await client.recv_frame()).data)) for _ in range(2)]
    assert [m["type"] for m in messages] == ["welcome", "echo_reply"]
    assert messages[1]["data"] == "early"
    client.writer.write(echo_frame("later"))
    assert json.loads(bytes((await client.recv_frame()).data))["data"] == "later"
    client.close()


async def test_oversized_headers_over_tls_get_431(
    start_server: StartServer, tls_files: tuple[Path, Path]
) -> None:
    cert, key = tls_files
    app = await start_server(tls_cert=cert, tls_key=key)
    client = await connect(app.port, client_context(cert))
    client.writer.write(request(app.port, X_Junk="j" * 20 * 1024))
    await read_head(client)
    assert client.status == 431
    assert await client.at_eof(timeout(5))
    assert app.node is not None and app.node.stats.handshake_rejected["headers_too_large"] == 1


async def test_silent_client_is_closed_after_the_handshake_timeout(
    start_server: StartServer,
) -> None:
    app = await start_server(handshake_timeout=0.3)
    client = await connect(app.port)
    started = asyncio.get_running_loop().time()
    assert await client.at_eof(timeout(5))
    assert asyncio.get_running_loop().time() - started >= 0.25


async def test_slowloris_is_closed_after_the_handshake_timeout_however_it_trickles(
    start_server: StartServer,
) -> None:
    """A byte every 20 ms keeps the connection busy, never alive past the timeout."""
    app = await start_server(handshake_timeout=0.3)
    client = await connect(app.port)
    trickle = request(app.port)
    deadline = asyncio.get_running_loop().time() + timeout(5)
    closed = False
    for byte in trickle[:-1]:  # the request is never completed
        client.writer.write(bytes([byte]))
        if await client.at_eof(0.02):
            closed = True
            break
        assert asyncio.get_running_loop().time() < deadline
    assert closed, "the server waited for the whole slow request"


@pytest.mark.parametrize("use_tls", [False, True], ids=["tcp", "tls"])
async def test_no_handshake_reader_outlives_the_handshake(
    start_server: StartServer, tls_files: tuple[Path, Path], use_tls: bool
) -> None:
    """Upgraded connections hold only picows' protocol: the reader costs nothing after."""
    cert, key = tls_files
    app = await start_server(**({"tls_cert": cert, "tls_key": key} if use_tls else {}))
    clients = []
    for _ in range(5):
        client = await connect(app.port, client_context(cert) if use_tls else None)
        client.writer.write(request(app.port))
        await read_head(client)
        clients.append(client)
    assert app.node is not None
    await wait_until(lambda: len(app.node.registry) == 5)  # type: ignore[union-attr]
    gc.collect()
    assert not [o for o in gc.get_objects() if isinstance(o, HandshakeReader)]
    for client in clients:
        await assert_echoes(client)
