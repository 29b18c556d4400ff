"""The composition root: wires settings, core and transport; runs, drains and shuts down."""

from __future__ import annotations

import asyncio
import gc
import signal
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import structlog
import uvloop

from .broker.base import Broker, BrokerHandler
from .cluster.agent import AgentCheck
from .cluster.announcer import Announcer, admin_url, public_url
from .cluster.routing import RouteCache
from .config import Settings
from .core.hooks import ConnectHook, DisconnectHook
from .core.lifecycle import NodeLifecycle, NodeState, Part, Parts
from .core.measured_broker import MeasuredBroker
from .core.node import Node
from .core.router import RouteHandler, Router
from .core.stats import Stats
from .observability.metrics import build_registry
from .observability.monitor import Monitor
from .observability.tracing import Tracing, configure_sdk
from .parts import AdminPort, Lifespan, LifespanHook, Listener, Membership, call, nothing, then
from .security.acl import ChannelAccess
from .security.gate import HandshakeGate
from .security.jwks import JwksKeys
from .security.limits import address_of
from .security.refresh import install_refresh
from .security.tls import TlsCertificates
from .serverside import ServerSide
from .version import __version__
from .wiring import (
    build_broker,
    build_node,
    channel_options_of,
    checked_capacity,
    handshake_gate,
    has_channel_permissions,
    thresholds,
)

if TYPE_CHECKING:
    from opentelemetry.trace import TracerProvider
    from prometheus_client import CollectorRegistry

    from .backend import Backend


log = structlog.get_logger("switchboard.app")

H = TypeVar("H", bound=RouteHandler)
C = TypeVar("C", bound=ConnectHook)
D = TypeVar("D", bound=DisconnectHook)
L = TypeVar("L", bound=LifespanHook)


@dataclass(frozen=True, slots=True)
class _RouteOptions:
    roles: frozenset[str]
    rate: float | None
    burst: int | None

    def install(self, router: Router, message_type: str, handler: RouteHandler) -> None:
        router.add_route(message_type, handler, self.roles, rate=self.rate, burst=self.burst)


class App(ServerSide):
    """A Switchboard node and its route table.

    ``app.run()`` blocks (or ``await app.start()`` / ``await app.shutdown()``); before that,
    ``@app.route(...)``, ``@app.on_connect``, ``@app.on_disconnect``, ``@app.on_startup`` and
    ``@app.on_shutdown`` add the application's behaviour; :class:`ServerSide` has what server
    code may do while it runs (publish, send, subscribe, disconnect). Built-in routes
    (``echo``, ``broadcast``, ``ping``) are ordinary routes: a route of the same name
    replaces one, :meth:`remove_route` removes one, and ``"$default"`` catches every type
    nothing else handles.
    """

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings if settings is not None else Settings()
        self.node: Node | None = None
        #: The TLS context and its files, when serving wss://.
        self.tls: TlsCertificates | None = None
        self._jwks: JwksKeys | None = None
        self._routes: dict[str, tuple[RouteHandler, _RouteOptions]] = {}
        self._removed: set[str] = set()
        self._connect_hook: ConnectHook | None = None
        self._disconnect_hook: DisconnectHook | None = None
        #: ``@app.on_startup`` / ``@app.on_shutdown`` hooks, run in order (``parts.Lifespan``).
        self._lifespan = Lifespan()
        self._broker: Broker | None = None
        self._listener: Listener | None = None
        #: STARTING, READY, DRAINING, STOPPED: what ``/ready`` and the drain read.
        self.lifecycle = NodeLifecycle()
        self._parts = Parts([])
        self._stopping: asyncio.Event | None = None
        self.version = __version__
        #: Loop time the server started serving.
        self.started_at = 0.0
        #: Samples the node each second (dashboard, warnings) while running.
        self.monitor: Monitor | None = None
        #: The Prometheus registry ``/metrics`` exposes, while running.
        self.metrics_registry: CollectorRegistry | None = None
        #: OpenTelemetry spans, when ``tracing`` is on.
        self.tracing: Tracing | None = None
        #: The OpenTelemetry tracer provider to use (default: the global one, or an OTLP
        #: exporter when ``otlp_endpoint`` is set). Set it before ``start()``.
        self.tracer_provider: TracerProvider | None = None
        self._own_provider: Any = None
        self._admin: AdminPort | None = None
        #: Tells the broker's node registry about this node, while running.
        self.announcer: Announcer | None = None
        #: The cluster's least-loaded node that ``GET /route`` answers (``route_endpoint``).
        self.routes: RouteCache | None = None
        #: The HAProxy agent-check responder (``agent_port``), while running.
        self.agent: AgentCheck | None = None
        #: Routes to an HTTP backend (``[backend]`` settings: ``docs/integration.md``).
        self.backend: Backend | None = None
        if self.settings.backend.enabled:
            from .backend import install_backend

            self.backend = install_backend(self)

    # --- the route table -----------------------------------------------------------------------

    def route(
        self,
        message_type: str,
        *,
        roles: Iterable[str] | None = None,
        rate: float | None = None,
        burst: int | None = None,
    ) -> Callable[[H], H]:
        """Decorator: handle messages of ``message_type``; sync or async.

        The handler gets ``(conn, msg)``: ``conn.id``, ``conn.user``, ``conn.state``;
        ``msg.type``, ``msg.id`` and ``msg.json()`` (the decoded ``data``). A value it
        returns is sent back as ``{"type": "<type>_reply", "data": value, "id": msg.id}``;
        an exception becomes an ``INTERNAL_ERROR`` for that request only. A handler whose
        second (or ``data``) parameter is annotated with a ``msgspec.Struct`` or a pydantic
        model gets the validated value instead (``core/typed.py``). ``roles``: the
        connection needs one of them (else ``FORBIDDEN``); ``rate``/``burst``: requests per
        second one connection may make here (else ``RATE_LIMIT_EXCEEDED``).
        """

        def register(handler: H) -> H:
            options = _RouteOptions(frozenset(roles or ()), rate, burst)
            self._routes[message_type] = (handler, options)
            self._removed.discard(message_type)
            if self.node is not None:
                options.install(self.node.router, message_type, handler)
            return handler

        return register

    def remove_route(self, message_type: str) -> None:
        """Remove a route, built-in or not; its type then gets ``UNKNOWN_MESSAGE_TYPE``."""
        self._routes.pop(message_type, None)
        self._removed.add(message_type)
        if self.node is not None:
            self.node.router.remove(message_type)

    def has_route(self, message_type: str) -> bool:
        """Whether the application routed ``message_type`` itself (``@app.route``)."""
        return message_type in self._routes

    def on_connect(self, hook: C) -> C:
        """Decorator: called with each new connection before its ``welcome``; sync or async.

        Raise :class:`~switchboard.Reject` to refuse it with a close code; set ``conn.user``,
        ``conn.roles`` or ``conn.state`` to attach what later handlers need (after the
        welcome, a user changes through :meth:`set_user`). Messages that arrive while an
        async hook runs wait (up to 64) and are handled once it accepts.
        """
        self._connect_hook = hook
        if self.node is not None:
            self.node.connect_hook = hook
        return hook

    def on_disconnect(self, hook: D) -> D:
        """Decorator: called with ``(conn, close_code)`` when an accepted connection ends."""
        self._disconnect_hook = hook
        if self.node is not None:
            self.node.disconnect_hook = hook
        return hook

    def on_startup(self, hook: L) -> L:
        """Decorator: called (sync or async, in the order added) at start, once the broker
        is up and before the WebSocket port accepts; one that raises fails the start."""
        self._lifespan.startup.append(hook)
        return hook

    def on_shutdown(self, hook: L) -> L:
        """Decorator: called (sync or async, in the order added) at shutdown, after the
        drain and before the broker closes; one that raises is logged, the rest still run."""
        self._lifespan.shutdown.append(hook)
        return hook

    def reload_tls(self) -> bool:
        """Reload the TLS certificate and key from their files (what SIGHUP does); True on
        success, False (the old certificate stays) when they cannot be loaded or TLS is off."""
        return self.tls is not None and self.tls.reload()

    # --- running ---------------------------------------------------------------------------

    @property
    def port(self) -> int:
        """The bound TCP port (useful with ``port=0``)."""
        if self._listener is None:
            raise RuntimeError("server not started")
        return self._listener.port

    @property
    def broker(self) -> Broker:
        """Where publications, history, presence and dispatches go: the one ``settings.broker``
        names (built when first used), or one set here before ``start()``."""
        if self._broker is None:
            self._broker = build_broker(self.settings)
        return self._broker

    @broker.setter
    def broker(self, broker: Broker) -> None:
        self._broker = broker

    @property
    def draining(self) -> bool:
        return self.lifecycle.draining

    async def start(self) -> None:
        """Bind the ports and start serving; returns once connections are accepted."""
        s = self.settings
        if self.lifecycle.state is not NodeState.STARTING:
            raise RuntimeError("an App starts once; make a new one to serve again")
        if s.tls_cert is not None and s.tls_key is not None:
            self.tls = TlsCertificates(s.tls_cert, s.tls_key)
        stats = Stats()
        if s.tracing:
            self.tracing = self._start_tracing()
        tracer = None if self.tracing is None else self.tracing.messages(stats.errors)
        broker = MeasuredBroker(self.broker, stats)
        node = build_node(s, broker, channel_options_of(s), stats, tracer)
        node.observer = self.tracing
        gate = handshake_gate(s)
        self._install(node, gate)
        capacity, open_files = checked_capacity(s)
        self.monitor = Monitor(node, thresholds(s), history=s.dashboard_history)
        self._parts = Parts(self._parts_of(node, gate, capacity))
        self.node = node  # startup hooks may publish, send, ...
        try:
            await self._parts.start()
        except BaseException:
            self.node = None
            self.lifecycle.enter(NodeState.STOPPED)
            raise
        self.started_at = time.monotonic()
        self.metrics_registry = build_registry(node, self.version, self.monitor, capacity)
        if self.backend is not None:
            self.metrics_registry.register(self.backend.collector)
        self.lifecycle.enter(NodeState.READY)
        log.info(
            "server_started",
            host=s.host,
            port=self.port,
            path=s.path,
            raw_echo=s.raw_echo,
            max_connections=capacity,
            open_file_limit=open_files,
            pipeline=node.pipeline.stages,
        )

    def _install(self, node: Node, gate: HandshakeGate) -> None:
        """The app's routes and hooks, and the security settings that reach into the node."""
        s = self.settings
        if gate.auth is not None:  # a built-in route: the app may replace or remove it
            install_refresh(node.router, node.hub, node.expiry, gate.auth, node.set_user)
            self._jwks = gate.auth.jwks
        if has_channel_permissions(s):
            access = ChannelAccess(self.settings.namespace, gate.auth)
            node.channels.access = access.check
        if s.max_connections_per_user:
            users = node.registry.users
            gate.limit_users(s.max_connections_per_user, lambda user: len(users.get(user, ())))
        if gate.limits is not None:
            limits = gate.limits
            node.on_flood = lambda conn: limits.strike(address_of(conn.remote), "message flood")
        for message_type in self._removed:
            node.router.remove(message_type)
        for message_type, (route_handler, options) in self._routes.items():
            options.install(node.router, message_type, route_handler)
        node.connect_hook = self._connect_hook
        node.disconnect_hook = self._disconnect_hook
        node.keep_handshake = self.backend is not None and self.backend.wants_handshake

    def _parts_of(self, node: Node, gate: HandshakeGate, capacity: int) -> list[Part]:
        """The node's parts in start order; they stop in the reverse order, so the drain
        (the listener's stop) comes first and the broker and tracing go last."""
        handler: BrokerHandler = node.dispatches
        if self.tracing is not None:
            handler = self.tracing.deliveries(node.dispatches)
        tls = None if self.tls is None else self.tls.context
        s = self.settings
        member = Membership(
            node,
            self.lifecycle,
            self.monitor,
            s,
            url=lambda: public_url(s, self.port),
            admin=lambda: admin_url(s, self._admin.port if self._admin else None),
            version=self.version,
            capacity=capacity,
        )
        self.announcer, self.routes, self.agent = member.announcer, member.routes, member.agent
        self._listener = Listener(node, self.lifecycle, s, gate, capacity, tls, member.route)
        parts = [
            Part("tracing", nothing, self._stop_tracing),
            Part("broker", lambda: node.broker.start(handler), node.broker.close),
        ]
        if s.admin:
            self._admin = AdminPort(self, s)
            parts.append(Part("admin", self._admin.start, self._admin.stop))
        assert self.monitor is not None
        parts.append(Part("monitor", call(self.monitor.start), self.monitor.stop))
        parts += member.parts()  # the agent stops after the listener: `drain` all through it
        if self._jwks is not None:  # fetched before the first handshake; failures are logged
            parts.append(Part("jwks", then(self._jwks.fetch, self._jwks.start), self._jwks.stop))
        parts.append(Part("timers", call(node.start_timers), call(node.stop_timers)))
        parts.append(Part("lifespan", self._lifespan.start, self._lifespan.stop))
        parts.append(Part("listener", self._listener.start, self._listener.stop))
        return parts

    def _start_tracing(self) -> Tracing:
        provider = self.tracer_provider
        if provider is None and self.settings.otlp_endpoint:
            provider = self._own_provider = configure_sdk(
                self.settings.otlp_endpoint, self.settings.node_id
            )
        return Tracing(provider, self.version)

    @property
    def admin_port(self) -> int:
        """The control plane's bound port (useful with ``admin_port=0``)."""
        if self._admin is None:
            raise RuntimeError("the admin server is not running")
        return self._admin.port

    async def shutdown(self) -> None:
        """Drain: ``/ready`` -> 503, then 1012 to everyone in waves (``parts.Listener``), wait, stop
        every part in the reverse of the order they started."""
        node = self.node
        if node is None or self.lifecycle.state is not NodeState.READY:
            return
        self.lifecycle.enter(NodeState.DRAINING)
        await self._parts.stop()
        self.lifecycle.enter(NodeState.STOPPED)
        aborted = 0 if self._listener is None else self._listener.aborted
        log.info("server_stopped", aborted=aborted, connections_total=node.connections_total)

    async def _stop_tracing(self) -> None:
        if self.tracing is not None:
            self.tracing.end_all()  # connections aborted at the drain timeout
        if self._own_provider is not None:
            # Flushes batched spans over the network: off the loop, which is still ours.
            await asyncio.to_thread(self._own_provider.shutdown)
            self._own_provider = None

    async def serve_until_signal(self) -> None:
        """Serve until SIGTERM or SIGINT, then drain and return."""
        loop = asyncio.get_running_loop()
        stopping = self._stopping = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stopping.set)
        loop.add_signal_handler(signal.SIGHUP, self.reload_tls)
        await self.start()
        # What start-up built lives as long as the process: kept out of the collector's
        # sight, so its full collections stop walking some 80,000 objects again and again
        # (about a tenth of a node's CPU under publish load, measured).
        gc.collect()
        gc.freeze()
        await stopping.wait()
        log.info("signal_received")
        await self.shutdown()

    def run(self) -> None:
        """Blocking entry point on uvloop: serve until a signal, drain, return."""
        uvloop.run(self.serve_until_signal())
