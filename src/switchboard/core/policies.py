"""What a node does with a connection that breaks one of its limits: the log line, the count,
the close (or, for a message over the rate, the error frame)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import structlog

from ..protocol.codes import CloseCode, ErrorCode
from .connection import Connection
from .hub import Hub
from .outbox import Outbox
from .stats import Stats, bump

log = structlog.get_logger("switchboard.connection")
audit = structlog.get_logger("switchboard.audit")


class Node(Protocol):
    """What the policies use of their node (``core/node.py``)."""

    outbox: Outbox
    stats: Stats
    hub: Hub
    on_flood: Callable[[Connection], None] | None

    def close(self, conn: Connection, code: int, reason: str = "", *, fail: bool = False) -> None:
        """Start the close handshake (``Node.close``)."""


class Policies:
    """The callbacks a node hands its outbox, heartbeat, rate limit and credential expiry."""

    __slots__ = ("node",)

    def __init__(self, node: Node) -> None:
        self.node = node

    def slow_consumer(self, conn: Connection) -> None:
        log.warning(
            "slow_consumer_disconnected",
            connection_id=conn.id,
            user=conn.user,
            remote=conn.remote,
            limit_bytes=self.node.outbox.limit,
        )
        self.node.close(conn, CloseCode.SLOW_CONSUMER, "slow consumer: send queue full", fail=True)

    def token_expired(self, conn: Connection) -> None:
        log.info("token_expired", connection_id=conn.id, user=conn.user)
        self.node.close(conn, CloseCode.TOKEN_EXPIRED, "token expired")

    def rate_refused(self, conn: Connection, scope: str) -> None:
        bump(self.node.stats.rate_limited, scope)
        message = "message rate limit exceeded; this message was dropped"
        self.node.hub.send_error(conn, ErrorCode.RATE_LIMIT_EXCEEDED, message)

    def flood(self, conn: Connection) -> None:
        audit.warning("message_flood", connection_id=conn.id, remote=conn.remote, user=conn.user)
        self.node.close(conn, CloseCode.POLICY_VIOLATION, "message rate exceeded")
        if self.node.on_flood is not None:
            self.node.on_flood(conn)

    def heartbeat_timeout(self, conn: Connection) -> None:
        log.info("heartbeat_timeout", connection_id=conn.id, user=conn.user, remote=conn.remote)
        self.node.close(conn, CloseCode.HEARTBEAT_TIMEOUT, "heartbeat timeout: no pong", fail=True)
