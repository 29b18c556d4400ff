"""``admin/sending.py`` over real HTTP: publish to a channel, send to a connection or a user."""

from __future__ import annotations

from typing import Any

import httpx

from switchboard import App

from ..conftest import StartServer, recv_json, wait_until
from .conftest import AUTH, KEY, admin, assert_error, connect, request


async def test_publish_reaches_subscribers_and_history(
    running: tuple[App, httpx.AsyncClient],
) -> None:
    app, client = running
    ws, _ = await connect(app)
    assert (await request(ws, {"type": "subscribe", "channel": "room:1", "id": "s"}))[
        "type"
    ] == "ack"
    for n in (1, 2):
        response = await client.post(
            "/api/v1/channels/room:1/publish", headers=AUTH, json={"data": {"n": n}}
        )
        assert response.status_code == 200
        assert response.json()["offset"] == n
        message = await recv_json(ws)
        assert message == {"type": "message", "channel": "room:1", "offset": n, "data": {"n": n}}
    history = (await client.get("/api/v1/channels/room:1/history?limit=1", headers=AUTH)).json()
    assert history["offset"] == 2
    assert history["publications"] == [{"offset": 2, "data": {"n": 2}}]
    await ws.close()


async def test_publish_validates_channel_and_size(running: tuple[App, httpx.AsyncClient]) -> None:
    app, client = running
    bad = await client.post("/api/v1/channels/bad channel!/publish", headers=AUTH, json={"data": 1})
    assert_error(bad, 422, "INVALID_REQUEST")
    missing = await client.post("/api/v1/channels/room:1/publish", headers=AUTH, json={})
    assert_error(missing, 422, "INVALID_REQUEST")
    huge = "x" * (app.settings.max_message_size + 1)
    too_big = await client.post(
        "/api/v1/channels/room:1/publish", headers=AUTH, json={"data": huge}
    )
    assert_error(too_big, 413, "MESSAGE_TOO_LARGE")


async def test_send_to_a_connection_then_410_once_it_is_gone(
    running: tuple[App, httpx.AsyncClient],
) -> None:
    app, client = running
    ws, conn_id = await connect(app)
    sent = await client.post(f"/api/v1/connections/{conn_id}", headers=AUTH, json={"hi": [1, 2]})
    assert sent.status_code == 200
    assert sent.json() == {"delivered": 1}
    assert await recv_json(ws) == {
        "type": "direct",
        "from": {"connection": "server", "user": None},
        "data": {"hi": [1, 2]},
    }
    await ws.close()
    await wait_until(lambda: app.node is not None and app.node.registry.get(conn_id) is None)
    for method in ("POST", "GET", "DELETE"):
        gone = await client.request(
            method, f"/api/v1/connections/{conn_id}", headers=AUTH, json="late"
        )
        assert_error(gone, 410, "GONE")
    never = await client.post("/api/v1/connections/c-never-was", headers=AUTH, json=1)
    assert_error(never, 410, "GONE")


async def test_send_to_a_user_reaches_all_their_connections(start_server: StartServer) -> None:
    app = App()

    @app.on_connect
    def name_user(conn: Any) -> None:
        conn.user = "ann"

    app = await start_server(app, api_key=KEY)
    async with admin(app) as client:
        (a, _), (b, _) = await connect(app), await connect(app)
        response = await client.post("/api/v1/users/ann/send", headers=AUTH, json={"data": "yo"})
        assert response.json() == {"delivered": 2}
        for ws in (a, b):
            assert (await recv_json(ws))["data"] == "yo"
        nobody = await client.post("/api/v1/users/bob/send", headers=AUTH, json={"data": 1})
        assert_error(nobody, 404, "NOT_FOUND")
        count = await client.get("/api/v1/connections/count?user=ann", headers=AUTH)
        assert count.json() == {"count": 2}
        await a.close()
        await b.close()


async def test_send_to_a_connection_takes_the_data_shape_and_the_deprecated_bare_body(
    running: tuple[App, httpx.AsyncClient],
) -> None:
    app, client = running
    ws, conn_id = await connect(app)
    url = f"/api/v1/connections/{conn_id}"
    for body, data in (
        ({"data": {"hi": 1}}, {"hi": 1}),  # the one shape of every send
        ({"data": None}, None),
        ({"hi": 2}, {"hi": 2}),  # deprecated: the body is the data
        ({"data": 1, "more": 2}, {"data": 1, "more": 2}),  # not only "data": the data itself
        ([1, 2], [1, 2]),
    ):
        sent = await client.post(url, headers=AUTH, json=body)
        assert sent.json() == {"delivered": 1}
        assert (await recv_json(ws))["data"] == data
    await ws.close()
