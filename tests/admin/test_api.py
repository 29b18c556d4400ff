"""The control plane over real HTTP: probes, the management API (auth, 410, pagination), pages."""

from __future__ import annotations

import asyncio
import json
import time
import tracemalloc
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import websockets
from websockets.asyncio.client import ClientConnection

from switchboard import App

from ..conftest import StartServer, recv_json, timeout, wait_until, ws_url
from ..rawclient import RawClient

KEY = "management-test-key"
AUTH = {"X-API-Key": KEY}


def admin(app: App) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=f"http://127.0.0.1:{app.admin_port}", timeout=timeout(5))


@pytest.fixture
async def running(start_server: StartServer) -> AsyncIterator[tuple[App, httpx.AsyncClient]]:
    app = await start_server(
        api_key=KEY, channel_defaults={"presence": True, "history_size": 10, "history_ttl": 60}
    )
    async with admin(app) as client:
        yield app, client


async def connect(app: App) -> tuple[ClientConnection, str]:
    """A client that has read its welcome; returns it and its connection id."""
    ws = await websockets.connect(ws_url(app))
    welcome = await recv_json(ws)
    return ws, welcome["connection_id"]


async def request(ws: ClientConnection, message: dict[str, Any]) -> dict[str, Any]:
    await ws.send(json.dumps(message))
    return await recv_json(ws)


def assert_error(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == code
    assert body["error"]["message"]


# --- probes ---------------------------------------------------------------------------------------


async def test_probes_are_open_and_ready_turns_503_while_draining(
    start_server: StartServer,
) -> None:
    app = await start_server(api_key=KEY)
    async with admin(app) as client:
        assert (await client.get("/health")).json() == {"status": "ok"}
        assert (await client.get("/ready")).json() == {"status": "ready"}
        metrics = await client.get("/metrics")
        assert metrics.status_code == 200
        assert metrics.headers["content-type"].startswith("text/plain")
        assert "switchboard_connections_active 0.0" in metrics.text
        # A client that never answers the close: the drain lasts its whole drain_timeout.
        silent = await RawClient.connect(app.port)
        shutdown = asyncio.create_task(app.shutdown())
        await wait_until(lambda: app.draining)
        ready = await client.get("/ready")
        assert ready.status_code == 503
        assert ready.json() == {"status": "draining"}
        assert (await client.get("/api/v1/stats", headers=AUTH)).json()["draining"] is True
        await shutdown
        silent.close()
        with pytest.raises(httpx.ConnectError):  # the control plane stops after the drain
            await client.get("/health")


async def test_openapi_and_docs_are_served(running: tuple[App, httpx.AsyncClient]) -> None:
    _, client = running
    spec = (await client.get("/openapi.json")).json()
    assert "/api/v1/connections/{connection_id}" in spec["paths"]
    assert "/api/v1/channels/{channel}/publish" in spec["paths"]
    docs = await client.get("/docs")
    assert docs.status_code == 200
    assert "swagger" in docs.text.lower()


# --- authentication -------------------------------------------------------------------------------


@pytest.mark.parametrize("headers", [{}, {"X-API-Key": "wrong"}, {"X-API-Key": ""}])
async def test_api_refuses_a_missing_or_wrong_key(
    running: tuple[App, httpx.AsyncClient], headers: dict[str, str]
) -> None:
    _, client = running
    for method, path in [
        ("GET", "/api/v1/stats"),
        ("GET", "/api/v1/connections"),
        ("POST", "/api/v1/channels/room:1/publish"),
        ("DELETE", "/api/v1/connections/c-x"),
    ]:
        response = await client.request(method, path, headers=headers, json={"data": 1})
        assert_error(response, 401, "UNAUTHORIZED")


async def test_api_is_off_without_a_key_unless_insecure(start_server: StartServer) -> None:
    app = await start_server()
    async with admin(app) as client:
        response = await client.get("/api/v1/stats")
        assert_error(response, 401, "UNAUTHORIZED")
        assert "api_key" in response.json()["error"]["message"]
    app = await start_server(admin_insecure=True)
    async with admin(app) as client:
        assert (await client.get("/api/v1/stats")).status_code == 200


# --- sending --------------------------------------------------------------------------------------


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


# --- connections ----------------------------------------------------------------------------------


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


# --- channels, presence, stats, diagnostics -------------------------------------------------------


async def test_channels_presence_and_stats(running: tuple[App, httpx.AsyncClient]) -> None:
    app, client = running
    a, a_id = await connect(app)
    b, b_id = await connect(app)
    for ws in (a, b):
        await request(ws, {"type": "subscribe", "channel": "room:big", "id": "s"})
    await request(a, {"type": "subscribe", "channel": "room:small", "id": "s"})
    channels = (await client.get("/api/v1/channels", headers=AUTH)).json()
    assert channels["items"] == [
        {"channel": "room:big", "subscribers": 2},
        {"channel": "room:small", "subscribers": 1},
    ]
    page = (await client.get("/api/v1/channels?limit=1&prefix=room:", headers=AUTH)).json()
    assert page["next_cursor"] == "room:big"
    presence = (await client.get("/api/v1/channels/room:big/presence", headers=AUTH)).json()
    assert sorted(m["connection"] for m in presence["members"]) == sorted([a_id, b_id])
    await request(a, {"type": "nonsense"})
    stats = (await client.get("/api/v1/stats", headers=AUTH)).json()
    assert stats["connections"] == 2
    assert stats["subscriptions"] == 3
    assert stats["errors"] == {"UNKNOWN_MESSAGE_TYPE": 1}
    assert stats["busiest_channels"][0] == {"channel": "room:big", "subscribers": 2}
    assert stats["version"] == app.version
    await a.close()
    await b.close()


async def test_diagnostics_report_loop_lag_and_allocations(
    running: tuple[App, httpx.AsyncClient],
) -> None:
    app, client = running
    assert app.monitor is not None
    # Hold the loop past the monitor's next 1 s tick: that tick fires at least 0.2 s late.
    time.sleep(1.2)  # noqa: ASYNC251 (blocking the loop is the thing under test)
    monitor = app.monitor
    await wait_until(lambda: any(s["loop_lag_ms"] >= 150 for s in monitor.samples))
    lag = (await client.get("/api/v1/diagnostics/loop-lag", headers=AUTH)).json()
    assert lag["max_recent_ms"] >= 150, lag
    assert 0 <= lag["now_ms"] < 150
    report = await client.get(
        "/api/v1/diagnostics/allocations", headers=AUTH, params={"seconds": 0.2, "top": 5}
    )
    body = report.json()
    assert report.status_code == 200, body
    assert body["traced_seconds"] == 0.2
    assert 0 < len(body["top"]) <= 5
    assert all(":" in site["where"] and site["size_bytes"] > 0 for site in body["top"])
    assert not tracemalloc.is_tracing()  # switched off again after the window


# --- pages ----------------------------------------------------------------------------------------


async def test_dashboard_files_config_and_stream(running: tuple[App, httpx.AsyncClient]) -> None:
    app, client = running
    page = await client.get("/dashboard")
    assert page.status_code == 200
    assert "/dashboard/static/dashboard.js" in page.text
    script = await client.get("/dashboard/static/dashboard.js")
    assert "javascript" in script.headers["content-type"]
    assert (await client.get("/demo")).status_code == 200
    config = (await client.get("/dashboard/config.json")).json()
    assert config["ws_port"] == app.port
    assert config["ws_path"] == "/ws"
    refused = await client.get("/dashboard/stream", params={"key": "wrong"})
    assert_error(refused, 401, "UNAUTHORIZED")
    async with client.stream("GET", "/dashboard/stream", params={"key": KEY}) as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        events: list[tuple[str, Any]] = []
        name = ""
        async for line in stream.aiter_lines():
            if line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: "):
                events.append((name, json.loads(line[6:])))
                if len(events) == 2:
                    break
    assert events[0][0] == "history"
    assert isinstance(events[0][1], list)
    assert events[1][0] == "sample"
    assert events[1][1]["connections"] == 0
    assert events[1][1]["node"] == app.settings.node_id


async def test_unknown_paths_use_the_error_shape(running: tuple[App, httpx.AsyncClient]) -> None:
    _, client = running
    assert_error(await client.get("/nope"), 404, "NOT_FOUND")
    assert_error(await client.put("/api/v1/stats", headers=AUTH), 405, "METHOD_NOT_ALLOWED")


async def test_the_dashboard_stream_ends_when_the_server_stops(start_server: StartServer) -> None:
    app = await start_server()
    async with admin(app) as client, client.stream("GET", "/dashboard/stream") as stream:
        lines = stream.aiter_lines()
        assert (await anext(lines)).startswith("event: history")
        shutdown = asyncio.create_task(app.shutdown())

        async def rest_of_stream() -> list[str]:
            return [line async for line in lines]

        rest = await asyncio.wait_for(rest_of_stream(), timeout(5))  # the server ended it
        await asyncio.wait_for(shutdown, timeout(5))
    assert all(not line.startswith("event: history") for line in rest)


async def test_the_key_and_body_size_are_checked_before_the_body_is_read(
    running: tuple[App, httpx.AsyncClient],
) -> None:
    app, client = running
    big = b'{"data": "' + b"x" * (app.settings.max_message_size + 2048) + b'"}'
    url = "/api/v1/channels/room:1/publish"
    headers = {"Content-Type": "application/json"}
    assert_error(await client.post(url, content=big, headers=headers), 401, "UNAUTHORIZED")
    too_big = await client.post(url, content=big, headers={**headers, **AUTH})
    assert_error(too_big, 413, "MESSAGE_TOO_LARGE")

    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"data": 1}'

    chunked = await client.post(url, content=chunks(), headers={**headers, **AUTH})
    assert_error(chunked, 411, "LENGTH_REQUIRED")


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


async def test_a_busy_admin_port_fails_the_start_and_leaves_nothing_running(
    start_server: StartServer,
) -> None:
    first = await start_server()
    second = App()
    with pytest.raises(OSError):
        await start_server(second, admin_port=first.admin_port)
    assert second.node is None
    with pytest.raises(RuntimeError):
        second.port  # noqa: B018 - the WebSocket port was never bound
    async with admin(first) as client:  # the first server is untouched
        assert (await client.get("/health")).status_code == 200


async def test_an_api_key_must_be_long_enough(start_server: StartServer) -> None:
    with pytest.raises(ValueError, match="api_key"):
        await start_server(api_key="short")
