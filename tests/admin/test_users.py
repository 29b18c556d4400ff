"""``admin/users.py`` over real HTTP: close, subscribe and unsubscribe every connection of a
user (the cluster-wide case is in ``tests/cluster/test_management.py``)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection

from switchboard import App

from ..conftest import StartServer, recv_json, wait_until
from .conftest import AUTH, KEY, admin, assert_error, connect


@pytest.fixture
async def users(
    start_server: StartServer,
) -> AsyncIterator[tuple[App, httpx.AsyncClient, list[ClientConnection]]]:
    """Two connections of ann, one of bob (in that order), on a server with history."""
    app = App()
    names: Iterator[str] = iter(["ann", "ann", "bob"])

    @app.on_connect
    def name_user(conn: Any) -> None:
        conn.user = next(names)

    app = await start_server(app, api_key=KEY, channel_defaults={"history_size": 10})
    clients = [(await connect(app))[0] for _ in range(3)]
    async with admin(app) as client:
        yield app, client, clients
    for ws in clients:
        await ws.close()


async def test_subscribe_then_unsubscribe_every_connection_of_a_user(
    users: tuple[App, httpx.AsyncClient, list[ClientConnection]],
) -> None:
    _, client, (ann1, ann2, _) = users
    subscribed = await client.post(
        "/api/v1/users/ann/subscribe", headers=AUTH, json={"channel": "room:1"}
    )
    assert subscribed.status_code == 200, subscribed.text
    assert subscribed.json() == {"channel": "room:1", "connections": 2}
    for ws in (ann1, ann2):
        told = await recv_json(ws)
        assert told["type"] == "subscribed" and told["channel"] == "room:1"
    published = await client.post(
        "/api/v1/channels/room:1/publish", headers=AUTH, json={"data": "hi"}
    )
    assert published.status_code == 200
    for ws in (ann1, ann2):
        assert (await recv_json(ws))["data"] == "hi"
    listed = await client.get("/api/v1/connections?channel=room:1", headers=AUTH)
    assert {c["user"] for c in listed.json()["items"]} == {"ann"}  # bob was not subscribed

    left = await client.post(
        "/api/v1/users/ann/unsubscribe", headers=AUTH, json={"channel": "room:1"}
    )
    assert left.json() == {"channel": "room:1", "connections": 2}
    for ws in (ann1, ann2):
        assert await recv_json(ws) == {"type": "unsubscribed", "channel": "room:1"}
    count = await client.get("/api/v1/connections/count?channel=room:1", headers=AUTH)
    assert count.json() == {"count": 0}


async def test_disconnect_every_connection_of_a_user_with_code_and_reason(
    users: tuple[App, httpx.AsyncClient, list[ClientConnection]],
) -> None:
    app, client, (ann1, ann2, bob) = users
    closed = await client.delete(
        "/api/v1/users/ann/connections", headers=AUTH, params={"code": 4001, "reason": "bye"}
    )
    assert closed.status_code == 200, closed.text
    assert closed.json() == {"disconnected": 2, "code": 4001}
    for ws in (ann1, ann2):
        await ws.wait_closed()
        assert (ws.close_code, ws.close_reason) == (4001, "bye")
    await wait_until(lambda: app.node is not None and len(app.node.registry) == 1)
    assert bob.close_code is None  # another user's connection stays
    again = await client.delete("/api/v1/users/ann/connections", headers=AUTH)
    assert_error(again, 404, "NOT_FOUND")


async def test_user_actions_refuse_what_they_cannot_do(
    users: tuple[App, httpx.AsyncClient, list[ClientConnection]],
) -> None:
    _, client, _ = users
    nobody = await client.post("/api/v1/users/eve/subscribe", headers=AUTH, json={"channel": "a"})
    assert_error(nobody, 404, "NOT_FOUND")
    bad_channel = await client.post(
        "/api/v1/users/ann/subscribe", headers=AUTH, json={"channel": "no spaces"}
    )
    assert_error(bad_channel, 422, "INVALID_REQUEST")
    bad_code = await client.delete(
        "/api/v1/users/ann/connections", headers=AUTH, params={"code": 1006}
    )
    assert_error(bad_code, 422, "INVALID_REQUEST")
