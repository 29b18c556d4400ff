"""The node: connection lifecycle (open, message, close) over the registry, hub and router.

Transports call in here; this is the only place a connection is registered,
greeted, closed and forgotten, so the logs and counters of a connection's life
come from one spot.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Callable

import structlog

from ..protocol.codes import CloseCode
from ..protocol.envelope import Welcome, encode
from ..protocol.frames import encode_frame
from .connection import Connection, Transport
from .handlers import install_builtin_routes
from .heartbeat import Heartbeat
from .hub import Hub
from .outbox import Outbox, SlowConsumerPolicy
from .registry import Registry
from .router import Router

log = structlog.get_logger("switchboard.connection")


class Node:
    """Everything one process knows about its connections."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        *,
        node_id: str,
        ping_interval: float,
        ping_timeout: float,
        send_queue_limit: int,
        slow_consumer_policy: SlowConsumerPolicy,
        raw_echo: bool = False,
    ) -> None:
        self.loop = loop
        self.node_id = node_id
        self.raw_echo = raw_echo
        self.registry = Registry()
        self.outbox = Outbox(loop, send_queue_limit, slow_consumer_policy, self._slow_consumer)
        self.hub = Hub(self.registry, self.outbox)
        self.router = Router(self.hub)
        install_builtin_routes(self.router, self.hub)
        self.heartbeat = Heartbeat(
            loop, self.registry, self.outbox, ping_interval, ping_timeout, self._heartbeat_timeout
        )
        #: Where transports deliver each complete, validated message.
        self.on_message: Callable[[Connection, int, bytes], None] = (
            self.echo_raw if raw_echo else self.router.on_message
        )
        self._welcome_interval = ping_interval
        self._emptied: asyncio.Event | None = None
        self.connections_total = 0

    # --- lifecycle -----------------------------------------------------------------------------

    def open(self, transport: Transport, remote: str) -> Connection:
        """Register a connection whose handshake just completed, and greet it."""
        conn = Connection("c-" + secrets.token_urlsafe(12), transport, remote, time.monotonic())
        self.registry.add(conn)
        self.connections_total += 1
        log.info("connection_opened", connection_id=conn.id, remote=remote)
        if not self.raw_echo:
            welcome = Welcome(
                connection_id=conn.id, node=self.node_id, heartbeat=self._welcome_interval
            )
            self.hub.send_json(conn, encode(welcome))
        return conn

    def echo_raw(self, conn: Connection, opcode: int, payload: bytes) -> None:
        """Conformance mode: send the message back unchanged."""
        self.outbox.send(conn, encode_frame(opcode, payload))

    def close(self, conn: Connection, code: int, reason: str = "", *, fail: bool = False) -> None:
        """Start the close handshake after writing everything already queued.

        With ``fail`` the socket is closed right after the close frame (see ``Transport``).
        """
        if conn.closing:
            return
        if not conn.paused:
            self.outbox.flush(conn)
        else:
            self.outbox.discard(conn)
        conn.closing = True
        conn.transport.close(code, reason, fail=fail)

    def closed(self, conn: Connection, code: int, reason: str, by: str) -> None:
        """The socket is gone: forget the connection."""
        conn.closing = True
        self.registry.remove(conn)
        self.outbox.discard(conn)
        if self._emptied is not None and not self.registry:
            self._emptied.set()
        log.info(
            "connection_closed",
            connection_id=conn.id,
            remote=conn.remote,
            duration_s=round(time.monotonic() - conn.opened_at, 3),
            close_code=code,
            close_reason=reason,
            closed_by=by,
        )

    def close_all(self, code: int, reason: str) -> int:
        """Close every open connection (shutdown); returns how many."""
        conns = self.registry.snapshot()
        for conn in conns:
            self.close(conn, code, reason)
        return len(conns)

    async def wait_all_closed(self, within: float) -> bool:
        """Wait until no connection is open, at most ``within`` seconds; True if none is."""
        if self.registry:
            self._emptied = asyncio.Event()
            try:
                await asyncio.wait_for(self._emptied.wait(), within)
            except TimeoutError:
                pass
            finally:
                self._emptied = None
        return not self.registry

    # --- policies ------------------------------------------------------------------------------

    def _slow_consumer(self, conn: Connection) -> None:
        log.warning(
            "slow_consumer_disconnected",
            connection_id=conn.id,
            remote=conn.remote,
            limit_bytes=self.outbox.limit,
        )
        self.close(conn, CloseCode.SLOW_CONSUMER, "slow consumer: send queue full", fail=True)

    def _heartbeat_timeout(self, conn: Connection) -> None:
        log.info("heartbeat_timeout", connection_id=conn.id, remote=conn.remote)
        self.close(conn, CloseCode.HEARTBEAT_TIMEOUT, "heartbeat timeout: no pong", fail=True)
