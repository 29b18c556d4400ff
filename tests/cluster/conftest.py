"""Real clusters on loopback: a redis-server of the test's own and Switchboard nodes as
``switchboard serve --broker redis://...`` subprocesses, all stopped when the test ends."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import pytest

from ..conftest import RedisProcess, ServerProcess, free_port


@pytest.fixture
def redis_server() -> Iterator[RedisProcess]:
    server = RedisProcess()
    try:
        yield server
    finally:
        server.kill()


StartNode = Callable[..., ServerProcess]


@pytest.fixture
def start_node(redis_server: RedisProcess) -> Iterator[StartNode]:
    """``start_node(*flags)``: one more node of the test's cluster (same Redis, same prefix,
    a 2 s registry TTL), with an admin port and an API key."""
    prefix = f"t{uuid.uuid4().hex[:10]}:"
    nodes: list[ServerProcess] = []

    def start(*flags: str) -> ServerProcess:
        admin_port = free_port()
        args = ["--broker", redis_server.url, "--broker-prefix", prefix, "--registry-ttl", "2"]
        args += ["--admin-port", str(admin_port), "--api-key", API_KEY, "--log-level", "warning"]
        args += ["--node-id", f"node-{len(nodes) + 1}"]
        node = ServerProcess([*args, *flags])
        node.admin_port = admin_port  # type: ignore[attr-defined]
        nodes.append(node)
        return node

    start.prefix = prefix  # type: ignore[attr-defined]
    try:
        yield start
    finally:
        for node in nodes:
            node.stop()


API_KEY = "cluster-test-api-key-0123456789"
