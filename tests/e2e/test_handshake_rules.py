"""RFC 6455 handshake rules and hostile handshakes, against a real server over raw sockets."""

from __future__ import annotations

import asyncio
import base64
import json
import os
from typing import Any

import pytest
from websockets.frames import Opcode

from ..conftest import StartServer, timeout
from ..rawclient import RawClient
from ..security.keys import SECRET, token


def request(port: int, path: str = "/ws", **overrides: str | None) -> bytes:
    """An upgrade request; ``overrides`` replace (or, None, drop) the standard headers."""
    headers: dict[str, str | None] = {
        "Host": f"127.0.0.1:{port}",
        "Upgrade": "websocket",
        "Connection": "Upgrade",
        "Sec-WebSocket-Key": base64.b64encode(os.urandom(16)).decode(),
        "Sec-WebSocket-Version": "13",
    }
    headers.update({k.replace("_", "-"): v for k, v in overrides.items()})
    lines = [f"GET {path} HTTP/1.1", *(f"{k}: {v}" for k, v in headers.items() if v is not None)]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


async def send_request(port: int, data: bytes) -> RawClient:
    """Send ``data`` in one write; read the response head (``status``, ``response_headers``)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    client = RawClient(reader, writer)
    writer.write(data)
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout(5))
    client.status = int(head.split(b" ", 2)[1])
    client.response_headers = head
    return client


async def body_of(client: RawClient) -> Any:
    """The JSON body of an error response, read to the server's close."""
    data = await asyncio.wait_for(client.reader.read(), timeout(5))
    client.close()
    return json.loads(data)


async def next_message(client: RawClient) -> dict[str, Any]:
    frame = await asyncio.wait_for(client.recv_frame(), timeout(5))
    assert frame.opcode is Opcode.TEXT
    return dict(json.loads(bytes(frame.data)))


async def assert_echoes(client: RawClient, text: str = "hi") -> None:
    """The connection is a working WebSocket: welcome, then our echo back."""
    assert client.status == 101
    assert (await next_message(client))["type"] == "welcome"
    client.send_frame(Opcode.TEXT, json.dumps({"type": "echo", "data": text}).encode())
    assert (await next_message(client))["data"] == text
    client.close()


@pytest.mark.parametrize(
    "connection", ["keep-alive, Upgrade", "Upgrade, keep-alive", "upgrade", "UPGRADE", "Upgrade"]
)
async def test_connection_header_is_a_token_list(
    start_server: StartServer, connection: str
) -> None:
    app = await start_server()
    await assert_echoes(await send_request(app.port, request(app.port, Connection=connection)))


@pytest.mark.parametrize("connection", ["keep-alive", "upgrade-insecure", None])
async def test_connection_header_without_upgrade_is_400(
    start_server: StartServer, connection: str | None
) -> None:
    app = await start_server()
    client = await send_request(app.port, request(app.port, Connection=connection))
    assert client.status == 400
    assert await body_of(client) == {"error": "Connection header must include Upgrade"}
    assert app.node is not None and app.node.stats.handshake_rejected["bad_upgrade"] == 1


@pytest.mark.parametrize("upgrade", ["WebSocket", "h2c, websocket", "websocket, h2c"])
async def test_upgrade_header_is_a_token_list(start_server: StartServer, upgrade: str) -> None:
    app = await start_server()
    await assert_echoes(await send_request(app.port, request(app.port, Upgrade=upgrade)))


@pytest.mark.parametrize("upgrade", ["h2c", "websockets", None])
async def test_upgrade_header_without_websocket_is_400(
    start_server: StartServer, upgrade: str | None
) -> None:
    app = await start_server()
    client = await send_request(app.port, request(app.port, Upgrade=upgrade))
    assert client.status == 400
    assert await body_of(client) == {"error": "Upgrade header must include websocket"}


@pytest.mark.parametrize("version", ["8", "7", "12", "14", "13, 8"])
async def test_other_websocket_versions_get_426_naming_13(
    start_server: StartServer, version: str
) -> None:
    app = await start_server()
    client = await send_request(app.port, request(app.port, Sec_WebSocket_Version=version))
    assert client.status == 426
    assert b"\r\nSec-WebSocket-Version: 13\r\n" in client.response_headers
    assert "supported: 13" in (await body_of(client))["error"]
    assert app.node is not None and app.node.stats.handshake_rejected["version"] == 1


async def test_missing_websocket_version_is_400_naming_13(start_server: StartServer) -> None:
    app = await start_server()
    client = await send_request(app.port, request(app.port, Sec_WebSocket_Version=None))
    assert client.status == 400
    assert b"\r\nSec-WebSocket-Version: 13\r\n" in client.response_headers
    assert await body_of(client) == {"error": "Sec-WebSocket-Version header required"}


@pytest.mark.parametrize("size", [20 * 1024, 64 * 1024])
async def test_headers_past_16_kib_get_431_not_a_reset(
    start_server: StartServer, size: int
) -> None:
    app = await start_server()
    client = await send_request(app.port, request(app.port, X_Junk="j" * size))
    assert client.status == 431
    assert b"Content-Type: application/json" in client.response_headers
    assert await body_of(client) == {"error": "request headers too large"}  # then EOF
    assert app.node is not None and app.node.stats.handshake_rejected["headers_too_large"] == 1
    assert (await send_request(app.port, request(app.port))).status == 101  # still serving


async def test_headers_that_never_end_get_431(start_server: StartServer) -> None:
    """A head with no blank line is refused at 16 KiB, whatever keeps arriving."""
    app = await start_server()
    reader, writer = await asyncio.open_connection("127.0.0.1", app.port)
    writer.write(b"GET /ws HTTP/1.1\r\n")
    for _ in range(8):
        writer.write(b"X-Junk: " + b"j" * 4096 + b"\r\n")
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout(5))
    assert head.startswith(b"HTTP/1.1 431 ")
    writer.close()


async def test_huge_exp_claim_is_403_not_500(start_server: StartServer) -> None:
    app = await start_server(jwt_secret=SECRET)
    absurd: list[dict[str, Any]] = [
        {"exp": 10**400},
        {"exp": 1e300, "nbf": 10**400},
        {"exp": 1e300, "iat": 1e400},
    ]
    for claims in absurd:
        signed = token(expires_in=None, **claims)
        client = await send_request(app.port, request(app.port, path=f"/ws?token={signed}"))
        assert client.status == 403, claims
        assert (await body_of(client))["error"] in ("invalid token", "token not yet valid")


async def test_unexpected_error_is_a_fixed_500_and_logged_without_the_token(
    start_server: StartServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from switchboard.security.gate import HandshakeGate

    def broken(*args: object) -> None:
        raise RuntimeError("internal detail the client must not see")

    app = await start_server(jwt_secret=SECRET)
    monkeypatch.setattr(HandshakeGate, "check", broken)
    signed = token("ann")
    client = await send_request(app.port, request(app.port, path=f"/ws?%74oken={signed}&x=1"))
    assert client.status == 500
    assert await body_of(client) == {"error": "internal error"}
    assert app.node is not None and app.node.stats.handshake_rejected["internal"] == 1
    logged = capsys.readouterr()
    everything = logged.out + logged.err
    assert "handshake_failed" in everything and "/ws?%74oken=[redacted]&x=1" in everything
    assert signed not in everything


@pytest.mark.parametrize("name", ["%74oken", "t%6Fken", "%74%6F%6B%65%6E", "token"])
async def test_percent_encoded_token_name_is_redacted_in_refusal_logs(
    start_server: StartServer, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    app = await start_server(jwt_secret=SECRET, allowed_origin=["https://app.example.com"])
    signed = token("ann")
    path = f"/ws?{name}={signed}"
    accepted = await send_request(app.port, request(app.port, path=path))
    await assert_echoes(accepted)  # the decoded name is the token parameter: it is read
    refused = await send_request(
        app.port, request(app.port, path=path, Origin="https://evil.example")
    )
    assert refused.status == 403
    assert signed not in json.dumps(await body_of(refused))
    logged = capsys.readouterr()
    everything = logged.out + logged.err
    assert "handshake_rejected" in everything and f"{name}=[redacted]" in everything
    assert signed not in everything
