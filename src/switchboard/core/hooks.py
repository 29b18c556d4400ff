"""Application hooks around a connection's life: ``on_connect`` may refuse, both may be async."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from ..protocol.codes import CloseCode
from .connection import Connection

ConnectHook = Callable[[Connection], Awaitable[Any] | Any]
DisconnectHook = Callable[[Connection, int], Awaitable[Any] | Any]

#: Messages a client may send before an async ``on_connect`` decides; more closes 1008.
MAX_BACKLOG = 64


class Reject(Exception):
    """Raise in ``on_connect`` to refuse a connection with a close code and reason."""

    def __init__(self, code: int = CloseCode.POLICY_VIOLATION, reason: str = "rejected") -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason

    def __str__(self) -> str:
        return f"connection rejected with {self.code}: {self.reason}"


class ConnectionObserver(Protocol):
    """Told about every connection's start and end (tracing watches through this)."""

    def opened(self, conn: Connection) -> None: ...

    def closed(self, conn: Connection, code: int, reason: str, by: str) -> None: ...
