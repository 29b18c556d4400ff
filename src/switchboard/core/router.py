"""Routes decoded envelopes to handlers by ``type``, and turns failed requests into error frames."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine, Hashable, Iterable
from typing import Any, TypeGuard

import structlog

from ..errors import BrokerUnavailable, RequestError
from ..protocol.codes import ErrorCode
from ..protocol.envelope import Envelope
from .app_route import AppRoute
from .app_route import RouteHandler as RouteHandler  # re-exported: its first home
from .connection import Connection
from .eager import Started, finish, start_eagerly
from .hub import Hub
from .lane import MAX_AHEAD, Ahead, Lane
from .repeats import RepeatFilter

Handler = Callable[[Connection, Envelope], None]
SerialHandler = Callable[[Connection, Envelope], Coroutine[Any, Any, None]]
#: Whether a request of a pipelined route may start ahead of its turn, given how many of the
#: connection's requests are in flight before it (see ``core/lane.py``).
Pipelines = Callable[[Connection, Envelope, int], bool]
#: The route that catches every type no other route handles.
DEFAULT_ROUTE = "$default"
#: How messages of no route's type, and messages that could not be decoded, are counted.
UNKNOWN = "unknown"
INVALID = "invalid"

log = structlog.get_logger("switchboard.router")
audit = structlog.get_logger("switchboard.audit")
_DENIED = frozenset({ErrorCode.FORBIDDEN, ErrorCode.UNAUTHORIZED})
TOO_DEEP = "message nested too deeply to decode"
BROKER_DOWN = "the broker cannot be reached just now; try again"
#: Seconds over which one connection's authorisation failures make one audit line.
DENIAL_LOG_INTERVAL = 10.0


class Router:
    """A route table: message ``type`` -> plain (non-async) handler call."""

    __slots__ = ("_denials", "_tasks", "_unavailable", "counts_itself", "hub", "received", "routes")

    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self.routes: dict[str, Handler] = {}
        #: Messages received by type (a route's name, ``unknown`` or ``invalid``), when
        #: metrics are on (with each connection's message and byte counts); the type a
        #: client sends is counted only if a route handles it.
        self.received: dict[str, int] | None = None
        #: A route that counts its own calls (the built-in echo: a closure counter is
        #: cheaper than this dict), left out of ``received``.
        self.counts_itself: Handler | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        #: Authorisation failures are audited once per connection per interval, then counted.
        self._denials = RepeatFilter(DENIAL_LOG_INTERVAL, _denials_repeated)
        #: Requests refused while the broker is unreachable: one warning per interval.
        self._unavailable = RepeatFilter(DENIAL_LOG_INTERVAL, _unavailable_repeated)

    def denied(self, conn: Connection, envelope: Envelope, reason: str) -> None:
        """An authorisation failure, for the audit log (repeats folded into a count)."""
        if not self._denials.allow(conn.id):
            return
        audit.info(
            "authorization_failed",
            connection_id=conn.id,
            remote=conn.remote,
            user=conn.user,
            message_type=envelope.type,
            channel=envelope.channel,
            reason=reason,
        )

    def spawn(self, coro: Awaitable[None]) -> None:
        """Run an async handler as its own task (kept referenced until it finishes)."""
        task: asyncio.Task[None] = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def add(self, message_type: str, handler: Handler) -> None:
        """A built-in style route: a plain call that sends what it needs itself."""
        self.routes[message_type] = handler

    def add_route(
        self,
        message_type: str,
        handler: RouteHandler,
        roles: Iterable[str] | None = None,
        *,
        rate: float | None = None,
        burst: int | None = None,
    ) -> None:
        """An application route: sync or async, its return value (if not None) is the reply.

        The reply goes out as ``{"type": "<type>_reply", "data": <value>, "id": <id>}``.
        ``roles``: the connection must hold at least one of them, else ``FORBIDDEN``.
        ``rate`` (per second) and ``burst``: how often one connection may call this route;
        over it, ``RATE_LIMIT_EXCEEDED`` for that request.
        An async handler runs as its own task, so a slow one delays nobody else.
        """
        route = AppRoute(self, message_type, handler, roles)
        if rate:
            route.rate = rate
            route.burst = float(burst or max(1, round(rate)))
        self.routes[message_type] = route

    def remove(self, message_type: str) -> None:
        self.routes.pop(message_type, None)

    def route(self, conn: Connection, envelope: Envelope) -> None:
        """Stage 4 of the pipeline: hand a decoded message to its route's handler."""
        kind = envelope.type
        handler = self.routes.get(kind)
        if handler is None:
            handler = self.routes.get(DEFAULT_ROUTE)
            kind = UNKNOWN if handler is None else DEFAULT_ROUTE
        received = self.received
        if received is not None:
            conn.messages_in += 1
            if handler is not self.counts_itself:
                received[kind] = received.get(kind, 0) + 1
        lane = conn.lane
        if lane is not None:  # an earlier request is still in flight: keep the order
            # In flight before this one: the request being answered, and those started ahead.
            if lane.open and self._pipelines(handler, conn, envelope, lane.ahead + 1):
                lane.entries.append(self._ahead(conn, handler, envelope))
                lane.ahead += 1
            else:
                lane.open = False
                lane.entries.append((handler, envelope))
            return
        if handler is None:
            self._unknown(conn, envelope)
            return
        try:
            handler(conn, envelope)
        except Exception as exc:
            self.failed(conn, envelope, exc)

    def too_deep(self, conn: Connection, request_id: Any = None) -> None:
        """Nesting deeper than the decoder will follow: bad input like any other."""
        log.info("message_too_deep", connection_id=conn.id, user=conn.user)
        self.hub.send_error(conn, ErrorCode.INVALID_MESSAGE_FORMAT, TOO_DEEP, request_id)

    def _unknown(self, conn: Connection, envelope: Envelope) -> None:
        self.hub.send_error(
            conn,
            ErrorCode.UNKNOWN_MESSAGE_TYPE,
            f"unknown message type {envelope.type[:64]!r}",
            envelope.id,
        )

    def _call(self, conn: Connection, handler: Handler, envelope: Envelope) -> None:
        try:
            handler(conn, envelope)
        except Exception as exc:
            self.failed(conn, envelope, exc)

    def failed(self, conn: Connection, envelope: Envelope, exc: Exception) -> None:
        """Answer a request whose handler raised: its own code for a :class:`RequestError`,
        ``UNAVAILABLE`` (retryable) when the broker cannot be reached, otherwise
        ``INTERNAL_ERROR`` (details stay in the log, with the traceback)."""
        if isinstance(exc, RequestError):
            if exc.code in _DENIED:
                self.denied(conn, envelope, exc.message)
            self.hub.send_error(conn, exc.code, exc.message, envelope.id)
            return
        if isinstance(exc, BrokerUnavailable):
            if self._unavailable.allow("broker"):
                log.warning("broker_unavailable", message_type=envelope.type, error=str(exc))
            self.hub.send_error(conn, ErrorCode.UNAVAILABLE, BROKER_DOWN, envelope.id)
            return
        if isinstance(exc, RecursionError):  # a handler decoding data nested too deeply
            self.too_deep(conn, envelope.id)
            return
        log.error(
            "handler_failed",
            connection_id=conn.id,
            message_type=envelope.type,
            exc_info=exc,
        )
        self.hub.send_error(
            conn, ErrorCode.INTERNAL_ERROR, "internal error while handling message", envelope.id
        )

    def add_serial(
        self, message_type: str, handler: SerialHandler, *, pipelines: Pipelines | None = None
    ) -> None:
        """A route that awaits (a broker call). It runs at once; only if it has to wait does
        it become a task, with later requests of the same connection waiting behind it, so
        every reply keeps the order of the requests.

        ``pipelines``: the route is pipelined (``core/lane.py``) when this says yes: its one
        broker call is queued before its first wait, so it may start ahead of its turn."""
        self.routes[message_type] = _SerialRoute(self, handler, pipelines)

    @staticmethod
    def _pipelines(
        route: object, conn: Connection, envelope: Envelope, ahead: int
    ) -> TypeGuard[_SerialRoute]:
        if type(route) is not _SerialRoute or route.pipelines is None or ahead >= MAX_AHEAD:
            return False
        return route.pipelines(conn, envelope, ahead)

    def _ahead(self, conn: Connection, route: _SerialRoute, envelope: Envelope) -> Ahead:
        """Start a pipelined request ahead of its turn, holding what it sends."""
        outbox = self.hub.outbox
        entry = Ahead(envelope)
        saved = outbox.hold(conn)
        try:
            entry.started = start_eagerly(route.handler(conn, envelope))
        except Exception as exc:
            entry.error = exc
        finally:
            entry.held = outbox.release(conn, saved)
        return entry

    async def run_lane(self, conn: Connection, first: Envelope, started: Started) -> None:
        """Finish a serial request that had to wait, then whatever queued up behind it."""
        lane = conn.lane
        assert lane is not None
        entries = lane.entries
        try:
            await self._finish(conn, first, started)
            while entries and not conn.closing:
                entry = entries.popleft()
                if isinstance(entry, Ahead):
                    lane.ahead -= 1
                    await self._answer(conn, entry)
                    continue
                queued, envelope = entry
                if self._pipelines(queued, conn, envelope, lane.ahead):
                    entries.appendleft(entry)
                    self._start_run(conn, lane)
                elif queued is None:
                    self._unknown(conn, envelope)
                elif isinstance(queued, _SerialRoute):
                    await self._await_request(conn, queued.handler, envelope)
                else:
                    self._call(conn, queued, envelope)
        finally:
            conn.lane = None
            lane.close()

    def _start_run(self, conn: Connection, lane: Lane) -> None:
        """Its turn came for a waiting pipelined request: start it and the pipelined ones
        right behind it; the lane opens again if that leaves nothing waiting."""
        entries = lane.entries
        run: list[Ahead] = []
        while entries:
            head = entries[0]
            if isinstance(head, Ahead):
                break
            queued, envelope = head
            if not self._pipelines(queued, conn, envelope, lane.ahead):
                break
            entries.popleft()
            run.append(self._ahead(conn, queued, envelope))
            lane.ahead += 1
        lane.open = not entries
        entries.extendleft(reversed(run))

    async def _answer(self, conn: Connection, entry: Ahead) -> None:
        """A request started ahead: its turn came to be answered."""
        send = self.hub.outbox.send
        for frame in entry.held:
            send(conn, frame)
        if entry.error is not None:
            self.failed(conn, entry.envelope, entry.error)
        elif entry.started is not None:
            started, entry.started = entry.started, None
            await self._finish(conn, entry.envelope, started)

    async def _finish(self, conn: Connection, envelope: Envelope, started: Started) -> None:
        try:
            await finish(started)
        except Exception as exc:
            self.failed(conn, envelope, exc)

    async def _await_request(
        self, conn: Connection, handler: SerialHandler, envelope: Envelope
    ) -> None:
        try:
            await handler(conn, envelope)
        except Exception as exc:
            self.failed(conn, envelope, exc)

    def start_serial(self, conn: Connection, msg: Envelope, route: _SerialRoute) -> None:
        """Run a serial request now; if it has to wait, later requests of the same
        connection queue behind it until it is done."""
        try:
            started = start_eagerly(route.handler(conn, msg))
        except Exception as exc:
            self.failed(conn, msg, exc)
            return
        if started is not None:
            conn.lane = Lane(self._pipelines(route, conn, msg, 0))
            self.spawn(self.run_lane(conn, msg, started))


class _SerialRoute:
    """A route whose handler awaits; see :meth:`Router.add_serial`."""

    __slots__ = ("handler", "pipelines", "router")

    def __init__(self, router: Router, handler: SerialHandler, pipelines: Pipelines | None) -> None:
        self.router = router
        self.handler = handler
        self.pipelines = pipelines

    def __call__(self, conn: Connection, msg: Envelope) -> None:
        self.router.start_serial(conn, msg, self)


def _denials_repeated(connection_id: Hashable, repeated: int) -> None:
    audit.info("authorization_failed_repeated", connection_id=connection_id, repeated=repeated)


def _unavailable_repeated(_: Hashable, repeated: int) -> None:
    log.warning("broker_unavailable_repeated", repeated=repeated)
