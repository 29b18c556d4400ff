"""Opening the listening socket with picows and its protocol limits."""

from __future__ import annotations

import asyncio

from picows import ws_create_server

from .handshake import UpgradeHandler


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
        enable_auto_pong=True,
        max_frame_size=max_frame_size,
        read_buffer_init_size=read_buffer_size,
        disconnect_on_exception=True,
        logger_name="server",
        reuse_port=reuse_port,
        backlog=backlog,
    )
