"""The control plane reads a ``NodeView`` and trusts its answers to sends and disconnects.

In a cluster those answers come from every node (through the broker), so "gone" is the
view's word, not this node's registry's: a view that reaches a connection or a user this
node does not have gets 200, and one that says a local connection is gone gets 410.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import websockets

from switchboard import App
from switchboard.admin.api import create_admin_app
from switchboard.config import Settings

from ..conftest import StartServer, recv_json, ws_url

KEY = "view-test-key-0123456789"
AUTH = {"X-API-Key": KEY}
ELSEWHERE = "c-elsewhere"


class ClusterView:
    """A running app's view whose actions answer as a cluster's would: the connection
    ``c-elsewhere`` and the user ``bob`` (3 connections) are on another node, nothing else
    is anywhere. Everything else is read from the app."""

    def __init__(self, app: App) -> None:
        self.app = app
        self.calls: list[tuple[Any, ...]] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.app, name)

    async def publish(self, channel: str, data: Any) -> int:
        raise AssertionError("the API publishes through the node, to answer the epoch too")

    async def send_to_user(self, user: Any, data: Any) -> int:
        self.calls.append(("send_to_user", user, data))
        return 3 if user == "bob" else 0

    async def send_to_connection(self, connection_id: str, data: Any) -> bool:
        self.calls.append(("send_to_connection", connection_id, data))
        return connection_id == ELSEWHERE

    async def disconnect(self, connection_id: str, code: int = 1000, reason: str = "") -> bool:
        self.calls.append(("disconnect", connection_id, code, reason))
        return connection_id == ELSEWHERE


def client_of(view: Any) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=create_admin_app(view))
    return httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1")


@pytest.fixture
async def cluster(start_server: StartServer) -> AsyncIterator[tuple[ClusterView, str]]:
    """A cluster view over a running app with one local connection of user 7 (an int)."""
    app = App()

    @app.on_connect
    def name_user(conn: Any) -> None:
        conn.user = 7

    app = await start_server(app, api_key=KEY)
    async with websockets.connect(ws_url(app)) as ws:
        local = (await recv_json(ws))["connection_id"]
        yield ClusterView(app), local


async def test_a_connection_on_another_node_is_reached_and_closed(
    cluster: tuple[ClusterView, str],
) -> None:
    view, _ = cluster
    async with client_of(view) as client:
        sent = await client.post(f"/api/v1/connections/{ELSEWHERE}", headers=AUTH, json=[1])
        assert sent.status_code == 200, sent.text
        assert sent.json() == {"delivered": 1}
        closed = await client.delete(
            f"/api/v1/connections/{ELSEWHERE}", headers=AUTH, params={"code": 4000}
        )
        assert closed.json() == {"closed": True, "code": 4000}
    assert view.calls == [
        ("send_to_connection", ELSEWHERE, [1]),
        ("disconnect", ELSEWHERE, 4000, "closed by the operator"),
    ]


async def test_a_local_connection_the_view_calls_gone_is_410(
    cluster: tuple[ClusterView, str],
) -> None:
    view, local = cluster
    async with client_of(view) as client:
        # Reading is this node's: the connection is here.
        assert (await client.get(f"/api/v1/connections/{local}", headers=AUTH)).status_code == 200
        for method in ("POST", "DELETE"):
            gone = await client.request(
                method, f"/api/v1/connections/{local}", headers=AUTH, json="hi"
            )
            assert gone.status_code == 410, gone.text
            assert gone.json()["error"]["code"] == "GONE"


async def test_a_user_is_sent_to_by_the_view_in_the_key_this_node_indexes(
    cluster: tuple[ClusterView, str],
) -> None:
    view, _ = cluster
    async with client_of(view) as client:
        bob = await client.post("/api/v1/users/bob/send", headers=AUTH, json={"data": "yo"})
        assert bob.json() == {"delivered": 3}  # on no connection of this node
        seven = await client.post("/api/v1/users/7/send", headers=AUTH, json={"data": 1})
        nobody = await client.post("/api/v1/users/ann/send", headers=AUTH, json={"data": 1})
    assert seven.status_code == 404  # the view reached none of user 7's connections
    assert nobody.status_code == 404
    assert nobody.json()["error"]["code"] == "NOT_FOUND"
    keys = [call[1] for call in view.calls]
    assert keys == ["bob", 7, "ann"]
    assert isinstance(keys[1], int)  # the path's "7" as the node indexes the user


async def test_no_action_is_asked_of_a_node_that_is_not_running() -> None:
    view = ClusterView(App(Settings(admin_insecure=True)))
    async with client_of(view) as client:
        for method, path, body in [
            ("POST", f"/api/v1/connections/{ELSEWHERE}", 1),
            ("DELETE", f"/api/v1/connections/{ELSEWHERE}", None),
            ("POST", "/api/v1/users/bob/send", {"data": 1}),
        ]:
            response = await client.request(method, path, json=body)
            assert response.status_code == 503, response.text
    assert view.calls == []
