"""The HAProxy agent-check responder: this node's weight from its load, ``drain`` when leaving.

HAProxy's ``agent-check`` connects to ``agent_port`` every ``agent-inter``, reads one line
and applies its words (HAProxy's configuration manual, "agent-check"). Each connection here
gets one line, then the close:

- ``up ready 75%`` while the node is ready. ``75%`` sets the server's weight to that share
  of its configured ``weight``: ``max(1, round(100 * (1 - min(1, score))))``, the score of
  ``cluster/routing.py`` from this node's own load (no broker call); never 0, which HAProxy
  treats as a drain. ``ready`` is there because only the agent can undo what it set: after
  ``drain`` (a node restarted at the same address) the server would stay drained without it
  (HAProxy 2.6, tried: after ``drain``, ``up 99%`` alone leaves it ``DRAIN (agent)``).
  So the agent owns the server's administrative state: to take a node out by hand, drain the
  node itself, or ``disable agent`` on HAProxy's runtime API first.
- ``drain`` while starting, draining or stopped: no new connections, the open ones stay
  (the drain closes them itself). Not ``maint`` while starting: HAProxy stops health checks
  in MAINT, and the regular check failing on a port not yet bound already keeps a starting
  node out of the farm.

What HAProxy sends (``agent-send``) is read and ignored. A peer that does not close within
``timeout`` seconds of the answer is dropped. With ``reuse_port`` (each of ``--workers``)
the workers of a machine share the port and a check reaches one of them: HAProxy gets that
worker's weight, a sample of the machine's.
"""

from __future__ import annotations

import asyncio
from typing import cast

import structlog

from ..core.lifecycle import NodeLifecycle, NodeState
from .announcer import Announcer
from .routing import score

log = structlog.get_logger("switchboard.cluster")

DRAIN = b"drain\n"


def weight(load: float) -> int:
    """The percentage of its configured weight a node of score ``load`` gets: 1 to 100."""
    return max(1, round(100 * (1 - min(1.0, load))))


class AgentCheck:
    """The agent-check port of one node: :meth:`start` binds ``host``:``port``, :meth:`stop`
    closes it and drops the connections still open."""

    def __init__(
        self,
        announcer: Announcer,
        lifecycle: NodeLifecycle,
        host: str,
        port: int,
        *,
        reuse_port: bool = False,
        timeout: float = 2.0,
    ) -> None:
        self.announcer = announcer
        self.lifecycle = lifecycle
        self.host = host
        self.requested_port = port
        #: Bind with SO_REUSEPORT: the workers of one machine share the port (``--workers``).
        self.reuse_port = reuse_port
        self.timeout = timeout
        self.server: asyncio.Server | None = None
        #: The agent-check connections open now (dropped at the stop).
        self.connections: set[asyncio.Transport] = set()

    @property
    def port(self) -> int:
        if self.server is None or not self.server.sockets:
            raise RuntimeError("the agent-check port is not listening")
        return int(self.server.sockets[0].getsockname()[1])

    def reply(self) -> bytes:
        """The line HAProxy gets now."""
        if self.lifecycle.state is not NodeState.READY:
            return DRAIN
        return b"up ready %d%%\n" % weight(score(self.announcer.info()))

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self.server = await loop.create_server(
            lambda: _Answer(self), self.host, self.requested_port, reuse_port=self.reuse_port
        )
        log.info("agent_started", host=self.host, port=self.port)

    async def stop(self) -> None:
        if self.server is None:
            return
        self.server.close()
        for transport in list(self.connections):
            transport.abort()
        await self.server.wait_closed()
        self.server = None


class _Answer(asyncio.Protocol):
    """One agent-check connection: the line, a half-close, then wait for HAProxy to close
    (closing with its ``agent-send`` unread would reset the connection, and the line with
    it)."""

    def __init__(self, agent: AgentCheck) -> None:
        self.agent = agent
        self.transport: asyncio.Transport | None = None
        self._timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A TCP transport (uvloop's is one without subclassing asyncio.Transport).
        transport = self.transport = cast(asyncio.Transport, transport)
        self.agent.connections.add(transport)
        try:
            line = self.agent.reply()
        except Exception:  # a bug: reset (HAProxy's regular health check still decides)
            log.exception("agent_reply_failed")
            transport.abort()
            return
        transport.write(line)
        if transport.can_write_eof():
            transport.write_eof()
        loop = asyncio.get_running_loop()
        self._timer = loop.call_later(self.agent.timeout, transport.abort)

    def data_received(self, data: bytes) -> None:
        """``agent-send``: ignored."""

    def eof_received(self) -> bool:
        return False  # the peer is done: close our side too

    def connection_lost(self, exc: Exception | None) -> None:
        if self._timer is not None:
            self._timer.cancel()
        if self.transport is not None:
            self.agent.connections.discard(self.transport)
