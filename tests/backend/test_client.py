"""The HTTP client's limits, against the real test backend: concurrency, retries, size."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web

from switchboard.backend.breaker import Circuit
from switchboard.backend.client import BackendClient
from switchboard.backend.errors import BAD_ANSWER, BUSY, FAILED, BackendUnavailable
from switchboard.config.backend import BackendOptions

from ..conftest import timeout
from .conftest import SECRET, FakeBackend


def options(backend: FakeBackend, **overrides: Any) -> BackendOptions:
    routes = {
        "chat": backend.url("chat"),
        "save": {"url": backend.url("save"), "idempotent": True},
    }
    return BackendOptions(routes=routes, secret=SECRET, **overrides)


@pytest.fixture
async def clients() -> AsyncIterator[list[BackendClient]]:
    made: list[BackendClient] = []
    yield made
    for client in made:
        await client.aclose()


async def test_over_the_concurrency_limit_a_call_is_refused_at_once(
    backend: FakeBackend, clients: list[BackendClient]
) -> None:
    entered, release = asyncio.Event(), asyncio.Event()

    async def held(event: dict[str, Any]) -> web.StreamResponse:
        entered.set()
        await release.wait()
        return web.json_response(1)

    backend.on("chat", held)
    client = BackendClient(options(backend, concurrency=1))
    clients.append(client)
    first = asyncio.ensure_future(client.call("chat", b"{}", "r1"))
    await asyncio.wait_for(entered.wait(), timeout(5))
    with pytest.raises(BackendUnavailable) as refused:
        await client.call("chat", b"{}", "r2")
    assert refused.value.kind == BUSY
    assert len(backend.events) == 1  # the second never reached the backend
    release.set()
    assert await first == (200, b"1")
    assert client.routes["chat"].outcomes == {"busy": 1, "ok": 1}


async def test_idempotent_routes_are_retried_and_others_are_not(
    backend: FakeBackend, clients: list[BackendClient]
) -> None:
    answers = iter([503, 200, 503, 200])

    async def flaky(event: dict[str, Any]) -> web.StreamResponse:
        return web.json_response("done", status=next(answers))

    backend.on("save", flaky)
    backend.on("chat", flaky)
    client = BackendClient(options(backend, retries=2))
    clients.append(client)
    assert await client.call("save", b"{}", "r1", idempotent=True) == (200, b'"done"')
    assert len(backend.events) == 2  # a 503, then the retry
    with pytest.raises(BackendUnavailable) as failed:
        await client.call("chat", b"{}", "r2")
    assert failed.value.kind == FAILED and failed.value.status == 503
    assert len(backend.events) == 3  # not retried
    assert backend.bad_signatures == 0  # each attempt signed afresh


async def test_an_answer_past_the_size_limit_is_not_read_and_does_not_open_the_circuit(
    backend: FakeBackend, clients: list[BackendClient]
) -> None:
    async def huge(event: dict[str, Any]) -> web.StreamResponse:
        return web.Response(body=b"x" * 4096)

    backend.on("chat", huge)
    client = BackendClient(options(backend, max_answer_bytes=1024, failure_threshold=1))
    clients.append(client)
    for _ in range(2):
        with pytest.raises(BackendUnavailable) as bad:
            await client.call("chat", b"{}", "r")
        assert bad.value.kind == BAD_ANSWER
    assert client.routes["chat"].breaker.opened == 0
    # Even as the trial of an open circuit it counts as an answer: the circuit closes.
    breaker = client.routes["chat"].breaker
    breaker.failed()
    breaker.cooldown = 0.0
    with pytest.raises(BackendUnavailable):
        await client.call("chat", b"{}", "trial")
    assert breaker.state is Circuit.CLOSED


async def test_the_http_library_logs_no_request_lines(
    backend: FakeBackend, clients: list[BackendClient], caplog: pytest.LogCaptureFixture
) -> None:
    """httpx logs each request's URL at info; a URL may carry a credential."""
    client = BackendClient(options(backend))
    clients.append(client)
    with caplog.at_level(logging.INFO):
        await client.call("chat", b"{}", "r")
    assert not [r for r in caplog.records if r.name.startswith(("httpx", "httpcore"))]
