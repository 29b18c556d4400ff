"""The parts of a running node: the WebSocket listener (whose stop is the drain), the control
plane, the cluster membership and the application's lifespan hooks; each has a ``start``
and a ``stop`` (``core/lifecycle.py``)."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import structlog

from .cluster.agent import AgentCheck
from .cluster.announcer import Announcer
from .cluster.routing import RouteCache
from .config import Settings
from .core.drain import close_in_waves, plan
from .core.lifecycle import NodeLifecycle, Part
from .core.node import Node
from .security.gate import HandshakeGate
from .transport.handshake import UpgradeHandler
from .transport.listener import ListenerLimits
from .transport.server import listen
from .wiring import admin_connections, codecs, deflate, handshakes_in_flight

if TYPE_CHECKING:
    import ssl

    from .admin.server import AdminServer
    from .admin.view import NodeView
    from .observability.monitor import Monitor

log = structlog.get_logger("switchboard.app")


class Listener:
    """The WebSocket port: ``start`` binds it; ``stop`` drains (``drain_grace``, then 1012
    to everyone in waves, wait up to ``drain_timeout``, drop the rest) and stops listening."""

    def __init__(
        self,
        node: Node,
        lifecycle: NodeLifecycle,
        settings: Settings,
        gate: HandshakeGate,
        capacity: int,
        tls: ssl.SSLContext | None,
        route: Callable[[], bytes | None] | None = None,
    ) -> None:
        self.node = node
        self.lifecycle = lifecycle
        self.settings = settings
        self.gate = gate
        self.capacity = capacity
        self.tls = tls
        #: ``GET /route``'s answer (``route_endpoint``); None: no such path.
        self.route = route
        self.server: asyncio.Server | None = None
        #: Connections still open at the drain timeout, dropped without a close handshake.
        self.aborted = 0

    @property
    def port(self) -> int:
        if self.server is None or not self.server.sockets:
            raise RuntimeError("server not listening")
        return int(self.server.sockets[0].getsockname()[1])

    async def start(self) -> None:
        s = self.settings
        upgrades = UpgradeHandler(
            self.node,
            self.lifecycle,
            path=s.path,
            max_connections=self.capacity,
            max_header_size=s.max_header_size,
            limits=ListenerLimits(s.max_message_size, s.write_high_water, s.close_timeout),
            codecs=codecs(s),
            deflate=deflate(s),
            unsupported_subprotocol=s.unsupported_subprotocol,
            gate=self.gate,
            warn_interval=s.warn_interval,
            route=self.route,
        )
        self.server = await listen(
            upgrades,
            s.host,
            s.port,
            handshake_timeout=s.handshake_timeout,
            max_frame_size=s.max_message_size,
            read_buffer_size=s.read_buffer_size,
            ssl=self.tls,
            max_handshakes=handshakes_in_flight(s),
            reuse_port=s.reuse_port,
        )

    async def stop(self) -> None:
        """The drain: the grace (still accepting), then the waves of 1012 closes, then wait
        for the close handshakes until ``drain_timeout``, and drop what is left."""
        node, s = self.node, self.settings
        if s.drain_grace:
            log.info("drain_grace", seconds=s.drain_grace, connections=len(node.registry))
            await asyncio.sleep(s.drain_grace)
        self.lifecycle.refusing = True
        loop = asyncio.get_running_loop()
        deadline = loop.time() + s.drain_timeout
        conns = node.registry.snapshot()
        waves, spread = plan(len(conns), s.drain_rate, s.drain_timeout)
        log.info(
            "drain_started",
            connections=len(conns),
            drain_timeout=s.drain_timeout,
            waves=waves,
            spread_s=round(spread, 3),
        )
        await close_in_waves(conns, node.close, rate=s.drain_rate, drain_timeout=s.drain_timeout)
        late = [conn for conn in node.registry.snapshot() if not conn.closing]
        await close_in_waves(late, node.close, rate=s.drain_rate, drain_timeout=0)  # mid-handshake
        await node.wait_all_closed(max(0.0, deadline - loop.time()))
        left = node.registry.snapshot()
        for conn in left:
            conn.transport.abort()
        self.aborted = len(left)
        if self.server is not None:
            self.server.close()
        await asyncio.sleep(0)  # let aborted transports report their disconnects


class AdminPort:
    """The control plane's port (FastAPI loads only when it starts)."""

    def __init__(self, view: NodeView, settings: Settings) -> None:
        self.view = view
        self.settings = settings
        self.server: AdminServer | None = None

    @property
    def port(self) -> int:
        if self.server is None:
            raise RuntimeError("the admin server is not running")
        return self.server.port

    async def start(self) -> None:
        from .admin.api import create_admin_app
        from .admin.server import AdminServer

        s = self.settings
        self.server = AdminServer(
            create_admin_app(self.view),
            s.admin_host,
            s.admin_port,
            max_connections=admin_connections(s),
        )
        await self.server.start()
        log.info(
            "admin_started",
            host=s.admin_host,
            port=self.server.port,
            api=s.api_key is not None or s.admin_insecure,
        )

    async def stop(self) -> None:
        if self.server is not None:  # up until now: /ready said 503 throughout the drain
            await self.server.stop()
            self.server = None


async def nothing() -> None:
    """A part with nothing to do at start (or stop)."""


def call(function: Callable[[], object]) -> Callable[[], Awaitable[None]]:
    """A plain call as a part's start or stop."""

    async def run() -> None:
        function()

    return run


def then(
    first: Callable[[], Awaitable[object]], second: Callable[[], object]
) -> Callable[[], Awaitable[None]]:
    """Await ``first``, then call ``second``: one part's start."""

    async def run() -> None:
        await first()
        second()

    return run


class Membership:
    """The node as a member of its cluster, as parts: its registry entry (the announcer),
    the cached least-loaded node ``GET /route`` answers (``route_endpoint``) and the HAProxy
    agent check (``agent_port``)."""

    def __init__(
        self,
        node: Node,
        lifecycle: NodeLifecycle,
        monitor: Monitor | None,
        settings: Settings,
        *,
        url: Callable[[], str],
        admin: Callable[[], str | None],
        version: str,
        capacity: int,
    ) -> None:
        assert monitor is not None
        s = settings
        self.announcer = Announcer(
            node, lifecycle, monitor, url=url, admin=admin, version=version,
            max_connections=capacity,
        )  # fmt: skip
        self.routes = RouteCache(node.broker, max_age=s.registry_ttl) if s.route_endpoint else None
        self.agent = None
        if s.agent_port is not None:
            self.agent = AgentCheck(
                self.announcer, lifecycle, s.host, s.agent_port, reuse_port=s.reuse_port
            )

    @property
    def route(self) -> Callable[[], bytes | None] | None:
        """``GET /route``'s answer for the listener; None: no such path."""
        return None if self.routes is None else self.routes.answer

    def parts(self) -> list[Part]:
        parts = [Part("announcer", call(self.announcer.start), self.announcer.stop)]
        if self.routes is not None:
            parts.append(Part("routes", self.routes.start, self.routes.stop))
        if self.agent is not None:
            parts.append(Part("agent", self.agent.start, self.agent.stop))
        return parts


#: An ``@app.on_startup`` or ``@app.on_shutdown`` hook: no arguments, sync or async.
LifespanHook = Callable[[], Awaitable[Any] | Any]


class Lifespan:
    """The application's startup and shutdown hooks, as one part: it starts after the
    broker and everything but the listener, and stops right after the drain."""

    def __init__(self) -> None:
        self.startup: list[LifespanHook] = []
        self.shutdown: list[LifespanHook] = []

    async def start(self) -> None:
        """Each startup hook in order; the first that raises fails the start (the parts
        started before are stopped, no shutdown hook runs)."""
        for hook in self.startup:
            try:
                await _called(hook)
            except Exception:
                log.exception("startup_hook_failed", hook=_name_of(hook))
                raise

    async def stop(self) -> None:
        """Each shutdown hook in order; one that raises is logged and the others still run."""
        for hook in self.shutdown:
            try:
                await _called(hook)
            except Exception:
                log.exception("shutdown_hook_failed", hook=_name_of(hook))


async def _called(hook: LifespanHook) -> None:
    outcome = hook()
    if inspect.isawaitable(outcome):
        await outcome


def _name_of(hook: LifespanHook) -> str:
    return str(getattr(hook, "__qualname__", None) or repr(hook))
