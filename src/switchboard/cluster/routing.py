"""Load-aware routing: which node of the cluster a new client should connect to.

The score of a node (lower is better; 0 is idle, 3 is full on every count)::

    score = connections / max(1, max_connections)
          + min(1, cpu_percent / 100)
          + min(1, loop_lag_ms / 100)

- ``connections / max_connections``: the hard limit. At its cap a node answers upgrades 503,
  and every connection holds memory whether it talks or not. ``max_connections`` is the
  effective cap the node announces (below its open-file limit); a node that announces none
  (0) counts each connection as a whole node's worth, so it is picked only when empty.
- ``cpu_percent / 100``: a node runs on one event loop, one core; at 100 % it cannot take
  more work however few its connections (one busy channel is enough). It stops at 1 too:
  threads (a TLS handshake, a thread pool) can take a process past 100 %.
- ``loop_lag_ms / 100``: how late the monitor's one-second timer fired. 100 ms of lag means
  every message there waits about as long: as bad as a full node, so the term stops at 1.

CPU and lag are the monitor's last one-second sample, as the node registry carries them
(``cluster/announcer.py``): nothing is measured twice.

Only nodes in state ``ready`` whose entry is younger than ``max_age`` seconds count (the
callers pass ``registry_ttl``: a node rewrites its entry every second, and its registry
keys every ``registry_ttl / 3``, so one that stopped for longer is not routed to, while a
reader's clock a second off is no harm). Ties go to the smallest ``node_id``, so every node
picks the same one.

The pick is as old as the entries it reads (about a second): clients
arriving in a burst within that time all get the same node. A balancer that counts live
connections (HAProxy ``leastconn``, fed the weight of ``cluster/agent.py``) spreads a burst.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable

import msgspec
import structlog

from ..broker.base import Broker, NodeInfo
from ..errors import BrokerUnavailable
from ..observability.throttle import Throttle
from ..tasks import cancelled

log = structlog.get_logger("switchboard.cluster")

#: Seconds an entry counts when the caller does not say (the default ``registry_ttl``).
MAX_AGE = 10.0


class Route(msgspec.Struct, frozen=True, kw_only=True):
    """The answer of ``GET /route`` and ``GET /api/v1/route``: where to connect."""

    url: str
    node_id: str
    score: float


def score(node: NodeInfo) -> float:
    """The node's load score (see the module's formula); lower is better."""
    connections = node.connections / max(1, node.max_connections)
    cpu = min(1.0, max(0.0, node.cpu_percent) / 100)
    lag = min(1.0, max(0.0, node.loop_lag_ms) / 100)
    return connections + cpu + lag


def eligible(node: NodeInfo, now: float, max_age: float = MAX_AGE) -> bool:
    """Ready, and its entry younger than ``max_age`` seconds at ``now`` (Unix seconds)."""
    return node.state == "ready" and now - node.updated_at <= max_age


def pick(
    nodes: Iterable[NodeInfo], now: float | None = None, max_age: float = MAX_AGE
) -> NodeInfo | None:
    """The eligible node with the lowest score, ties to the smallest ``node_id``; None when
    no node is eligible."""
    now = time.time() if now is None else now
    ready = [node for node in nodes if eligible(node, now, max_age)]
    return min(ready, key=lambda node: (score(node), node.node_id), default=None)


def route_to(node: NodeInfo) -> Route:
    """The answer that sends a client to ``node``."""
    return Route(url=node.url, node_id=node.node_id, score=round(score(node), 4))


class RouteCache:
    """The pick, read from the broker every ``period`` seconds, for the answers that cannot
    wait for the broker: ``GET /route`` on the WebSocket port answers synchronously.

    A read that fails keeps the nodes of the last one; the pick stops counting once its
    entry is ``max_age`` old, so a broker down for that long makes :meth:`answer` None.
    """

    def __init__(self, broker: Broker, *, max_age: float = MAX_AGE, period: float = 1.0) -> None:
        self.broker = broker
        self.max_age = max_age
        self.period = period
        #: The pick of the last successful read, and its encoded answer.
        self.best: NodeInfo | None = None
        self._body = b""
        self._task: asyncio.Task[None] | None = None
        self._warn = Throttle(60.0)

    def answer(self) -> bytes | None:
        """``{"url", "node_id", "score"}`` of the pick as JSON; None when no node is ready."""
        best = self.best
        if best is None or time.time() - best.updated_at > self.max_age:
            return None
        return self._body

    async def refresh(self) -> None:
        """Read the node registry once and pick again; a broker that does not answer is
        logged (once a minute at most) and the last pick stays."""
        try:
            nodes = await self.broker.nodes()
        except BrokerUnavailable as exc:
            error = str(exc)
            self._warn(
                lambda skipped: log.warning(
                    "route_refresh_failed", error=error, suppressed_since_last=skipped
                )
            )
            return
        best = pick(nodes, max_age=self.max_age)
        self._body = b"" if best is None else msgspec.json.encode(route_to(best))
        self.best = best

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="route-cache")

    async def stop(self) -> None:
        await cancelled(self._task)
        self._task = None

    async def _run(self) -> None:
        while True:
            try:
                await self.refresh()
            except Exception:  # a routing bug must not stop the refreshes
                log.exception("route_pick_failed")
            await asyncio.sleep(self.period)
