"""The node registry's entry for this node: its address, state and load, every second.

The broker shares it (the Redis broker with the registry's TTL, so a killed node's entry is
gone within ``registry_ttl``); ``switchboard nodes`` and ``GET /api/v1/nodes`` read them all.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Callable

import structlog

from ..broker.base import NodeInfo
from ..config import Settings
from ..core.lifecycle import NodeLifecycle, NodeState
from ..core.node import Node
from ..observability.monitor import Monitor
from ..tasks import cancelled

log = structlog.get_logger("switchboard.cluster")


def public_url(settings: Settings, port: int) -> str:
    """``advertise_url``, or ``ws://`` (``wss://`` with TLS) host, port and path of this node
    (the host name when it listens on every address)."""
    if settings.advertise_url:
        return settings.advertise_url
    scheme = "wss" if settings.tls_cert is not None else "ws"
    return f"{scheme}://{_reachable(settings.host)}:{port}{settings.path}"


def admin_url(settings: Settings, port: int | None) -> str | None:
    if port is None:
        return None
    return f"http://{_reachable(settings.admin_host)}:{port}"


def _reachable(host: str) -> str:
    if host in ("0.0.0.0", "::", ""):
        return socket.gethostname()
    return f"[{host}]" if ":" in host else host


class Announcer:
    """Tells the broker this node's :class:`NodeInfo` every ``period`` seconds, and at once
    when the node's state changes."""

    def __init__(
        self,
        node: Node,
        lifecycle: NodeLifecycle,
        monitor: Monitor,
        *,
        url: Callable[[], str],
        admin: Callable[[], str | None],
        version: str,
        max_connections: int = 0,
        period: float = 1.0,
    ) -> None:
        self.node = node
        self.lifecycle = lifecycle
        self.monitor = monitor
        self.url = url
        self.admin = admin
        self.version = version
        #: The effective connection cap (below the open-file limit), for load-aware routing.
        self.max_connections = max_connections
        self.period = period
        self.started_at = time.time()
        self._task: asyncio.Task[None] | None = None
        #: The URLs, read once the node is ready (its ports are gone after the drain).
        self._urls: tuple[str, str | None] | None = None

    def info(self) -> NodeInfo:
        node = self.node
        latest = self.monitor.samples[-1] if self.monitor.samples else {}
        if self._urls is None:
            self._urls = (self.url(), self.admin())
        url, admin = self._urls
        return NodeInfo(
            node_id=node.node_id,
            url=url,
            admin_url=admin,
            version=self.version,
            state=self.lifecycle.state.name.lower(),
            connections=len(node.registry),
            max_connections=self.max_connections,
            subscriptions=sum(len(s) for s in node.channels.subscriptions_of.values()),
            messages_per_s=float(latest.get("messages_in_per_s") or 0.0),
            cpu_percent=float(latest.get("cpu_percent") or 0.0),
            loop_lag_ms=float(latest.get("loop_lag_ms") or 0.0),
            started_at=round(self.started_at, 3),
            updated_at=round(time.time(), 3),
        )

    def announce(self) -> None:
        try:
            self.node.broker.announce(self.info())
        except Exception:  # the registry entry must never stop the node
            log.exception("announce_failed")

    def start(self) -> None:
        """Announce at every state change (the first once the node is ready: its ports are
        bound then) and every ``period`` seconds."""
        self.lifecycle.watchers.append(lambda _: self.announce())
        self._task = asyncio.create_task(self._run(), name="announcer")

    async def stop(self) -> None:
        await cancelled(self._task)
        self._task = None

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.period)
            if self.lifecycle.state is not NodeState.STARTING:
                self.announce()
