"""Uvicorn serving the control plane inside the WebSocket server's own event loop."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Iterator

import uvicorn
from fastapi import FastAPI


class _InLoopServer(uvicorn.Server):
    """A uvicorn server that leaves signals alone: the app drains on SIGTERM itself."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class AdminServer:
    """Starts and stops uvicorn as a task of the running loop."""

    def __init__(self, api: FastAPI, host: str, port: int) -> None:
        config = uvicorn.Config(
            api,
            host=host,
            port=port,
            log_config=None,  # our logging is configured already
            log_level="warning",
            access_log=False,
            lifespan="off",
            server_header=False,
            timeout_graceful_shutdown=1,
            # The control plane shares the WebSocket server's loop: bound what it may hold.
            limit_concurrency=128,
            h11_max_incomplete_event_size=16 * 1024,
        )
        self._server = _InLoopServer(config)
        self._host = host
        self._port = port
        self._socket: socket.socket | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Bind and serve; raises ``OSError`` when the address cannot be bound."""
        # Bound here, not by uvicorn: uvicorn answers a bind failure with sys.exit().
        family = socket.AF_INET6 if ":" in self._host else socket.AF_INET
        sock = socket.create_server((self._host, self._port), family=family)
        sock.setblocking(False)
        self._socket = sock
        self._task = asyncio.get_running_loop().create_task(self._server.serve([sock]))
        # uvicorn offers no startup event: poll its flag (a few ms, once per start).
        while not self._server.started and not self._task.done():  # noqa: ASYNC110
            await asyncio.sleep(0.005)
        if not self._server.started:  # serve() returned or raised: it is not listening
            task, self._task, self._socket = self._task, None, None
            sock.close()
            task.result()  # its exception, if any
            raise OSError(f"the admin server did not start on {self._host}:{self._port}")

    @property
    def port(self) -> int:
        assert self._socket is not None
        return int(self._socket.getsockname()[1])

    async def stop(self) -> None:
        if self._task is None:
            return
        self._server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None
        if self._socket is not None:
            self._socket.close()
            self._socket = None
