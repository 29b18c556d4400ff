"""Application hooks around a connection's life: ``on_connect`` may refuse, both may be async."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from .connection import Connection

ConnectHook = Callable[[Connection], Awaitable[Any] | Any]
DisconnectHook = Callable[[Connection, int], Awaitable[Any] | Any]

#: Messages a client may send before an async ``on_connect`` decides; more closes 1008.
MAX_BACKLOG = 64


class ConnectionObserver(Protocol):
    """Told about every connection's start and end (tracing watches through this)."""

    def opened(self, conn: Connection) -> None: ...

    def closed(self, conn: Connection, code: int, reason: str, by: str) -> None: ...
