"""Edge nodes on loopback: an in-process central (an App on port 0) and edges in front of it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from switchboard import App, Settings
from switchboard.edge_command import EdgeNode

from ..cluster.conftest import redis_server  # a central cluster over a Redis of the test's
from ..conftest import timeout, ws_url

__all__ = ["redis_server"]

#: The central's management API key in these tests.
API_KEY = "edge-test-api-key-0123456789"

StartEdge = Callable[..., Awaitable[EdgeNode]]
StartCentral = Callable[..., Awaitable[App]]


def central_app(**overrides: Any) -> App:
    """A central with a custom route of its own (``where``: which node answered)."""
    defaults = {"host": "127.0.0.1", "port": 0, "admin_port": 0, "api_key": API_KEY}
    defaults |= {"drain_timeout": 0.5, "node_id": "central"}
    app = App(Settings(**{**defaults, **overrides}))

    @app.route("where")
    def where(conn: Any, msg: Any) -> str:
        return "central"

    return app


@pytest.fixture
async def start_central() -> AsyncIterator[StartCentral]:
    """``await start_central(**settings)``: a central App; ``port=`` restarts one on its port."""
    apps: list[App] = []

    async def start(**overrides: Any) -> App:
        app = central_app(**overrides)
        await app.start()
        apps.append(app)
        return app

    yield start
    for app in apps:
        await app.shutdown()


@pytest.fixture
async def start_edge() -> AsyncIterator[StartEdge]:
    """``await start_edge(upstream_url, app=None, **settings)``: an edge node on port 0."""
    edges: list[EdgeNode] = []

    async def start(upstream: str, app: App | None = None, **overrides: Any) -> EdgeNode:
        defaults = {"host": "127.0.0.1", "port": 0, "admin_port": 0, "drain_timeout": 0.5}
        defaults |= {"node_id": "edge", "edge_timeout": timeout(5), "edge_backoff_max": 0.2}
        defaults |= {"edge_backoff_base": 0.05}
        settings = Settings(**{**defaults, "upstream": upstream, **overrides})
        app = app if app is not None else App()
        app.settings = settings
        edge = EdgeNode(app)
        await edge.start()
        edges.append(edge)
        return edge

    yield start
    for edge in edges:
        await edge.shutdown()


def edge_url(edge: EdgeNode) -> str:
    return ws_url(edge.app)
