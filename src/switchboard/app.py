"""The composition root: wires settings, core and transport; runs, drains and shuts down."""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import structlog
import uvloop

from .broker.base import Broker, BrokerHandler, HistoryOptions
from .broker.memory import MemoryBroker
from .config import Settings
from .core.channels import ChannelOptions
from .core.hooks import ConnectHook, DisconnectHook
from .core.measured_broker import MeasuredBroker
from .core.node import Node
from .core.router import RouteHandler, Router
from .core.stats import Stats
from .observability.metrics import build_registry
from .observability.monitor import Monitor
from .observability.tracing import Tracing, configure_sdk
from .protocol.codes import CloseCode
from .protocol.envelope import encode
from .security.acl import ChannelAccess
from .security.jwks import JwksKeys
from .security.limits import address_of
from .security.refresh import install_refresh
from .security.tls import TlsCertificates
from .transport.handshake import HandshakeState, UpgradeHandler
from .transport.listener import ListenerLimits
from .transport.server import listen
from .version import __version__
from .wiring import (
    admin_connections,
    codecs,
    connection_capacity,
    deflate,
    handshake_gate,
    handshakes_in_flight,
    has_channel_permissions,
    thresholds,
)

if TYPE_CHECKING:
    from opentelemetry.trace import TracerProvider
    from prometheus_client import CollectorRegistry

    from .admin.server import AdminServer

log = structlog.get_logger("switchboard.app")

H = TypeVar("H", bound=RouteHandler)
C = TypeVar("C", bound=ConnectHook)
D = TypeVar("D", bound=DisconnectHook)


@dataclass(frozen=True, slots=True)
class _RouteOptions:
    roles: frozenset[str]
    rate: float | None
    burst: int | None

    def install(self, router: Router, message_type: str, handler: RouteHandler) -> None:
        router.add_route(message_type, handler, self.roles, rate=self.rate, burst=self.burst)


class App:
    """A Switchboard node and its route table.

    ``app.run()`` blocks (or ``await app.start()`` / ``await app.shutdown()``); before that,
    ``@app.route(...)``, ``@app.on_connect`` and ``@app.on_disconnect`` add the application's
    behaviour. Built-in routes (``echo``, ``broadcast``, ``ping``) are ordinary routes: a route
    of the same name replaces one, :meth:`remove_route` removes one, and ``"$default"``
    catches every type nothing else handles.
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
        #: Where publications, history and presence live: the embedded in-memory broker.
        self.broker: Broker = MemoryBroker(max_history_bytes=self.settings.history_max_bytes)
        self._namespace_cache: dict[str, ChannelOptions] = {}
        self._server: asyncio.Server | None = None
        self._handshake = HandshakeState()
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
        self._admin: AdminServer | None = None

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
        an exception becomes an ``INTERNAL_ERROR`` for that request only. ``roles``: the
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

    def on_connect(self, hook: C) -> C:
        """Decorator: called with each new connection before its ``welcome``; sync or async.

        Raise :class:`~switchboard.Reject` to refuse it with a close code; set ``conn.user``,
        ``conn.roles`` or ``conn.state`` to attach what later handlers need. Messages that
        arrive while an async hook runs wait (up to 64) and are handled once it accepts.
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

    # --- server-side helpers ----------------------------------------------------------------

    async def publish(self, channel: str, data: Any) -> int:
        """Publish ``data`` (any JSON value) to ``channel``; returns its offset."""
        position = await self._running().channels.publish_from_server(channel, encode(data))
        return position.offset

    async def send_to_user(self, user: Any, data: Any) -> int:
        """Send ``{"type":"direct","from":{"connection":"server","user":null},"data":...}`` to
        every connection of ``user``; returns how many."""
        return await self._running().dispatches.direct(encode(data), user=user)

    async def send_to_connection(self, connection_id: str, data: Any) -> bool:
        """Send a direct message to one connection; False when it is not open."""
        node = self._running()
        return bool(await node.dispatches.direct(encode(data), connection=connection_id))

    async def disconnect(self, connection_id: str, code: int = 1000, reason: str = "") -> bool:
        """Close one connection with ``code``; False when it is not open."""
        node = self._running()
        return bool(await node.dispatches.disconnect(code, reason, connection=connection_id))

    def _running(self) -> Node:
        if self.node is None:
            raise RuntimeError("the app is not running: call start() or run() first")
        return self.node

    def reload_tls(self) -> bool:
        """Reload the TLS certificate and key from their files (what SIGHUP does); True on
        success, False (the old certificate stays) when they cannot be loaded or TLS is off."""
        return self.tls is not None and self.tls.reload()

    def _channel_options(self, namespace: str) -> ChannelOptions:
        options = self._namespace_cache.get(namespace)
        if options is None:
            ns = self.settings.namespace(namespace)
            options = ChannelOptions(
                history=HistoryOptions(ns.history_size, ns.history_ttl),
                publish=ns.publish,
                presence=ns.presence,
                join_leave=ns.join_leave,
            )
            self._namespace_cache[namespace] = options
        return options

    # --- running ---------------------------------------------------------------------------

    @property
    def port(self) -> int:
        """The bound TCP port (useful with ``port=0``)."""
        if self._server is None:
            raise RuntimeError("server not started")
        return int(self._server.sockets[0].getsockname()[1])

    @property
    def draining(self) -> bool:
        return self._handshake.draining

    async def start(self) -> None:
        """Bind the port and start serving; returns once connections are accepted."""
        s = self.settings
        loop = asyncio.get_running_loop()
        if s.tls_cert is not None and s.tls_key is not None:
            self.tls = TlsCertificates(s.tls_cert, s.tls_key)
        stats = Stats()
        if s.tracing:
            self.tracing = self._start_tracing()
        node = Node(
            loop,
            node_id=s.node_id,
            ping_interval=s.ping_interval,
            ping_timeout=s.ping_timeout,
            send_queue_limit=s.send_queue_limit,
            slow_consumer_policy=s.slow_consumer_policy,
            broker=MeasuredBroker(self.broker, stats),
            channel_options=self._channel_options,
            max_subscriptions=s.max_subscriptions,
            channel_create_rate=s.channel_create_rate,
            channel_create_burst=s.channel_create_burst,
            raw_echo=s.raw_echo,
            message_rate=s.message_rate,
            message_burst=s.message_burst,
            flood_strikes=s.flood_strikes,
            flood_window=s.flood_window,
            user_message_rate=s.user_message_rate,
            user_message_burst=s.user_message_burst,
            metrics=s.metrics,
            stats=stats,
            tracer=None if self.tracing is None else self.tracing.messages(stats.errors),
        )
        node.observer = self.tracing
        if s.admin:  # first: a port in use fails the start before anything else runs
            await self._start_admin()
        try:
            await self._start_serving(node)
        except BaseException:
            if self._admin is not None:
                await self._admin.stop()
                self._admin = None
            raise

    async def _start_serving(self, node: Node) -> None:
        """Everything after the node and the admin port: gate, routes, listener, monitor."""
        s = self.settings
        gate = handshake_gate(s)
        if gate.auth is not None:  # a built-in route: the app may replace or remove it
            install_refresh(node.router, node.hub, node.expiry, gate.auth)
            self._jwks = gate.auth.jwks
            if self._jwks is not None:
                await self._jwks.fetch()  # before the first handshake; failures are logged
                self._jwks.start()
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
        capacity, open_files = connection_capacity(s)
        if capacity < s.max_connections:  # set explicitly, above what the process can hold
            log.warning(
                "max_connections_lowered",
                max_connections=capacity,
                configured=s.max_connections,
                open_file_limit=open_files,
                fd_reserve=s.fd_reserve,
            )
        upgrades = UpgradeHandler(
            node,
            self._handshake,
            path=s.path,
            max_connections=capacity,
            max_header_size=s.max_header_size,
            limits=ListenerLimits(s.max_message_size, s.write_high_water, s.close_timeout),
            codecs=codecs(s),
            deflate=deflate(s),
            unsupported_subprotocol=s.unsupported_subprotocol,
            gate=gate,
            warn_interval=s.warn_interval,
        )
        self._server = await listen(
            upgrades,
            s.host,
            s.port,
            handshake_timeout=s.handshake_timeout,
            max_frame_size=s.max_message_size,
            read_buffer_size=s.read_buffer_size,
            ssl=None if self.tls is None else self.tls.context,
            max_handshakes=handshakes_in_flight(s),
        )
        handler: BrokerHandler = node.dispatches
        if self.tracing is not None:
            handler = self.tracing.deliveries(node.dispatches)
        await node.broker.start(handler)
        self.node = node
        self.started_at = time.monotonic()
        node.heartbeat.start()
        if node.sampler is not None:
            node.sampler.start(node.loop)
        self.monitor = Monitor(node, thresholds(s), history=s.dashboard_history)
        self.monitor.start()
        self.metrics_registry = build_registry(node, self.version, self.monitor, capacity)
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

    def _start_tracing(self) -> Tracing:
        provider = self.tracer_provider
        if provider is None and self.settings.otlp_endpoint:
            provider = self._own_provider = configure_sdk(
                self.settings.otlp_endpoint, self.settings.node_id
            )
        return Tracing(provider, self.version)

    async def _start_admin(self) -> None:
        from .admin.api import create_admin_app  # FastAPI loads only when the admin port is on
        from .admin.server import AdminServer

        s = self.settings
        self._admin = AdminServer(
            create_admin_app(self),
            s.admin_host,
            s.admin_port,
            max_connections=admin_connections(s),
        )
        await self._admin.start()
        log.info(
            "admin_started",
            host=s.admin_host,
            port=self._admin.port,
            api=s.api_key is not None or s.admin_insecure,
        )

    @property
    def admin_port(self) -> int:
        """The control plane's bound port (useful with ``admin_port=0``)."""
        if self._admin is None:
            raise RuntimeError("the admin server is not running")
        return self._admin.port

    async def shutdown(self) -> None:
        """Drain: refuse new upgrades (``/ready`` -> 503), close everyone with 1001, wait, stop."""
        node, server = self.node, self._server
        if node is None or server is None or self._handshake.draining:
            return
        self._handshake.draining = True
        node.heartbeat.stop()
        if node.sampler is not None:
            node.sampler.stop()
        closing = node.close_all(CloseCode.GOING_AWAY, "server shutting down")
        log.info("drain_started", connections=closing, drain_timeout=self.settings.drain_timeout)
        await node.wait_all_closed(self.settings.drain_timeout)
        left = node.registry.snapshot()
        for conn in left:
            conn.transport.abort()
        server.close()
        if self._jwks is not None:
            await self._jwks.stop()
        await asyncio.sleep(0)  # let aborted transports report their disconnects
        if self.monitor is not None:
            await self.monitor.stop()  # ends the dashboard streams
        if self._admin is not None:  # up until now: /ready said 503 throughout the drain
            await self._admin.stop()
            self._admin = None
        await node.broker.close()
        if self.tracing is not None:
            self.tracing.end_all()  # connections aborted at the drain timeout
        if self._own_provider is not None:
            # Flushes batched spans over the network: off the loop, which is still ours.
            await asyncio.to_thread(self._own_provider.shutdown)
            self._own_provider = None
        log.info("server_stopped", aborted=len(left), connections_total=node.connections_total)

    async def serve_until_signal(self) -> None:
        """Serve until SIGTERM or SIGINT, then drain and return."""
        loop = asyncio.get_running_loop()
        stopping = self._stopping = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stopping.set)
        loop.add_signal_handler(signal.SIGHUP, self.reload_tls)
        await self.start()
        await stopping.wait()
        log.info("signal_received")
        await self.shutdown()

    def run(self) -> None:
        """Blocking entry point on uvloop: serve until a signal, drain, return."""
        uvloop.run(self.serve_until_signal())
