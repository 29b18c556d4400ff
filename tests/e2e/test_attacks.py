"""Every attack of the security checklist against one server, while a well-behaved client keeps
working: each gets its exact status or close code, the bystander is served throughout, and
no token reaches any log line."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
import websockets
from websockets.exceptions import ConnectionClosed, InvalidStatus

from ..conftest import StartServer, recv_json, timeout, ws_url
from ..rawclient import RawClient
from ..security.keys import SECRET, confused, forged_none, token

Attack = Callable[[str, int], Awaitable[object]]


async def http_status(url: str, **kwargs: Any) -> int:
    try:
        async with websockets.connect(url, open_timeout=timeout(5), **kwargs):
            return 101
    except InvalidStatus as refused:
        return int(refused.response.status_code)


async def close_code(url: str, send: list[str]) -> int:
    async with websockets.connect(url) as ws:
        await recv_json(ws)
        for message in send:
            await ws.send(message)
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                await asyncio.wait_for(ws.recv(), timeout(5))
    assert closed.value.rcvd is not None
    return closed.value.rcvd.code


async def subscriptions_refused(url: str) -> list[str]:
    async with websockets.connect(url) as ws:
        await recv_json(ws)
        codes = []
        for n in range(4):
            await ws.send(json.dumps({"type": "subscribe", "channel": f"c{n}", "id": n}))
            reply = await recv_json(ws)
            codes.append(reply.get("code", reply["type"]))
        return codes


async def slowloris(port: int) -> bool:
    """Half a handshake, then nothing: the server must hang up by itself."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n")
    closed = await asyncio.wait_for(reader.read(), timeout(5)) == b""
    writer.close()
    return closed


async def test_attack_gallery(
    start_server: StartServer, capsys: pytest.CaptureFixture[str]
) -> None:
    app = await start_server(
        jwt_secret=SECRET,
        jwt_audience="chat",
        allowed_origin=["https://app.example.com"],
        max_message_size=4096,
        max_subscriptions=2,
        message_rate=20,
        flood_strikes=10,
        handshake_timeout=0.5,
        log_level="debug",
    )
    url = ws_url(app)
    good = token("guard", aud="chat")
    tokens = {
        "forged": token("eve", aud="chat", key="a-different-secret-a-different-secret-0000"),
        "expired": token("eve", aud="chat", expires_in=-60),
        "wrong-audience": token("eve", aud="billing"),
        "alg-none": forged_none(),
        "alg-confusion": confused(),
    }
    async with websockets.connect(f"{url}?token={good}") as bystander:
        await recv_json(bystander)

        async def still_served(label: str) -> None:
            await bystander.send(json.dumps({"type": "echo", "data": label}))
            assert (await recv_json(bystander))["data"] == label, label

        for name, bad in tokens.items():
            assert await http_status(f"{url}?token={bad}") == 403, name
            await still_served(name)
        assert await http_status(url) == 401
        cross_site = {"Cookie": f"token={good}"}
        assert (
            await http_status(url, origin="https://evil.example", additional_headers=cross_site)
            == 403
        )
        await still_served("cross-site")

        authed = f"{url}?token={token('mallory', aud='chat')}"
        oversize = json.dumps({"type": "echo", "data": "x" * 10_000})
        assert await close_code(authed, [oversize]) == 1009
        await still_served("oversize")
        flood = ['{"type":"ping"}'] * 200
        assert await close_code(authed, flood) == 1008
        await still_served("flood")
        assert await subscriptions_refused(authed) == ["ack", "ack", "FORBIDDEN", "FORBIDDEN"]
        await still_served("subscriptions")
        assert await slowloris(app.port)
        await still_served("slowloris")
        raw = await RawClient.connect(app.port, path=f"/ws?token={good}")
        assert raw.status == 101
        raw.close()
    logged = capsys.readouterr()
    everything = logged.out + logged.err
    assert "handshake_rejected" in everything and "message_flood" in everything
    for secret in [good, SECRET, *tokens.values()]:
        assert secret not in everything
