"""Shared by the control plane's tests: a server with an API key, a client of its admin
port, a WebSocket client that has read its welcome, and the one error shape."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import websockets
from websockets.asyncio.client import ClientConnection

from switchboard import App

from ..conftest import StartServer, recv_json, timeout, ws_url

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
