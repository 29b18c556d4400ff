"""The bound on requests in flight, without sockets: an ASGI app that holds each request."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from starlette.types import Message, Receive, Scope, Send

from switchboard.admin.inflight import InFlightLimit

from ..conftest import timeout, wait_until


class Holding:
    """An ASGI app that answers 200 to a request once the test releases it."""

    def __init__(self) -> None:
        self.held = 0
        self.release = asyncio.Event()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.held += 1
        await self.release.wait()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})


async def call(limit: InFlightLimit, path: str) -> list[Message]:
    """The messages ``limit`` sends for a GET of ``path``."""
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    scope: dict[str, Any] = {"type": "http", "method": "GET", "path": path, "headers": []}
    await limit(scope, receive, send)
    return sent


def status(sent: list[Message]) -> int:
    return int(sent[0]["status"])


async def test_metrics_have_their_own_slots_and_health_and_ready_take_none() -> None:
    app = Holding()
    limit = InFlightLimit(app, limit=2, metrics_limit=1)
    held = [asyncio.create_task(call(limit, path)) for path in ("/api/v1/stats", "/dashboard")]
    held.append(asyncio.create_task(call(limit, "/metrics")))
    await wait_until(lambda: app.held == 3)
    refused = await call(limit, "/api/v1/stats")
    assert status(refused) == 503
    assert (b"retry-after", b"1") in refused[0]["headers"]
    assert json.loads(refused[1]["body"])["error"]["code"] == "UNAVAILABLE"
    assert status(await call(limit, "/metrics")) == 503  # its one slot is taken
    # Liveness and readiness pass whatever is held (50 of them held at once here).
    probes = [asyncio.create_task(call(limit, p)) for p in ("/health", "/ready") * 25]
    await wait_until(lambda: app.held == 53)
    app.release.set()
    for task in held + probes:
        assert status(await asyncio.wait_for(task, timeout(5))) == 200
    assert status(await asyncio.wait_for(call(limit, "/api/v1/stats"), timeout(5))) == 200
