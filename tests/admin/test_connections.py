"""``admin/connections.py`` over real HTTP: inspect, list, count and close connections."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx

from switchboard import App

from ..conftest import StartServer, recv_json, timeout, wait_until
from .conftest import AUTH, KEY, admin, assert_error, connect, request


async def test_connection_info_counts_traffic(running: tuple[App, httpx.AsyncClient]) -> None:
    app, client = running
    ws, conn_id = await connect(app)
    await request(ws, {"type": "subscribe", "channel": "room:7", "id": "s"})
    for _ in range(3):
        await request(ws, {"type": "echo", "data": "abc"})
    info = (await client.get(f"/api/v1/connections/{conn_id}", headers=AUTH)).json()
    assert info["id"] == conn_id
    assert info["node"] == app.settings.node_id
    assert info["address"].startswith("127.0.0.1:")
    assert info["subprotocol"] == "v1.json"
    assert info["subscriptions"] == ["room:7"]
    assert info["messages_in"] == 4
    assert info["messages_out"] == 5  # welcome, ack, three echo replies
    sent = [{"type": "subscribe", "channel": "room:7", "id": "s"}] + [
        {"type": "echo", "data": "abc"}
    ] * 3
    # The kernel's count: the upgrade request, then each message with its frame header.
    assert info["bytes_in"] > sum(len(json.dumps(m)) + 6 for m in sent) + 100
    assert info["bytes_out"] > 0
    await ws.close()


async def test_list_connections_paginates_and_filters(
    running: tuple[App, httpx.AsyncClient],
) -> None:
    app, client = running
    clients = [await connect(app) for _ in range(5)]
    ws0, id0 = clients[0]
    await request(ws0, {"type": "subscribe", "channel": "room:2", "id": "s"})
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = (await client.get("/api/v1/connections", headers=AUTH, params=params)).json()
        assert page["total"] == 5
        assert len(page["items"]) <= 2
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == sorted(conn_id for _, conn_id in clients)
    in_room = await client.get("/api/v1/connections?channel=room:2", headers=AUTH)
    assert [item["id"] for item in in_room.json()["items"]] == [id0]
    count = await client.get("/api/v1/connections/count?channel=room:2", headers=AUTH)
    assert count.json() == {"count": 1}
    bad_limit = await client.get("/api/v1/connections?limit=0", headers=AUTH)
    assert_error(bad_limit, 422, "INVALID_REQUEST")
    for ws, _ in clients:
        await ws.close()


async def test_delete_closes_with_the_given_code_and_reason(
    running: tuple[App, httpx.AsyncClient],
) -> None:
    app, client = running
    ws, conn_id = await connect(app)
    response = await client.delete(
        f"/api/v1/connections/{conn_id}", headers=AUTH, params={"code": 4321, "reason": "bye"}
    )
    assert response.json() == {"closed": True, "code": 4321}
    await asyncio.wait_for(ws.wait_closed(), timeout(5))
    assert ws.close_code == 4321
    assert ws.close_reason == "bye"
    other, other_id = await connect(app)
    reserved = await client.delete(
        f"/api/v1/connections/{other_id}", headers=AUTH, params={"code": 1006}
    )
    assert_error(reserved, 422, "INVALID_REQUEST")
    await other.close()


async def test_pagination_edges(running: tuple[App, httpx.AsyncClient]) -> None:
    app, client = running
    clients = [await connect(app) for _ in range(3)]
    ids = sorted(conn_id for _, conn_id in clients)
    last = await client.get("/api/v1/connections", headers=AUTH, params={"cursor": ids[-1]})
    assert last.json() == {"items": [], "total": 3, "next_cursor": None}
    exact = await client.get("/api/v1/connections", headers=AUTH, params={"limit": 3})
    assert exact.json()["next_cursor"] is None
    first = (await client.get("/api/v1/connections", headers=AUTH, params={"limit": 1})).json()
    assert first["next_cursor"] == ids[0]
    by_id = {conn_id: ws for ws, conn_id in clients}
    await by_id[ids[0]].close()  # the cursor's connection goes between pages
    await wait_until(lambda: app.node is not None and app.node.registry.get(ids[0]) is None)
    rest = await client.get(
        "/api/v1/connections", headers=AUTH, params={"limit": 5, "cursor": first["next_cursor"]}
    )
    assert [item["id"] for item in rest.json()["items"]] == ids[1:]
    too_many = await client.get("/api/v1/connections", headers=AUTH, params={"limit": 1001})
    assert_error(too_many, 422, "INVALID_REQUEST")
    for conn_id in ids[1:]:
        await by_id[conn_id].close()


async def test_a_user_json_cannot_carry_is_shown_as_text(start_server: StartServer) -> None:
    app = App()

    class Account:
        def __str__(self) -> str:
            return "account-7"

    @app.on_connect
    def attach(conn: Any) -> None:
        conn.user = Account()

    app = await start_server(app, api_key=KEY)
    async with admin(app) as client:
        ws, conn_id = await connect(app)
        listed = (await client.get("/api/v1/connections", headers=AUTH)).json()
        assert listed["items"][0]["user"] == "account-7"
        one = (await client.get(f"/api/v1/connections/{conn_id}", headers=AUTH)).json()
        assert one["user"] == "account-7"
        await ws.close()


async def test_subscribe_and_unsubscribe_one_connection(
    running: tuple[App, httpx.AsyncClient],
) -> None:
    app, client = running
    ws, conn_id = await connect(app)
    other, _ = await connect(app)
    url = f"/api/v1/connections/{conn_id}"
    joined = await client.post(f"{url}/subscribe", headers=AUTH, json={"channel": "room:9"})
    assert joined.status_code == 200, joined.text
    assert joined.json() == {"channel": "room:9", "connections": 1}
    told = await recv_json(ws)
    assert (told["type"], told["channel"]) == ("subscribed", "room:9")
    info = (await client.get(url, headers=AUTH)).json()
    assert info["subscriptions"] == ["room:9"]
    other_info = (await client.get("/api/v1/connections?channel=room:9", headers=AUTH)).json()
    assert [c["id"] for c in other_info["items"]] == [conn_id]

    left = await client.post(f"{url}/unsubscribe", headers=AUTH, json={"channel": "room:9"})
    assert left.json() == {"channel": "room:9", "connections": 1}
    assert await recv_json(ws) == {"type": "unsubscribed", "channel": "room:9"}
    assert (await client.get(url, headers=AUTH)).json()["subscriptions"] == []

    gone = await client.post(
        "/api/v1/connections/c-never-was/subscribe", headers=AUTH, json={"channel": "room:9"}
    )
    assert_error(gone, 410, "GONE")
    bad = await client.post(f"{url}/subscribe", headers=AUTH, json={"channel": "a b"})
    assert_error(bad, 422, "INVALID_REQUEST")
    await ws.close()
    await other.close()
