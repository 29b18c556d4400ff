"""Opening the listening socket with picows and its protocol limits."""

from __future__ import annotations

import asyncio
import logging

from picows import ws_create_server

from .handshake import UpgradeHandler

# picows wraps a plain ``logging.Logger`` in a new child Logger per connection (name
# "picows.server.<fd>", ~0.6 KB each, kept for the connection's life); any other
# logger-like object is used as is. Same records, same "picows.server" logger name.
_PICOWS_LOG = logging.LoggerAdapter(logging.getLogger("picows.server"), None)


async def listen(
    handler: UpgradeHandler,
    host: str,
    port: int,
    *,
    handshake_timeout: float,
    max_frame_size: int,
    read_buffer_size: int,
    reuse_port: bool = False,
    backlog: int = 2048,
) -> asyncio.Server:
    """Start accepting connections; returns the asyncio server (``sockets`` tell the port)."""
    return await ws_create_server(
        handler,
        host,
        port,
        websocket_handshake_timeout=handshake_timeout,
        enable_auto_ping=False,  # one heartbeat sweep for all connections instead (core)
        # Pings are answered by the listener, after its reserved-bit check: picows' own
        # auto-pong would answer a ping with RSV bits set instead of failing the connection.
        enable_auto_pong=False,
        max_frame_size=max_frame_size,
        read_buffer_init_size=read_buffer_size,
        disconnect_on_exception=True,
        logger_name=_PICOWS_LOG,
        # uvloop's own TCP transport: ~1.3 KB per connection against ~6.7 KB for
        # aiofastnet's (a 4 KiB inline iovec array, a write deque, a poll handle).
        use_aiofastnet=False,
        reuse_port=reuse_port,
        backlog=backlog,
    )
