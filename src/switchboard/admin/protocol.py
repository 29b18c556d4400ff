"""The admin port's HTTP/1.1 connections: uvicorn's h11 protocol with a header timeout and a cap.

uvicorn has no timeout for receiving a request's headers, so a client that sends half a
request holds its connection (and, under ``limit_concurrency``, a slot) forever. Here a
connection is *waiting* from the moment it can take a request (accepted, or its previous
response sent) until the request's headers are complete. A connection waiting longer than
``header_timeout`` is closed, and when the port holds ``max_connections`` a new connection
closes the one that has waited longest, so a flood of sockets bounds the file descriptors
it takes and never locks a probe out.

This subclasses uvicorn's ``H11Protocol`` and relies on its attributes (``conn``,
``transport``, ``loop``) and hooks (``connection_made``, ``data_received``,
``on_response_complete``, ``handle_websocket_upgrade``): ``tests/admin/test_server.py``
catches a uvicorn release that changes them.
"""

from __future__ import annotations

import asyncio
from typing import ClassVar

import h11
import structlog
from uvicorn.protocols.http.h11_impl import H11Protocol

from ..observability.throttle import Throttle

log = structlog.get_logger("switchboard.admin")


class ConnectionBook:
    """One admin server's open connections, and which of them wait for a request's headers."""

    def __init__(
        self, max_connections: int, header_timeout: float, warn_interval: float = 10.0
    ) -> None:
        self.max_connections = max_connections
        self.header_timeout = header_timeout
        self.open: set[AdminProtocol] = set()
        #: Insertion order is the order they started waiting: the first one goes first.
        self.waiting: dict[AdminProtocol, None] = {}
        self._warn_full = Throttle(warn_interval)

    def admit(self, connection: AdminProtocol) -> None:
        """Count a new connection; past the cap, close the one waiting longest (the new one
        only when every other is busy with a request)."""
        self.open.add(connection)
        while len(self.open) > self.max_connections and self.waiting:
            next(iter(self.waiting)).drop()
            self._warn_full(
                lambda suppressed: log.warning(
                    "admin_connections_full",
                    max_connections=self.max_connections,
                    suppressed_since_last=suppressed,
                )
            )


class AdminProtocol(H11Protocol):
    """uvicorn's h11 protocol, timing each request's headers; see the module docstring."""

    #: Set on the subclass ``protocol_class`` makes for each server.
    book: ClassVar[ConnectionBook]
    _header_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._watch_headers()
        self.book.admit(self)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        self._watch_headers()

    def on_response_complete(self) -> None:
        super().on_response_complete()  # may start a pipelined request at once
        self._watch_headers()

    def connection_lost(self, exc: Exception | None) -> None:
        self._forget()
        super().connection_lost(exc)

    def handle_websocket_upgrade(self, event: h11.Request) -> None:
        self._forget()  # the WebSocket protocol owns the transport from here on
        super().handle_websocket_upgrade(event)

    def drop(self) -> None:
        """Close the connection; only called while it waits, so no request is cut."""
        self._forget()
        self.transport.close()

    def _watch_headers(self) -> None:
        # h11 stays IDLE on the client's side until a request's headers are all in.
        waiting = self.conn.their_state is h11.IDLE and not self.transport.is_closing()
        if waiting and self._header_timer is None:
            self._header_timer = self.loop.call_later(self.book.header_timeout, self.drop)
            self.book.waiting[self] = None
        elif not waiting and self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None
            self.book.waiting.pop(self, None)

    def _forget(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None
        self.book.waiting.pop(self, None)
        self.book.open.discard(self)


def protocol_class(book: ConnectionBook) -> type[AdminProtocol]:
    """An ``AdminProtocol`` bound to ``book``: uvicorn makes each connection's from a class."""

    class BoundAdminProtocol(AdminProtocol):
        pass

    BoundAdminProtocol.book = book
    return BoundAdminProtocol
