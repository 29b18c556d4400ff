"""``switchboard edge``: an App composed as an edge node (its broker the central cluster,
its ``$default`` route the forwarder), and how it runs until a signal."""

from __future__ import annotations

import asyncio
import signal

import structlog
import typer
import uvloop

from .app import App
from .edge import Forwarder, Upstream, UpstreamBroker, UpstreamOptions
from .edge.metrics import EdgeCollector
from .protocol.codes import CloseCode

log = structlog.get_logger("switchboard.edge")

EDGE_HELP = (
    "Run an edge node near users: clients connect, authenticate and are rate limited here, "
    "the App's routes (the TARGET, module:attribute) process their types here, and every "
    "other message goes to the central cluster at --upstream over a few multiplexed "
    "connections (docs/edge.md). Every option of serve applies."
)

#: The close reason of a local subscriber whose channel the central could not resume.
RESYNC_REASON = '{"reconnect_after_ms": 0, "resync": true}'

#: Built-in routes an edge leaves to the central (they reach ``$default``, the forwarder)
#: unless the App routes the type itself.
FORWARDED_BUILTINS = ("echo",)


class EdgeNode:
    """``app`` as an edge of ``app.settings.upstream``: build it before ``start()``.

    The app's own routes are the local processors; the built-in channel, broadcast and send
    routes stay and go through :class:`~switchboard.edge.UpstreamBroker`; every other type
    is forwarded.
    """

    def __init__(self, app: App) -> None:
        s = app.settings
        if not s.upstream:
            raise ValueError("an edge node needs an upstream: --upstream ws://central:8080/ws")
        token = None if s.upstream_token is None else s.upstream_token.get_secret_value()
        options = UpstreamOptions(
            url=s.upstream,
            token=token,
            connections=s.edge_upstream_connections,
            buffer=s.edge_buffer,
            timeout=s.edge_timeout,
            backoff_base=s.edge_backoff_base,
            backoff_max=s.edge_backoff_max,
        )
        self.app = app
        self.upstream = Upstream(options)
        self.broker = UpstreamBroker(self.upstream, history=s.edge_history)
        self.forwarder = Forwarder(self.upstream)
        app.broker = self.broker
        for message_type in FORWARDED_BUILTINS:
            if not app.has_route(message_type):  # an App's own ``echo`` is a processor
                app.remove_route(message_type)

    async def start(self) -> None:
        """Connect upstream, start the node, then take over ``$default``: no message is
        routed in between (nothing awaits between the listener's start and this)."""
        app = self.app
        await app.start()
        assert app.node is not None
        self.forwarder.install(app.node.router)
        self.broker.on_gap = self._resync
        if app.metrics_registry is not None:
            app.metrics_registry.register(EdgeCollector(self.broker, self.forwarder))
        log.info(
            "edge_started",
            upstream=self.upstream.options.url,
            upstream_connections=len(self.upstream),
            port=app.port,
        )

    def _resync(self, channel: str) -> None:
        """The central could not resume ``channel``: its local subscribers missed
        publications, so they are closed 1012 to reconnect at once; their resume then says
        ``recovered: false``, the protocol's "resync" (the edge kept no run across the gap)."""
        node = self.app.node
        if node is None:
            return
        for conn in list(node.channels.subscribers.get(channel, ())):
            node.close(conn, CloseCode.SERVICE_RESTART, RESYNC_REASON)

    async def shutdown(self) -> None:
        await self.app.shutdown()

    async def serve_until_signal(self) -> None:
        """Serve until SIGTERM or SIGINT, then drain (the local clients first) and return."""
        loop = asyncio.get_running_loop()
        stopping = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stopping.set)
        loop.add_signal_handler(signal.SIGHUP, self.app.reload_tls)
        await self.start()
        await stopping.wait()
        log.info("signal_received")
        await self.shutdown()


def run_edge(app: App) -> None:
    """``switchboard edge``: blocking, on uvloop."""
    try:
        edge = EdgeNode(app)
    except ValueError as exc:
        typer.echo(f"switchboard: invalid settings: {exc}", err=True)
        raise typer.Exit(2) from None
    uvloop.run(edge.serve_until_signal())
