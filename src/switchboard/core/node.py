"""The node: connection lifecycle (open, message, close) over the registry, hub and router.

Transports call in here; this is the only place a connection is registered,
greeted, closed and forgotten, so the logs and counters of a connection's life
come from one spot.
"""

from __future__ import annotations

import asyncio
import inspect
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Any

import structlog

from ..broker.base import Broker
from ..errors import Reject
from ..protocol.codes import CloseCode
from ..protocol.envelope import EchoReply, Welcome
from ..protocol.frames import Opcode, encode_frame
from ..protocol.wire import PLAIN_JSON, Wire
from .channels import ChannelOptions, Channels
from .connection import HANDSHAKE_KEY, Connection, Transport
from .dispatches import Dispatches
from .expiry import CredentialExpiry
from .handlers import install_builtin_routes
from .heartbeat import Heartbeat
from .hooks import MAX_BACKLOG, ConnectHook, ConnectionObserver, DisconnectHook
from .hub import Hub
from .lifecycle import Phase
from .outbox import Outbox, SlowConsumerPolicy
from .pipeline import MessageTracer, Pipeline
from .policies import Policies
from .ratelimit import MessageRateLimit
from .registry import Registry
from .router import Router
from .sampler import Sampler
from .stats import Stats, bump

log = structlog.get_logger("switchboard.connection")
#: Security-relevant events (accepted connections, floods): ``audit_log`` can file them apart.
audit = structlog.get_logger("switchboard.audit")


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
        broker: Broker,
        channel_options: Callable[[str], ChannelOptions],
        max_subscriptions: int = 1000,
        channel_create_rate: float = 0.0,
        channel_create_burst: int = 0,
        raw_echo: bool = False,
        message_rate: float = 0.0,
        message_burst: int = 0,
        flood_strikes: int = 50,
        flood_window: float = 10.0,
        user_message_rate: float = 0.0,
        user_message_burst: int = 0,
        metrics: bool = True,
        stats: Stats | None = None,
        tracer: MessageTracer | None = None,
    ) -> None:
        self.loop = loop
        self.node_id = node_id
        self.raw_echo = raw_echo
        self.registry = Registry()
        #: What happens to a connection that breaks a limit (``core/policies.py``).
        self.policies = policies = Policies(self)
        self.outbox = Outbox(loop, send_queue_limit, slow_consumer_policy, policies.slow_consumer)
        #: Counters for metrics and the admin API; ``metrics=False`` skips the per-message ones.
        self.stats = stats if stats is not None else Stats()
        self.hub = Hub(self.registry, self.outbox, self.stats, count=metrics)
        self.router = Router(self.hub)
        if metrics:
            self.router.received = self.stats.received
        self.broker = broker
        self.channels = Channels(
            self.hub,
            broker,
            channel_options,
            max_subscriptions,
            create_rate=channel_create_rate,
            create_burst=channel_create_burst,
        )
        #: Broadcasts, direct messages, disconnects, join/leave: through the broker; and the
        #: broker's handler on this node.
        self.dispatches = Dispatches(self.hub, self.registry, broker, self.channels, self.close)
        self._echo_calls = install_builtin_routes(
            self.router, self.hub, self.channels, self.dispatches, count=metrics
        )
        self.heartbeat = Heartbeat(
            loop,
            self.registry,
            self.outbox,
            ping_interval,
            ping_timeout,
            policies.heartbeat_timeout,
        )
        #: Whether a message or ping may be handled (the message rate limits), when set.
        self._admit: Callable[[Connection], bool] | None = None
        if message_rate > 0 or user_message_rate > 0:
            limit = MessageRateLimit(
                message_rate,
                message_burst or max(1, round(message_rate)),
                flood_strikes,
                on_refused=policies.rate_refused,
                on_flood=policies.flood,
                user_rate=user_message_rate,
                user_burst=user_message_burst or max(1, round(user_message_rate)),
                flood_window=flood_window,
            )
            self._admit = limit.admit
        self.expiry = CredentialExpiry(loop, policies.token_expired)
        #: Told about every connection closed for flooding (address bans listen here).
        self.on_flood: Callable[[Connection], None] | None = None
        self.connect_hook: ConnectHook | None = None
        #: Give each connection's ``on_connect`` hook its handshake (``HANDSHAKE_KEY``).
        self.keep_handshake = False
        self.disconnect_hook: DisconnectHook | None = None
        #: Told when connections open and close (tracing), when set.
        self.observer: ConnectionObserver | None = None
        #: Times and sizes a sample of messages, when metrics are on (started with the node).
        self.sampler = Sampler(self.stats, self.messages_in) if metrics else None
        #: The stages every received message passes, built once (see ``pipeline.py``).
        self.pipeline = Pipeline(
            self.router,
            admit=self._admit,
            sampler=self.sampler,
            tracer=tracer,
            echo=self.echo_raw if raw_echo else None,
        )
        #: Where transports deliver each complete, validated message.
        self.on_message: Callable[[Connection, int, bytes], None] = self.pipeline.on_message
        self._welcome_interval = ping_interval
        self._emptied: asyncio.Event | None = None
        self.connections_total = 0

    def start_timers(self) -> None:
        """Heartbeat rounds and the metrics sample windows."""
        self.heartbeat.start()
        if self.sampler is not None:
            self.sampler.start(self.loop)

    def stop_timers(self) -> None:
        self.heartbeat.stop()
        if self.sampler is not None:
            self.sampler.stop()

    def bytes_in(self) -> int:
        """Payload bytes received so far (with metrics on): exact up to 1,000 messages a
        second, estimated from the sampled sizes above that (see ``core/sampler.py``)."""
        return 0 if self.sampler is None else int(self.sampler.bytes_in)

    def received(self) -> dict[str, int]:
        """Messages received by type (with metrics on), the built-in echo's own count in."""
        received = dict(self.stats.received)
        echoed = self._echo_calls()
        if echoed:
            received["echo"] = received.get("echo", 0) + echoed
        return received

    def sent(self) -> dict[type, int]:
        """Messages queued for clients by class; the built-in echo's replies are its calls."""
        sent = dict(self.stats.sent)
        echoed = self._echo_calls()
        if echoed:
            sent[EchoReply] = sent.get(EchoReply, 0) + echoed
        return sent

    def messages_in(self) -> int:
        """Messages received so far (counted with metrics on)."""
        return sum(self.stats.received.values()) + self._echo_calls()

    # --- lifecycle -----------------------------------------------------------------------------

    def open(
        self,
        transport: Transport,
        remote: str,
        wire: Wire = PLAIN_JSON,
        user: Any = None,
        roles: frozenset[str] = frozenset(),
        expires_at: float | None = None,
        handshake: dict[str, Any] | None = None,
    ) -> Connection:
        """Register a connection whose handshake just completed; greet it once accepted.
        ``user`` and ``roles``: who the handshake proved the client is (authentication);
        ``expires_at``: when that proof (a token) runs out, as Unix time; ``handshake``: its
        headers and token claims, for the ``on_connect`` hook only (``keep_handshake``)."""
        conn_id = "c-" + secrets.token_urlsafe(12)
        conn = Connection(conn_id, transport, remote, time.monotonic(), wire)
        if handshake is not None:
            conn.state[HANDSHAKE_KEY] = handshake
        if user is not None:
            conn.user = user
            conn.roles = roles
        if expires_at is not None:
            self.expiry.set(conn, expires_at)
        self.registry.add(conn)
        self.connections_total += 1
        if self.observer is not None:
            self.observer.opened(conn)
        audit.info("connection_accepted", connection_id=conn.id, remote=remote, user=conn.user)
        log.info(
            "connection_opened",
            connection_id=conn.id,
            remote=remote,
            subprotocol=wire.codec.name,
            compression=wire.compressor is not None,
            user=conn.user,
        )
        if self.connect_hook is None:
            self._greet(conn)
            return conn
        try:
            outcome = self.connect_hook(conn)
        except Exception as exc:
            self._refuse(conn, exc)
            return conn
        if inspect.isawaitable(outcome):
            conn.backlog = []  # messages wait until the hook decides
            self.router.spawn(self._finish_connect(conn, outcome))
        else:
            self._greet(conn)
        return conn

    def hold(self, conn: Connection, opcode: int, payload: bytes) -> None:
        """Keep a message that arrived before ``on_connect`` finished (bounded)."""
        assert conn.backlog is not None
        if len(conn.backlog) >= MAX_BACKLOG:
            self.close(conn, CloseCode.POLICY_VIOLATION, "too many messages before accept")
            return
        conn.backlog.append((opcode, payload))

    async def _finish_connect(self, conn: Connection, outcome: Awaitable[Any]) -> None:
        try:
            await outcome
        except Exception as exc:
            self._refuse(conn, exc)
            return
        held, conn.backlog = conn.backlog or [], None
        if conn.closing:
            return
        self._greet(conn)
        for opcode, payload in held:
            if conn.closing:
                break
            self.on_message(conn, opcode, payload)

    def _greet(self, conn: Connection) -> None:
        conn.enter(Phase.OPEN)
        self.registry.index_user(conn)
        self.broker.connected(conn.id, conn.user)
        if not self.raw_echo:
            welcome = Welcome(
                connection_id=conn.id, node=self.node_id, heartbeat=self._welcome_interval
            )
            self.hub.send(conn, welcome)
        self.dispatches.joins.greeted(conn)  # what the server subscribed it to meanwhile

    def set_user(self, conn: Connection, user: Any, roles: frozenset[str] | None = None) -> None:
        """Make ``user`` (None: anonymous) who ``conn`` is, and ``roles`` its roles when
        given: the user index and the broker's (the cluster's) follow, so sends to ``user``
        reach it and sends to its former user no longer do. The per-user connection limit
        is the handshake's: it is not checked again here."""
        conn.user = user
        if roles is not None:
            conn.roles = roles
        if not conn.accepted or conn.phase is Phase.CLOSED:
            return  # indexed when greeted; or gone, and already forgotten
        self.registry.index_user(conn)
        self.broker.disconnected(conn.id)
        self.broker.connected(conn.id, user)

    def _refuse(self, conn: Connection, exc: Exception) -> None:
        conn.backlog = None
        if isinstance(exc, Reject):
            log.info("connection_rejected", connection_id=conn.id, code=exc.code, reason=exc.reason)
            self.close(conn, exc.code, exc.reason)
        else:
            log.exception("on_connect_failed", connection_id=conn.id)
            self.close(conn, CloseCode.INTERNAL_ERROR, "internal error")

    def ping(self, conn: Connection, payload: bytes) -> None:
        """A client's ping: the pong is queued like any frame (bounded, in order)."""
        allowed = self._admit
        if allowed is not None and not allowed(conn):
            return
        self.outbox.send(conn, encode_frame(Opcode.PONG, payload))

    def echo_raw(self, conn: Connection, opcode: int, payload: bytes) -> None:
        """Conformance mode: send the message back unchanged (compressed if negotiated)."""
        compressor = conn.wire.compressor
        if compressor is not None and len(payload) >= compressor.threshold:
            self.outbox.send(conn, compressor.frame(opcode, payload))
        else:
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
        conn.enter(Phase.CLOSING)
        conn.transport.close(code, reason, fail=fail)

    def closed(self, conn: Connection, code: int, reason: str, by: str) -> None:
        """The socket is gone: forget the connection."""
        if conn.phase is Phase.CLOSED:
            return
        conn.enter(Phase.CLOSED)
        conn.backlog = None
        self.expiry.cancel(conn)
        self.dispatches.joins.gone(conn)
        self.registry.remove(conn)
        self.outbox.discard(conn)
        duration = time.monotonic() - conn.opened_at
        stats = self.stats
        bump(stats.closed, code)
        stats.duration.observe(duration)
        if self._emptied is not None and not self.registry:
            self._emptied.set()
        if conn.accepted:
            self.broker.disconnected(conn.id)
            leaving = self.channels.gone(conn)
            if leaving is not None:
                self.router.spawn(self._await_logged(leaving, "channel_cleanup_failed", conn))
            if self.disconnect_hook is not None:
                self._call_disconnect_hook(conn, code)
        if self.observer is not None:
            self.observer.closed(conn, code, reason, by)
        log.info(
            "connection_closed",
            connection_id=conn.id,
            user=conn.user,
            remote=conn.remote,
            duration_s=round(duration, 3),
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

    def _call_disconnect_hook(self, conn: Connection, code: int) -> None:
        assert self.disconnect_hook is not None
        try:
            outcome = self.disconnect_hook(conn, code)
        except Exception:
            log.exception("on_disconnect_failed", connection_id=conn.id)
            return
        if inspect.isawaitable(outcome):
            self.router.spawn(self._await_logged(outcome, "on_disconnect_failed", conn))

    @staticmethod
    async def _await_logged(outcome: Awaitable[Any], event: str, conn: Connection) -> None:
        try:
            await outcome
        except Exception:
            log.exception(event, connection_id=conn.id)

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
