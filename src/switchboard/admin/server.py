"""Uvicorn serving the control plane inside the WebSocket server's own event loop.

The control plane shares the WebSocket server's loop and file descriptors, so its port
bounds what it holds: open connections (``MAX_CONNECTIONS``) and the time a request's
headers may take (``HEADER_TIMEOUT``), in ``protocol.py``; requests being handled
(``MAX_REQUESTS``, ``/metrics`` apart within ``METRICS_REQUESTS``), in ``inflight.py``.
uvicorn's own ``limit_concurrency`` is off: it counts connections, so 128 half-sent
requests made every probe answer 503.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Iterator

import uvicorn
from fastapi import FastAPI

from .inflight import InFlightLimit
from .protocol import ConnectionBook, protocol_class

#: Seconds a connection may take to send a request's headers (from accept, or from the end
#: of its previous response). Its clients (probes, Prometheus, curl, browsers) send them in
#: one packet; one slower than this is broken or an attack (slowloris).
HEADER_TIMEOUT = 10.0
#: Open connections at most; past it a new one closes the one that has waited longest.
#: A tenth of a 20,000-descriptor limit; each holds 16 KiB of unfinished headers at most.
MAX_CONNECTIONS = 2048
#: Requests handled at once (management API, dashboard, its streams); more get 503.
#: ``/health`` and ``/ready`` are not counted (see ``inflight.py``).
MAX_REQUESTS = 128
#: ``/metrics`` requests handled at once, apart from ``MAX_REQUESTS``.
METRICS_REQUESTS = 16


class _InLoopServer(uvicorn.Server):
    """A uvicorn server that leaves signals alone: the app drains on SIGTERM itself."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class AdminServer:
    """Starts and stops uvicorn as a task of the running loop."""

    def __init__(
        self,
        api: FastAPI,
        host: str,
        port: int,
        *,
        header_timeout: float = HEADER_TIMEOUT,
        max_connections: int = MAX_CONNECTIONS,
        max_requests: int = MAX_REQUESTS,
        metrics_requests: int = METRICS_REQUESTS,
    ) -> None:
        book = ConnectionBook(max_connections, header_timeout)
        config = uvicorn.Config(
            InFlightLimit(api, max_requests, metrics_requests),
            interface="asgi3",
            # h11 always, never httptools when installed: the header timeout and the
            # connection cap live in our subclass of its protocol, and h11 enforces
            # h11_max_incomplete_event_size.
            http=protocol_class(book),
            host=host,
            port=port,
            log_config=None,  # our logging is configured already
            log_level="warning",
            access_log=False,
            lifespan="off",
            server_header=False,
            timeout_graceful_shutdown=1,
            limit_concurrency=None,  # counts connections, not work: see the module docstring
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
