"""The control plane over real HTTP as a whole: probes, the API key, pages, the error shape."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from switchboard import App

from ..conftest import StartServer, timeout, wait_until
from ..rawclient import RawClient
from .conftest import AUTH, KEY, admin, assert_error


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


async def test_dashboard_files_config_and_stream(running: tuple[App, httpx.AsyncClient]) -> None:
    app, client = running
    page = await client.get("/dashboard")
    assert page.status_code == 200
    assert "/dashboard/static/dashboard.js" in page.text
    assert '<tbody id="nodes">' in page.text
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


async def test_the_front_page_is_the_dashboard(running: tuple[App, httpx.AsyncClient]) -> None:
    _, client = running
    answer = await client.get("/?key=abc")
    assert answer.status_code == 307
    assert answer.headers["location"] == "/dashboard?key=abc"
    assert (await client.get("/")).headers["location"] == "/dashboard"


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


async def test_every_operation_has_a_readable_camel_case_operation_id(
    running: tuple[App, httpx.AsyncClient],
) -> None:
    _, client = running
    spec = (await client.get("/openapi.json")).json()
    ids = {
        (method.upper(), path): operation["operationId"]
        for path, methods in spec["paths"].items()
        for method, operation in methods.items()
    }
    assert all(re.fullmatch(r"[a-z]+(?:[A-Z][a-z0-9]*)*", i) for i in ids.values()), ids
    assert len(set(ids.values())) == len(ids)
    v1 = "/api/v1"
    assert {
        ("POST", f"{v1}/channels/{{channel}}/publish"): "publish",
        ("POST", f"{v1}/publish"): "publishMany",
        ("GET", f"{v1}/connections"): "listConnections",
        ("GET", f"{v1}/connections/{{connection_id}}"): "getConnection",
        ("DELETE", f"{v1}/connections/{{connection_id}}"): "disconnectConnection",
        ("POST", f"{v1}/connections/{{connection_id}}"): "sendToConnection",
        ("POST", f"{v1}/connections/{{connection_id}}/subscribe"): "subscribeConnection",
        ("POST", f"{v1}/users/{{user}}/send"): "sendToUser",
        ("DELETE", f"{v1}/users/{{user}}/connections"): "disconnectUser",
        ("POST", f"{v1}/users/{{user}}/subscribe"): "subscribeUser",
        ("POST", f"{v1}/users/{{user}}/unsubscribe"): "unsubscribeUser",
        ("GET", f"{v1}/channels/{{channel}}/history"): "getHistory",
        ("POST", f"{v1}/batch"): "batch",
        ("GET", f"{v1}/stats"): "getStats",
        ("GET", "/health"): "checkHealth",
    }.items() <= ids.items()
