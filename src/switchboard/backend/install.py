"""Routes to an HTTP backend, installed on an App: ``$connect``, ``$disconnect``, messages.

``install_backend(app)`` reads ``app.settings.backend`` and, for each route key there,
installs what the App offers anyway: an ``on_connect`` hook (``$connect``), an
``on_disconnect`` hook (``$disconnect``) and a route per message type (``$default``
included). It reaches the App through :class:`BackendHost` only, so this adapter never
imports ``switchboard.app``. What a hook or route does with the backend's answer is in
``docs/integration.md``; in short: ``$connect`` 2xx accepts (user, roles, state, channels
from the answer), anything else refuses with a close code; a message route's 2xx body is
the reply; ``$disconnect`` is fire and forget.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Hashable, Iterable
from typing import Any, Protocol

import msgspec
import structlog

from ..config.backend import CONNECT, DISCONNECT, BackendOptions
from ..core.connection import Connection
from ..core.repeats import RepeatFilter
from ..errors import Reject
from ..protocol.codes import CloseCode
from ..protocol.envelope import Envelope
from .client import BackendClient
from .errors import BAD_ANSWER, BackendRefused, BackendUnavailable
from .events import (
    BackendEvent,
    ConnectAnswer,
    connect_answer,
    connect_event,
    disconnect_event,
    encode_event,
    error_answer,
    forwarded,
    message_event,
    take_handshake,
)
from .metrics import BackendCollector

log = structlog.get_logger("switchboard.backend")

#: Where a connection's token claims are kept (in ``conn.state``) for its later events.
CLAIMS_KEY = "switchboard.backend.claims"
#: Longest close reason taken from a backend's refusal (a close frame holds 123 bytes).
MAX_REASON = 100
MAX_MESSAGE = 200

RouteHandler = Callable[[Connection, Envelope], Awaitable[Any]]


class HostSettings(Protocol):
    """The settings the backend reads."""

    @property
    def backend(self) -> BackendOptions: ...

    @property
    def warn_interval(self) -> float: ...


class BackendHost(Protocol):
    """What the backend needs of an App (``switchboard.App`` is one)."""

    @property
    def settings(self) -> HostSettings: ...

    def route(self, message_type: str) -> Callable[[RouteHandler], RouteHandler]: ...

    def on_connect(self, hook: Callable[[Connection], Awaitable[None]]) -> Any: ...

    def on_disconnect(self, hook: Callable[[Connection, int], Awaitable[None] | None]) -> Any: ...

    def set_user(self, conn: Connection, user: Any, roles: Iterable[str] | None = None) -> None: ...

    async def subscribe(
        self, channel: str, *, connection: Connection | str | None = None, user: Any = None
    ) -> int: ...

    def on_shutdown(self, hook: Callable[[], Awaitable[None]]) -> Any: ...


class Backend:
    """The installed backend of one App: its client, its hooks and routes, its metrics."""

    def __init__(self, host: BackendHost, options: BackendOptions) -> None:
        self.host = host
        self.options = options
        self.client = BackendClient(options, warn_interval=host.settings.warn_interval)
        #: Register on the App's metrics registry: ``registry.register(backend.collector)``.
        self.collector = BackendCollector(self.client)
        #: ``$disconnect`` events not sent: the concurrency limit was reached, or it failed.
        self.disconnects_dropped = 0
        self.collector.dropped = lambda: self.disconnects_dropped
        self._failures = RepeatFilter(host.settings.warn_interval, _failures_repeated)
        #: ``$disconnect`` events handed to the node and not sent yet (``aclose`` waits).
        self._disconnecting = 0
        self._sent = asyncio.Event()

    def install(self) -> None:
        host, routes = self.host, self.options.routes
        if CONNECT in routes:
            host.on_connect(self.on_connect)
        if DISCONNECT in routes:
            host.on_disconnect(self.on_disconnect)
        for key in routes:
            if key not in (CONNECT, DISCONNECT):
                host.route(key)(self._message_route(key))

    @property
    def wants_handshake(self) -> bool:
        """Whether the transport should leave each connection's handshake headers and token
        claims in ``conn.state[HANDSHAKE_KEY]``: ``$connect`` takes them out at once."""
        return CONNECT in self.options.routes

    async def aclose(self) -> None:
        """Close the pooled HTTP connections (the node is stopping), once the ``$disconnect``
        events of the drain are sent, or ``timeout`` has passed."""
        if self._disconnecting:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._sent.wait(), self.options.timeout)
        await self.client.aclose()

    # --- $connect ----------------------------------------------------------------------------

    async def on_connect(self, conn: Connection) -> None:
        headers, claims = take_handshake(conn)
        if claims is not None:
            conn.state[CLAIMS_KEY] = claims
        event = connect_event(conn, forwarded(headers, self.options.forward_headers), claims)
        try:
            status, answer = await self._call(event, CONNECT, conn)
        except BackendUnavailable as exc:
            raise Reject(exc.close_code, "backend unavailable") from None
        if status >= 300:
            refused = _refusal(status, answer)
            log.info(
                "backend_refused_connection",
                connection_id=conn.id,
                status=status,
                close_code=refused.close_code,
            )
            raise Reject(refused.close_code, refused.reason)
        accepted = self._connect_answer(conn, event, answer)
        if accepted.user is not None or accepted.roles is not None:
            user = conn.user if accepted.user is None else accepted.user
            self.host.set_user(conn, user, accepted.roles)
        if accepted.state:
            conn.state.update(accepted.state)
        for channel in accepted.channels:
            try:
                await self.host.subscribe(channel, connection=conn)
            except Exception as exc:  # the connection stays; the miss is logged
                log.warning(
                    "backend_subscribe_failed",
                    connection_id=conn.id,
                    user=conn.user,
                    channel=channel[:200],
                    error=str(exc),
                )

    def _connect_answer(
        self, conn: Connection, event: BackendEvent, answer: bytes
    ) -> ConnectAnswer:
        if not answer.strip():
            return ConnectAnswer()
        try:
            return connect_answer.decode(answer)
        except msgspec.DecodeError as exc:
            self._bad_answer(CONNECT, conn, event, exc)
            raise Reject(CloseCode.INTERNAL_ERROR, "backend answer unreadable") from None

    # --- $disconnect -------------------------------------------------------------------------

    def on_disconnect(self, conn: Connection, code: int) -> Awaitable[None]:
        # The event is built now, while the connection's fields are still what they were.
        event = disconnect_event(conn, code, conn.state.get(CLAIMS_KEY))
        self._disconnecting += 1
        self._sent.clear()
        return self._send_disconnect(conn, event)

    async def _send_disconnect(self, conn: Connection, event: BackendEvent) -> None:
        try:
            await self._call(event, DISCONNECT, conn, idempotent=True)
        except BackendUnavailable:
            self.disconnects_dropped += 1  # logged (once an interval) by _call
        finally:
            self._disconnecting -= 1
            if not self._disconnecting:
                self._sent.set()

    # --- message routes ----------------------------------------------------------------------

    def _message_route(self, route_key: str) -> RouteHandler:
        idempotent = self.options.routes[route_key].idempotent

        # ``msg`` is an Envelope, not annotated as one: a route whose payload parameter is
        # annotated with a Struct gets its ``data`` decoded into it (typed payloads).
        async def handle(conn: Connection, msg: Any) -> Any:
            event = message_event(route_key, conn, msg, conn.state.get(CLAIMS_KEY))
            status, answer = await self._call(event, route_key, conn, idempotent=idempotent)
            if status >= 300:
                raise _refusal(status, answer)
            if not answer.strip():
                return None  # no body: an ack, when the request had an id
            try:
                return msgspec.json.decode(answer)
            except msgspec.DecodeError as exc:
                self._bad_answer(route_key, conn, event, exc)
                raise BackendUnavailable(BAD_ANSWER) from None

        handle.__name__ = f"backend_route_{route_key}"
        return handle

    # --- shared ------------------------------------------------------------------------------

    async def _call(
        self, event: BackendEvent, route_key: str, conn: Connection, *, idempotent: bool = False
    ) -> tuple[int, bytes]:
        try:
            return await self.client.call(
                route_key, encode_event(event), event.request_id, idempotent=idempotent
            )
        except BackendUnavailable as exc:
            if self._failures.allow(route_key):
                log.warning(
                    "backend_call_failed",
                    route=route_key,
                    request_id=event.request_id,
                    connection_id=conn.id,
                    user=conn.user,
                    error=exc.kind,
                    status=exc.status,
                )
            raise

    def _bad_answer(
        self, route_key: str, conn: Connection, event: BackendEvent, exc: Exception
    ) -> None:
        self.client.routes[route_key].outcomes[BAD_ANSWER] = (
            self.client.routes[route_key].outcomes.get(BAD_ANSWER, 0) + 1
        )
        log.warning(
            "backend_bad_answer",
            route=route_key,
            request_id=event.request_id,
            connection_id=conn.id,
            error=str(exc)[:200],
        )


def _refusal(status: int, answer: bytes) -> BackendRefused:
    """A 3xx/4xx answer as the error a client gets, with the backend's own ``message`` and
    ``reason`` when its body is a JSON object that has them."""
    message = reason = None
    if answer.strip():
        try:
            said = error_answer.decode(answer)
        except msgspec.DecodeError:
            pass
        else:
            message = said.message[:MAX_MESSAGE] if said.message else None
            reason = (
                said.reason.encode()[:MAX_REASON].decode(errors="ignore") if said.reason else None
            )
    return BackendRefused(status, message, reason)


def _failures_repeated(route_key: Hashable, repeated: int) -> None:
    log.warning("backend_call_failed_repeated", route=route_key, repeated=repeated)


def install_backend(app: BackendHost, options: BackendOptions | None = None) -> Backend:
    """Send ``app``'s configured route keys (``settings.backend.routes``, or ``options``) to
    the HTTP backend; returns the :class:`Backend` (its ``collector``, ``aclose()``).

    ``$connect`` becomes the app's ``on_connect`` hook and ``$disconnect`` its
    ``on_disconnect`` hook (an App has one of each: the backend's replaces the app's own);
    every other key becomes a route. The HTTP client is closed by an ``on_shutdown`` hook,
    once the drain's ``$disconnect`` events are sent.
    """
    backend = Backend(app, options if options is not None else app.settings.backend)
    backend.install()
    app.on_shutdown(backend.aclose)
    return backend
