"""Per-address limits and bans at the handshake, with real clients on 127.0.0.1."""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack

import pytest
import websockets
from websockets.exceptions import ConnectionClosed, InvalidStatus

from ..conftest import StartServer, recv_json, timeout, wait_until, ws_url
from ..security.keys import SECRET, token


async def status_of(url: str, **kwargs: object) -> int:
    with pytest.raises(InvalidStatus) as refused:
        async with websockets.connect(url, **kwargs):  # type: ignore[arg-type]
            pass
    return refused.value.response.status_code


async def test_concurrency_limit_then_release(start_server: StartServer) -> None:
    app = await start_server(max_connections_per_address=3)
    url = ws_url(app)
    async with AsyncExitStack() as stack:
        held = [await stack.enter_async_context(websockets.connect(url)) for _ in range(3)]
        for ws in held:
            await recv_json(ws)
        assert await status_of(url) == 429
        await held[0].close()
        # The server forgets the connection (and releases its slot) once its socket is gone.
        await wait_until(lambda: app.node is not None and len(app.node.registry) == 2)
        async with websockets.connect(url) as again:  # a slot was released
            assert (await recv_json(again))["type"] == "welcome"


async def test_connection_flood_gets_429_and_a_ban(start_server: StartServer) -> None:
    app = await start_server(
        connection_rate_per_address=5, connection_burst_per_address=5, ban_after=3
    )
    url = ws_url(app)
    async with websockets.connect(url) as early:  # opened before the flood
        await recv_json(early)
        statuses = []
        for _ in range(12):
            try:
                async with websockets.connect(url):
                    statuses.append(101)
            except InvalidStatus as exc:
                statuses.append(exc.response.status_code)
        assert statuses[:4] == [101] * 4  # the burst (5, one used by `early`)
        assert set(statuses[4:]) == {429}
        refused = await status_of(url)  # banned now, whatever the bucket says
        assert refused == 429
        # The connection that was already open keeps working.
        await early.send('{"type":"echo","data":"ok"}')
        assert (await recv_json(early))["data"] == "ok"


async def test_in_band_style_closes_4001(start_server: StartServer) -> None:
    app = await start_server(max_connections_per_address=1, auth_style="close")
    url = ws_url(app)
    async with websockets.connect(url) as first:
        await recv_json(first)
        async with websockets.connect(url) as second:
            with pytest.raises(ConnectionClosed) as closed:
                await asyncio.wait_for(second.recv(), timeout(5))
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == 4001


async def test_bad_tokens_and_floods_earn_a_ban(start_server: StartServer) -> None:
    app = await start_server(jwt_secret=SECRET, ban_after=3, message_rate=5, flood_strikes=5)
    url = ws_url(app)
    for _ in range(2):
        assert await status_of(f"{url}?token=garbage") == 403
    async with websockets.connect(f"{url}?token={token()}") as flooder:
        await recv_json(flooder)
        for _ in range(40):
            await flooder.send('{"type":"ping"}')
        with pytest.raises(ConnectionClosed):
            while True:
                await asyncio.wait_for(flooder.recv(), timeout(5))
    # Two bad tokens and one flood: banned, even with a good token.
    assert await status_of(f"{url}?token={token()}") == 429


async def test_connections_per_user(start_server: StartServer) -> None:
    app = await start_server(jwt_secret=SECRET, max_connections_per_user=2)
    url = ws_url(app)
    ann = f"{url}?token={token('ann')}"
    async with websockets.connect(ann) as first, websockets.connect(ann) as second:
        await recv_json(first)
        await recv_json(second)
        assert await status_of(ann) == 429
        async with websockets.connect(f"{url}?token={token('bob')}") as bob:
            assert (await recv_json(bob))["type"] == "welcome"  # others are not affected
