"""Opening the listening socket: picows' WebSocket protocol on uvloop's TCP server.

We build each connection's picows ``WSProtocol`` ourselves (what ``ws_create_server`` does
internally, minus its options we do not use) so that the upgrade handler learns the peer's
address at the handshake: per-address limits and bans answer before the upgrade, with an
HTTP status. The constructor is picows' documented internal; picows is pinned to 2.3.x.
"""

from __future__ import annotations

import asyncio
import logging
from ssl import SSLContext
from typing import Any

from picows import WSAutoPingStrategy, WSUpgradeRequest
from picows.picows import WSProtocol  # type: ignore[attr-defined]  # not in its stub

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
    ssl: SSLContext | None = None,
) -> asyncio.Server:
    """Start accepting connections; returns the asyncio server (``sockets`` tell the port)."""

    def protocol() -> WSProtocol:
        box: list[WSProtocol] = []

        def upgrade(request: WSUpgradeRequest) -> Any:
            # picows sets the protocol's transport before it parses the request.
            peer = box[0].transport.underlying_transport.get_extra_info("peername")
            box.clear()
            return handler(request, peer)

        made = WSProtocol(
            None,  # host and port: client side only
            None,  # path: client side only
            False,  # server side
            upgrade,
            _PICOWS_LOG,
            True,  # disconnect_on_exception
            handshake_timeout,
            False,  # auto ping: one heartbeat sweep for all connections instead (core)
            10.0,  # (auto ping idle timeout, reply timeout, strategy: unused, picows' defaults)
            10.0,
            WSAutoPingStrategy.PING_WHEN_IDLE,
            # Pings are answered by the listener, after its reserved-bit check: picows' own
            # auto-pong would answer a ping with RSV bits set instead of failing the connection.
            False,
            max_frame_size,
            None,  # extra headers
            read_buffer_size,
        )
        box.append(made)
        return made

    loop = asyncio.get_running_loop()
    # uvloop's own TCP transport: ~1.3 KB per connection against ~6.7 KB for aiofastnet's
    # (a 4 KiB inline iovec array, a write deque, a poll handle).
    return await loop.create_server(
        protocol, host=host, port=port, reuse_port=reuse_port, backlog=backlog, ssl=ssl
    )
