"""The management API's connection routes: list, count and inspect this node's; close,
subscribe and unsubscribe any.

Reading comes from this node's registry; the actions are commands (``commands.py``) that go
through the view (the broker, so any node's connection), and 410 Gone is its answer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from fastapi import APIRouter, Query

from ..core.connection import Connection
from . import models
from .errors import ApiError, documented
from .params import CLOSE_CODES, CloseCodeParam, ConnectionId, page
from .view import running

if TYPE_CHECKING:
    from .commands import Commands
    from .view import NodeView


def add_connection_routes(router: APIRouter, view: NodeView, commands: Commands) -> None:
    """Add the ``/connections`` routes (reading, closing, subscribing) to ``router``."""

    def open_connection(connection_id: str) -> Connection:
        conn: Connection | None = running(view).registry.get(connection_id)
        if conn is None or conn.closing or not conn.accepted:
            raise ApiError(410, f"connection {connection_id!r} is gone")
        return conn

    def matching(user: str | None, channel: str | None) -> list[Connection]:
        n = running(view)
        if channel is not None:
            conns = list(n.channels.subscribers.get(channel, ()))
        else:
            conns = [c for c in n.registry if c.accepted and not c.closing]
        if user is not None:
            conns = [c for c in conns if c.user is not None and str(c.user) == user]
        return conns

    def info(conn: Connection) -> models.ConnectionInfo:
        n = running(view)
        return models.ConnectionInfo(
            id=conn.id,
            node=n.node_id,
            user=models.jsonable(conn.user),
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
        ids, next_cursor = page(sorted(conns), cursor, limit)
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
        description=f"Sends a close frame with `code` ({CLOSE_CODES}) and `reason`; a "
        "close frame holds 123 bytes of reason, so a longer one (in UTF-8) is cut there.",
        responses=documented(404, 410),
        tags=["connections"],
    )
    async def disconnect_connection(
        connection_id: ConnectionId,
        code: CloseCodeParam = 1000,
        reason: Annotated[str, Query(max_length=123)] = "closed by the operator",
    ) -> models.Closed:
        params = models.DisconnectConnectionParams(
            connection=connection_id, code=code, reason=reason
        )
        return await commands.disconnect_connection(params)

    @router.post(
        "/connections/{connection_id:connection_id}/subscribe",
        response_model=models.Reached,
        summary="Subscribe a connection to a channel",
        description="As if it had sent `subscribe` (the server may: no permission check; "
        "the subscription limit holds). 410 when no node holds the connection open.",
        responses=documented(403, 404, 410),
        tags=["connections"],
    )
    async def subscribe_connection(
        connection_id: ConnectionId, body: models.SubscribeRequest
    ) -> models.Reached:
        params = models.ConnectionChannelParams(connection=connection_id, channel=body.channel)
        return await commands.subscribe_connection(params)

    @router.post(
        "/connections/{connection_id:connection_id}/unsubscribe",
        response_model=models.Reached,
        summary="Unsubscribe a connection from a channel",
        responses=documented(404, 410),
        tags=["connections"],
    )
    async def unsubscribe_connection(
        connection_id: ConnectionId, body: models.SubscribeRequest
    ) -> models.Reached:
        params = models.ConnectionChannelParams(connection=connection_id, channel=body.channel)
        return await commands.unsubscribe_connection(params)
