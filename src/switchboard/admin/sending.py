"""The management API's sending routes: publish to a channel, send to a connection or a user.

Sends go through the view (the broker, so they reach every node) and its answer decides:
a connection it did not reach is 410 Gone, a user it reached on no connection 404.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable, Iterator
from typing import TYPE_CHECKING, Annotated, Any

import msgspec
from fastapi import APIRouter, Body

from ..protocol.envelope import encode
from . import models
from .errors import ApiError, documented
from .params import ChannelName, ConnectionId, Traceparent
from .view import running, user_index

if TYPE_CHECKING:
    from .view import LocalNode, NodeView


def add_sending_routes(router: APIRouter, view: NodeView) -> None:
    """Add the publish and send routes to ``router``."""

    def checked_size(data: Any) -> None:
        try:
            size = len(encode(data))
        except (msgspec.EncodeError, OverflowError, TypeError) as exc:
            raise ApiError(422, f"data cannot be encoded: {exc}") from None
        limit = view.settings.max_message_size
        if size > limit:
            raise ApiError(413, f"data is {size} bytes; max_message_size is {limit}")

    @contextlib.contextmanager
    def traced(operation: str, traceparent: str | None, **attributes: Any) -> Iterator[None]:
        tracing = view.tracing
        if tracing is None:
            yield
            return
        with tracing.api_call(operation, traceparent, **attributes):
            yield

    async def deliver(send: Callable[[], Awaitable[Any]], **attributes: Any) -> int:
        tracing = view.tracing
        if tracing is None:
            return int(await send())
        with tracing.delivery(**attributes) as span:
            delivered = int(await send())
            span.set_attribute("switchboard.delivered", delivered)
            return delivered

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
            # Not view.publish: the answer carries the stream's epoch, not only the offset.
            channels = running(view).channels
            position = await channels.publish_from_server(channel, encode(body.data))
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
        running(view)
        checked_size(data)
        with traced(
            "send_to_connection", traceparent, **{"switchboard.connection_id": connection_id}
        ):
            delivered = await deliver(
                lambda: view.send_to_connection(connection_id, data),
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
            key = user_key(running(view), user)
            delivered = await deliver(
                lambda: view.send_to_user(key, body.data), **{"switchboard.user": user}
            )
        if not delivered:
            raise ApiError(404, f"no open connection of user {user!r} on this node")
        return models.Delivered(delivered=delivered)


def user_key(node: LocalNode, user: str) -> Any:
    """The user as the node indexes it (a JWT ``sub`` is a string; a hook may set ints), or
    ``user`` itself when no connection of it is on this node (another node may have one)."""
    users = user_index(node)
    if user in users:
        return user
    return next((key for key in users if str(key) == user), user)
