"""One ``write()`` per event-loop pass for a client connection, as the server's outbox does.

``websockets`` writes every frame to its transport at once: a client with many requests in
flight (an edge node forwarding for its clients, a publisher keeping a window) makes one
system call per frame. :func:`cork` puts a :class:`CorkedTransport` in front of the
connection's transport: frames written in one loop pass are joined and written together at
its end. What ends a connection (``write_eof``, ``close``) writes what waits first;
``abort`` drops it, as the transport's own would.

``websockets`` reads the transport from the connection's ``transport`` attribute, which is
more than its public API: ``pyproject.toml`` bounds the releases, and ``tests/client/
test_corked.py`` fails loudly if the attribute goes.
"""

from __future__ import annotations

import asyncio
from typing import Any

from websockets.asyncio.client import ClientConnection


class CorkedTransport:
    """Delegates to ``transport``; ``write`` waits for the end of the loop pass."""

    def __init__(self, transport: asyncio.WriteTransport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._pending: list[bytes] = []

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not self._pending:
            self._loop.call_soon(self.flush)
        self._pending.append(bytes(data))

    def writelines(self, lines: Any) -> None:
        for data in lines:
            self.write(data)

    def flush(self) -> None:
        pending, self._pending = self._pending, []
        if pending and not self._transport.is_closing():
            self._transport.write(pending[0] if len(pending) == 1 else b"".join(pending))

    def is_closing(self) -> bool:  # asked at every send: not through __getattr__
        return self._transport.is_closing()

    def get_write_buffer_size(self) -> int:
        return self._transport.get_write_buffer_size() + sum(map(len, self._pending))

    def write_eof(self) -> None:
        self.flush()
        self._transport.write_eof()

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def abort(self) -> None:
        self._pending = []
        self._transport.abort()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


def cork(ws: ClientConnection) -> None:
    """Make ``ws`` write once per loop pass (see the module docstring)."""
    transport = ws.transport
    if not isinstance(transport, CorkedTransport):
        ws.transport = CorkedTransport(transport, asyncio.get_running_loop())  # type: ignore[assignment]
