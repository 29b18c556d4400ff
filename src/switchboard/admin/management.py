"""The management API under ``/api/v1``: publish, send, inspect and close connections, stats.

Every endpoint needs the API key in the ``X-API-Key`` header. Connection endpoints answer
410 Gone for a connection that is not open on this node (the shape of API Gateway's
``@connections`` API); errors use the one shape of ``admin/errors.py``.
"""

from __future__ import annotations

import bisect
import contextlib
import hmac
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import TYPE_CHECKING, Annotated, Any

import msgspec
from fastapi import APIRouter, Body, Depends, Header, Path, Query, Security
from fastapi.security import APIKeyHeader
from starlette.convertors import Convertor, register_url_convertor

from ..core.connection import Connection
from ..observability.diagnostics import AllocationTracer, loop_pass_lag
from ..protocol.codecs import DataFormat, convert_data
from ..protocol.envelope import encode
from . import models
from .errors import ERROR_RESPONSES, ApiError, documented

if TYPE_CHECKING:
    from ..app import App
    from ..config import Settings

API_KEY_HEADER = "X-API-Key"
_key_header = APIKeyHeader(name=API_KEY_HEADER, auto_error=False, description="The api_key.")
#: Close codes an operator may send: normal, going away, policy, and the application range.
_CLOSE_CODES = "1000, 1001, 1008, 1011, 1013 or 3000-4999"
Traceparent = Annotated[str | None, Header(description="W3C trace context of the caller.")]
#: Channel names as the WebSocket protocol allows them (``protocol/channels.py``).
ChannelName = Annotated[
    str, Path(pattern=r"^[A-Za-z0-9_\-.:@#=/,]{1,255}$", description="A channel name.")
]
ConnectionId = Annotated[
    str, Path(pattern=r"^c-[A-Za-z0-9_\-]{1,62}$", description="A connection id (c-...).")
]


class _ConnectionIdConvertor(Convertor[str]):
    """Only ``c-...`` names a connection, so ``/connections/count`` is never one."""

    regex = r"c-[A-Za-z0-9_\-]+"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("connection_id", _ConnectionIdConvertor())
CloseCodeParam = Annotated[
    int,
    Query(
        ge=1000,
        le=4999,
        description=f"The close code: {_CLOSE_CODES}.",
        json_schema_extra={"anyOf": [{"enum": [1000, 1001, 1008, 1011, 1013]}, {"minimum": 3000}]},
    ),
]


def key_matches(given: str | None, expected: str | None, insecure: bool) -> bool:
    """Whether ``given`` is the configured key (constant time); with none configured, only
    ``insecure`` lets callers in."""
    if expected is None:
        return insecure
    return given is not None and hmac.compare_digest(given.encode(), expected.encode())


def key_refusal(given: str | None, settings: Settings) -> str | None:
    """Why a management request with key ``given`` is refused (401), or None."""
    if key_matches(given, settings.api_key, settings.admin_insecure):
        return None
    if settings.api_key is None:
        return "the management API is off: set api_key"
    return f"missing or wrong API key in the {API_KEY_HEADER} header"


def management_router(app: App) -> APIRouter:
    """The ``/api/v1`` routes, bound to ``app``."""

    def require_key(key: Annotated[str | None, Security(_key_header)] = None) -> None:
        # ApiGuard refused a bad key before the body was read; this documents the scheme in
        # the OpenAPI spec and holds if the guard is ever left out.
        why = key_refusal(key, app.settings)
        if why is not None:
            raise ApiError(401, why)

    router = APIRouter(
        prefix="/api/v1", dependencies=[Depends(require_key)], responses=ERROR_RESPONSES
    )
    allocations = AllocationTracer()

    def node() -> Any:
        if app.node is None:
            raise ApiError(503, "the server is not running")
        return app.node

    def open_connection(connection_id: str) -> Connection:
        conn: Connection | None = node().registry.get(connection_id)
        if conn is None or conn.closing or not conn.accepted:
            raise ApiError(410, f"connection {connection_id!r} is gone")
        return conn

    def checked_size(data: Any) -> None:
        try:
            size = len(encode(data))
        except (msgspec.EncodeError, OverflowError, TypeError) as exc:
            raise ApiError(422, f"data cannot be encoded: {exc}") from None
        limit = app.settings.max_message_size
        if size > limit:
            raise ApiError(413, f"data is {size} bytes; max_message_size is {limit}")

    @contextlib.contextmanager
    def traced(operation: str, traceparent: str | None, **attributes: Any) -> Iterator[None]:
        tracing = app.tracing
        if tracing is None:
            yield
            return
        with tracing.api_call(operation, traceparent, **attributes):
            yield

    async def deliver(send: Callable[[], Awaitable[Any]], **attributes: Any) -> int:
        tracing = app.tracing
        if tracing is None:
            return int(await send())
        with tracing.delivery(**attributes) as span:
            delivered = int(await send())
            span.set_attribute("switchboard.delivered", delivered)
            return delivered

    def user_key(user: str) -> Any:
        """The user as the node indexes it (a JWT ``sub`` is a string; a hook may set ints)."""
        users = node().channels.users
        if user in users:
            return user
        return next((key for key in users if str(key) == user), None)

    # --- connections -----------------------------------------------------------------------------

    def matching(user: str | None, channel: str | None) -> list[Connection]:
        n = node()
        if channel is not None:
            conns = list(n.channels.subscribers.get(channel, ()))
        else:
            conns = [c for c in n.registry if c.accepted and not c.closing]
        if user is not None:
            conns = [c for c in conns if c.user is not None and str(c.user) == user]
        return conns

    def info(conn: Connection) -> models.ConnectionInfo:
        n = node()
        return models.ConnectionInfo(
            id=conn.id,
            node=n.node_id,
            user=_jsonable(conn.user),
            address=conn.remote,
            connected_at=round(conn.connected_at, 3),
            subprotocol=conn.wire.codec.name,
            compression=conn.wire.compressor is not None,
            subscriptions=sorted(n.channels.subscriptions_of.get(conn, ())),
            messages_in=conn.messages_in,
            messages_out=conn.messages_out,
            bytes_in=conn.transport.received_bytes(),
            bytes_out=conn.bytes_out,
        )

    @router.get(
        "/connections",
        response_model=models.ConnectionPage,
        summary="List connections",
        description="Ordered by connection id; pass `next_cursor` back as `cursor` for more.",
        tags=["connections"],
    )
    async def list_connections(
        user: str | None = None,
        channel: str | None = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        cursor: str | None = None,
    ) -> models.ConnectionPage:
        conns = {c.id: c for c in matching(user, channel)}
        ids, next_cursor = _page(sorted(conns), cursor, limit)
        return models.ConnectionPage(
            items=[info(conns[i]) for i in ids], total=len(conns), next_cursor=next_cursor
        )

    @router.get(
        "/connections/count",
        response_model=models.Count,
        summary="Count connections",
        tags=["connections"],
    )
    async def count_connections(
        user: str | None = None, channel: str | None = None
    ) -> models.Count:
        return models.Count(count=len(matching(user, channel)))

    @router.get(
        "/connections/{connection_id:connection_id}",
        response_model=models.ConnectionInfo,
        summary="One connection",
        responses=documented(404, 410),
        tags=["connections"],
    )
    async def get_connection(connection_id: ConnectionId) -> models.ConnectionInfo:
        return info(open_connection(connection_id))

    @router.delete(
        "/connections/{connection_id:connection_id}",
        response_model=models.Closed,
        summary="Close a connection",
        description=f"Sends a close frame with `code` ({_CLOSE_CODES}) and `reason`; a "
        "close frame holds 123 bytes of reason, so a longer one (in UTF-8) is cut there.",
        responses=documented(404, 410),
        tags=["connections"],
    )
    async def close_connection(
        connection_id: ConnectionId,
        code: CloseCodeParam = 1000,
        reason: Annotated[str, Query(max_length=123)] = "closed by the operator",
    ) -> models.Closed:
        if not (code in {1000, 1001, 1008, 1011, 1013} or 3000 <= code <= 4999):
            raise ApiError(422, f"code must be {_CLOSE_CODES}", "INVALID_REQUEST")
        open_connection(connection_id)
        await app.disconnect(connection_id, code, reason)
        return models.Closed(closed=True, code=code)

    # --- sending --------------------------------------------------------------------------------

    @router.post(
        "/channels/{channel:path}/publish",
        response_model=models.Published,
        summary="Publish to a channel",
        responses=documented(404, 413),
        tags=["channels"],
    )
    async def publish(
        channel: ChannelName, body: models.PublishRequest, traceparent: Traceparent = None
    ) -> models.Published:
        checked_size(body.data)
        with traced("publish", traceparent, **{"switchboard.channel": channel}):
            position = await node().channels.publish_from_server(channel, encode(body.data))
        return models.Published(channel=channel, offset=position.offset, epoch=position.epoch)

    @router.post(
        "/connections/{connection_id:connection_id}",
        response_model=models.Delivered,
        summary="Send to one connection",
        description="The body is any JSON value; the client gets "
        '`{"type":"direct","from":{"connection":"server","user":null},"data":<body>}`. '
        "410 when the connection is not open on this node.",
        responses=documented(404, 410, 413),
        tags=["connections"],
    )
    async def send_to_connection(
        connection_id: ConnectionId,
        data: Annotated[Any, Body(description="Any JSON value.")],
        traceparent: Traceparent = None,
    ) -> models.Delivered:
        open_connection(connection_id)
        checked_size(data)
        with traced(
            "send_to_connection", traceparent, **{"switchboard.connection_id": connection_id}
        ):
            delivered = await deliver(
                lambda: app.send_to_connection(connection_id, data),
                **{"switchboard.connection_id": connection_id},
            )
        if not delivered:
            raise ApiError(410, f"connection {connection_id!r} is gone")
        return models.Delivered(delivered=1)

    @router.post(
        "/users/{user}/send",
        response_model=models.Delivered,
        summary="Send to every connection of a user",
        responses=documented(404, 413),
        tags=["users"],
    )
    async def send_to_user(
        user: str, body: models.SendRequest, traceparent: Traceparent = None
    ) -> models.Delivered:
        checked_size(body.data)
        with traced("send_to_user", traceparent, **{"switchboard.user": user}):
            key = user_key(user)
            delivered = 0
            if key is not None:
                delivered = await deliver(
                    lambda: app.send_to_user(key, body.data), **{"switchboard.user": user}
                )
        if not delivered:
            raise ApiError(404, f"no open connection of user {user!r} on this node")
        return models.Delivered(delivered=delivered)

    # --- channels --------------------------------------------------------------------------------

    @router.get(
        "/channels",
        response_model=models.ChannelPage,
        summary="Channels with subscribers on this node",
        description="Ordered by name; `prefix` filters (e.g. `room:`).",
        tags=["channels"],
    )
    async def list_channels(
        prefix: str = "",
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        cursor: str | None = None,
    ) -> models.ChannelPage:
        subscribers = node().channels.subscribers
        names = sorted(c for c, conns in subscribers.items() if conns and c.startswith(prefix))
        page, next_cursor = _page(names, cursor, limit)
        return models.ChannelPage(
            items=[models.ChannelInfo(channel=c, subscribers=len(subscribers[c])) for c in page],
            total=len(names),
            next_cursor=next_cursor,
        )

    @router.get(
        "/channels/{channel:path}/presence",
        response_model=models.Presence,
        summary="Who is in a channel",
        responses=documented(404),
        tags=["channels"],
    )
    async def presence(channel: ChannelName) -> models.Presence:
        members = await node().broker.presence(channel)
        return models.Presence(
            channel=channel,
            members=[
                models.PresenceMember(connection=cid, user=_jsonable(member.get("user")))
                for cid, member in sorted(members.items())
            ],
        )

    @router.get(
        "/channels/{channel:path}/history",
        response_model=models.History,
        summary="A channel's kept publications",
        responses=documented(404),
        tags=["channels"],
    )
    async def history(
        channel: ChannelName, limit: Annotated[int, Query(ge=1, le=10_000)] = 100
    ) -> models.History:
        position, publications = await node().broker.history(channel, limit)
        return models.History(
            channel=channel,
            offset=position.offset,
            epoch=position.epoch,
            publications=[
                models.HistoryItem(
                    offset=p.offset,
                    data=msgspec.json.decode(convert_data(p.data, p.data_format, DataFormat.JSON)),
                )
                for p in publications
            ],
        )

    # --- stats and diagnostics -------------------------------------------------------------------

    @router.get("/stats", response_model=models.Stats, summary="Node statistics", tags=["node"])
    async def stats() -> models.Stats:
        n = node()
        s = n.stats
        monitor = app.monitor
        busiest = monitor.busiest_channels(10) if monitor is not None else []
        return models.Stats(
            node=n.node_id,
            version=app.version,
            uptime_s=round(time.monotonic() - app.started_at, 3),
            draining=app.draining,
            connections=len(n.registry),
            connections_total=n.connections_total,
            channels=len(n.channels.subscribers),
            subscriptions=sum(len(c) for c in n.channels.subscribers.values()),
            messages_in=n.messages_in(),
            messages_out=n.outbox.frames_written,
            bytes_in=n.bytes_in(),
            bytes_out=n.outbox.bytes_written,
            errors=dict(s.errors),
            rate_limited=dict(s.rate_limited),
            handshake_rejections=dict(s.handshake_rejected),
            slow_consumers=n.outbox.slow_consumers,
            dropped_frames=n.outbox.dropped_frames,
            busiest_channels=[models.ChannelInfo(**c) for c in busiest],
            latest_sample=monitor.samples[-1] if monitor is not None and monitor.samples else None,
        )

    @router.get(
        "/diagnostics/loop-lag",
        response_model=models.LoopLag,
        summary="Event-loop lag",
        tags=["diagnostics"],
    )
    async def loop_lag() -> models.LoopLag:
        monitor = app.monitor
        recent = list(monitor.samples)[-60:] if monitor is not None else []
        return models.LoopLag(
            now_ms=round(await loop_pass_lag() * 1000, 3),
            last_sample_ms=round((monitor.loop_lag if monitor is not None else 0.0) * 1000, 3),
            max_recent_ms=max((s["loop_lag_ms"] for s in recent), default=0.0),
        )

    @router.get(
        "/diagnostics/allocations",
        response_model=models.Allocations,
        summary="Top memory allocation sites (tracemalloc)",
        description="Traces new allocations for `seconds`, then reports the biggest sites "
        "still alive. Tracing slows the server while it runs; one report at a time (409).",
        responses=documented(409),
        tags=["diagnostics"],
    )
    async def allocation_report(
        seconds: Annotated[float, Query(ge=0, le=60)] = 1.0,
        top: Annotated[int, Query(ge=1, le=200)] = 20,
    ) -> models.Allocations:
        if allocations.busy:
            raise ApiError(409, "an allocation report is already running", "CONFLICT")
        report = await allocations.report(seconds, top)
        return models.Allocations(
            traced_seconds=report.traced_seconds,
            total_bytes=report.total_bytes,
            top=[
                models.AllocationSite(where=a.where, size_bytes=a.size_bytes, count=a.count)
                for a in report.top
            ],
        )

    return router


def _jsonable(user: Any) -> Any:
    """A user as JSON: a hook may set any object; what JSON cannot carry becomes its str()."""
    if user is None or isinstance(user, str | int | float | bool):
        return user
    try:
        msgspec.json.encode(user)
    except (msgspec.EncodeError, TypeError, OverflowError):
        return str(user)
    return user


def _page(keys: list[str], cursor: str | None, limit: int) -> tuple[list[str], str | None]:
    """Of sorted ``keys``, the ``limit`` after ``cursor``, and the next page's cursor (None
    on the last page). A cursor is a key, so a page stays right when items come and go."""
    start = 0 if cursor is None else bisect.bisect_right(keys, cursor)
    page = keys[start : start + limit]
    more = start + limit < len(keys)
    return page, page[-1] if more and page else None
