"""A real HTTP backend (aiohttp on 127.0.0.1, port 0) that verifies every request with
``verify_signature``, and a Switchboard node whose routes go to it."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web

from switchboard import App, Settings
from switchboard.backend import (
    SIGNATURE_HEADER,
    Backend,
    SignatureError,
    verify_signature,
)

SECRET = "backend-signing-secret-0123456789"
API_KEY = "backend-test-api-key"
AUTH = {"X-API-Key": API_KEY}

#: An answer for one event: a handler of the fake backend.
Answer = Callable[[dict[str, Any]], Awaitable[web.StreamResponse]]


async def ok_empty(event: dict[str, Any]) -> web.StreamResponse:
    return web.Response(status=204)


class FakeBackend:
    """Answers ``POST /<name>`` with the handler set for ``name`` (204 by default); keeps
    every event it verified, and counts requests whose signature failed (answered 401)."""

    def __init__(self, secret: str = SECRET) -> None:
        self.secret = secret
        self.events: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.handlers: dict[str, Answer] = {}
        self.bad_signatures = 0
        self.port = 0
        self._runner: web.AppRunner | None = None

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port}/{name}"

    def on(self, name: str, answer: Answer) -> None:
        self.handlers[name] = answer

    def events_of(self, route_key: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e["route_key"] == route_key]

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/{name}", self._handle)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", self.port, reuse_address=True)
        await site.start()
        if not self.port:
            self.port = runner.addresses[0][1]
        self._runner = runner

    async def stop(self) -> None:
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        try:
            verify_signature(self.secret, request.headers.get(SIGNATURE_HEADER), body)
        except SignatureError:
            self.bad_signatures += 1
            return web.Response(status=401)
        event = json.loads(body)
        self.events.append(event)
        self.headers.append(dict(request.headers))
        answer = self.handlers.get(request.match_info["name"], ok_empty)
        return await answer(event)


@pytest.fixture
async def backend() -> AsyncIterator[FakeBackend]:
    fake = FakeBackend()
    await fake.start()
    yield fake
    await fake.stop()


StartNode = Callable[..., Awaitable[tuple[App, Backend]]]


@pytest.fixture
async def start_node() -> AsyncIterator[StartNode]:
    """Start nodes whose ``backend`` table is given (routes as name -> URL or table);
    drained, and their HTTP clients closed, at teardown."""
    started: list[tuple[App, Backend]] = []

    async def start(routes: dict[str, Any], **overrides: Any) -> tuple[App, Backend]:
        backend_options = {"routes": routes, "secret": SECRET, **overrides.pop("backend", {})}
        settings = Settings(
            host="127.0.0.1",
            port=0,
            admin_port=0,
            drain_timeout=1.0,
            api_key=API_KEY,
            backend=backend_options,
            **overrides,
        )
        app = App(settings)  # [backend] routes: App installs them (app.backend)
        installed = app.backend
        assert installed is not None
        await app.start()
        started.append((app, installed))
        return app, installed

    yield start
    for app, installed in started:
        await app.shutdown()
        await installed.aclose()


def json_answer(body: Any, status: int = 200) -> Answer:
    async def answer(event: dict[str, Any]) -> web.StreamResponse:
        return web.json_response(body, status=status)

    return answer
