"""Test an :class:`~switchboard.App` in-process on a free loopback port, with real sockets.

Synchronous, as FastAPI's ``TestClient`` is: the app runs on an event loop of its own in a
background thread, and each :meth:`TestClient.connect` is a ``websockets.sync`` client::

    from switchboard.testing import TestClient

    def test_echo() -> None:
        with TestClient(app) as client, client.connect() as ws:
            assert ws.receive()["type"] == "welcome"
            ws.send({"type": "echo", "data": "hi", "id": 1})
            assert ws.receive() == {"type": "echo_reply", "data": "hi", "id": 1}

Asynchronous, for tests that run on an event loop already (pytest-asyncio)::

    async with serve(app) as server:
        async with websockets.connect(server.url) as ws:
            ...

Either way the app gets the settings it has with ``host = "127.0.0.1"``, ``port = 0`` and
``admin_port = 0`` (and any given as keywords), and is drained and stopped at the end. An
``App`` starts once: make a new one for each test.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import threading
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from types import TracebackType
from typing import Any, TypeVar

import uvloop
from websockets.sync.client import ClientConnection
from websockets.sync.client import connect as ws_connect
from websockets.typing import Subprotocol

from .app import App

T = TypeVar("T")

#: Seconds a :meth:`WebSocket.receive` waits by default, and the app has to start or stop.
DEFAULT_TIMEOUT = 10.0


class Server:
    """A running app: where to reach it."""

    def __init__(self, app: App) -> None:
        self.app = app

    @property
    def port(self) -> int:
        return self.app.port

    @property
    def url(self) -> str:
        """The WebSocket URL, ``ws://127.0.0.1:<port><path>``."""
        return f"ws://127.0.0.1:{self.app.port}{self.app.settings.path}"

    @property
    def admin_url(self) -> str:
        """The control plane, ``http://127.0.0.1:<admin port>`` (with ``admin`` on)."""
        return f"http://127.0.0.1:{self.app.admin_port}"


def _for_tests(app: App, settings: dict[str, Any]) -> None:
    """The app's settings on loopback, free ports, with ``settings`` on top."""
    current = app.settings
    values = current.model_dump(exclude_unset=True)
    values.update({"host": "127.0.0.1", "port": 0, "admin_port": 0, **settings})
    app.settings = type(current)(**values)


@asynccontextmanager
async def serve(app: App, **settings: Any) -> AsyncIterator[Server]:
    """Start ``app`` on this loop on a free loopback port; drain and stop it at the end."""
    _for_tests(app, settings)
    await app.start()
    try:
        yield Server(app)
    finally:
        await app.shutdown()


class WebSocket:
    """A synchronous client connection: JSON messages in, JSON messages out."""

    def __init__(self, connection: ClientConnection) -> None:
        #: The ``websockets.sync`` connection, for anything this class does not wrap.
        self.connection = connection

    def send(self, message: Any) -> None:
        """Send ``message``: ``str`` and ``bytes`` as they are, anything else as JSON text."""
        if isinstance(message, str | bytes):
            self.connection.send(message)
        else:
            self.connection.send(json.dumps(message))

    def receive(self, timeout: float = DEFAULT_TIMEOUT) -> Any:
        """The next message: a text message decoded from JSON, a binary one as ``bytes``.
        Raises ``TimeoutError`` when none comes within ``timeout`` seconds, and
        ``websockets.ConnectionClosed`` once the server closed the connection."""
        message = self.connection.recv(timeout)
        return json.loads(message) if isinstance(message, str) else message

    def close(self, code: int = 1000, reason: str = "") -> None:
        self.connection.close(code, reason)

    @property
    def close_code(self) -> int | None:
        """The code the connection closed with (None while open)."""
        return self.connection.close_code

    @property
    def close_reason(self) -> str | None:
        return self.connection.close_reason

    def __enter__(self) -> WebSocket:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class TestClient:
    """Runs ``app`` in a background thread on a free loopback port while in its ``with``."""

    __test__ = False  # not a test class, whatever pytest thinks of its name

    def __init__(self, app: App, **settings: Any) -> None:
        self.app = app
        self._settings = settings
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stop: asyncio.Event | None = None
        self._sockets: list[WebSocket] = []
        self.server: Server | None = None

    @property
    def url(self) -> str:
        """The app's WebSocket URL."""
        return self._running().url

    def connect(
        self,
        path: str | None = None,
        *,
        subprotocols: list[str] | None = None,
        headers: dict[str, str] | None = None,
        **options: Any,
    ) -> WebSocket:
        """A new client connection (closed at the end of the ``with`` if still open);
        ``options`` go to ``websockets.sync.client.connect``."""
        server = self._running()
        url = server.url if path is None else f"ws://127.0.0.1:{server.port}{path}"
        offered = None if subprotocols is None else [Subprotocol(p) for p in subprotocols]
        opening = ws_connect(
            url, subprotocols=offered, additional_headers=headers, open_timeout=10, **options
        )
        # Entered, not just called: websockets 17.1 and later want the connection opened by
        # its context manager (earlier ones return the connection, whose ``__enter__`` is it).
        connection = opening.__enter__()
        socket = WebSocket(connection)
        self._sockets.append(socket)
        return socket

    def run(self, awaitable: Awaitable[T], timeout: float = DEFAULT_TIMEOUT) -> T:
        """Run ``awaitable`` on the app's loop and return its result: server-side calls
        such as ``client.run(app.publish("room", 1))``."""
        loop = self._loop
        if loop is None:
            raise RuntimeError("the TestClient is not running: use it in a `with` block")

        async def wrapped() -> T:
            return await awaitable

        return asyncio.run_coroutine_threadsafe(wrapped(), loop).result(timeout)

    def __enter__(self) -> TestClient:
        started: concurrent.futures.Future[Server] = concurrent.futures.Future()
        self._thread = threading.Thread(
            target=self._serve, args=(started,), name="switchboard-testclient", daemon=True
        )
        self._thread.start()
        self.server = started.result(DEFAULT_TIMEOUT * 3)  # raises what start() raised
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        for socket in self._sockets:
            socket.close()
        self._sockets.clear()
        loop, stop = self._loop, self._stop
        if loop is not None and stop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(stop.set)
        if self._thread is not None:
            self._thread.join(DEFAULT_TIMEOUT * 3)
        self._thread = self._loop = self._stop = None
        self.server = None

    def _running(self) -> Server:
        if self.server is None:
            raise RuntimeError("the TestClient is not running: use it in a `with` block")
        return self.server

    def _serve(self, started: concurrent.futures.Future[Server]) -> None:
        uvloop.run(self._main(started))

    async def _main(self, started: concurrent.futures.Future[Server]) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        try:
            async with serve(self.app, **self._settings) as server:
                started.set_result(server)
                await self._stop.wait()
        except BaseException as exc:
            if not started.done():
                started.set_exception(exc)
                return
            raise


__all__ = ["Server", "TestClient", "WebSocket", "serve"]
