"""The management API's actions: what each sending or closing endpoint does, and the batch.

Each command takes its parameters (a model of ``models.py``) and answers its response model,
or raises :class:`~.errors.ApiError`. The endpoints build the parameters from their path,
query and body; ``POST /api/v1/batch`` from each command's ``params``: one implementation
for both. Everything goes through the view (the broker, so every node), whose answer
decides: a connection it did not reach is 410 Gone, a user it reached on no connection 404.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterator
from typing import TYPE_CHECKING, Any

import msgspec

from ..errors import BrokerUnavailable, RequestError
from ..protocol.codes import ErrorCode
from ..protocol.envelope import encode
from . import models
from .errors import ApiError
from .idempotency import fingerprint, once
from .params import checked_close_code
from .view import running, user_index

if TYPE_CHECKING:
    from ..broker.base import Broker
    from .view import LocalNode, NodeView

#: The HTTP status of a request error a node answers (a bad channel, a limit).
_STATUS_OF = {
    ErrorCode.INVALID_MESSAGE_FORMAT: 422,
    ErrorCode.FORBIDDEN: 403,
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.MESSAGE_TOO_LARGE: 413,
    ErrorCode.RATE_LIMIT_EXCEEDED: 429,
    ErrorCode.UNAVAILABLE: 503,
}


@contextlib.contextmanager
def translated() -> Iterator[None]:
    """A node's ``RequestError`` as the API's error (its code kept, INVALID_REQUEST apart)."""
    try:
        yield
    except RequestError as exc:
        status = _STATUS_OF.get(exc.code, 400)
        code = "INVALID_REQUEST" if status == 422 else str(exc.code)
        raise ApiError(status, exc.message, code) from None


class Commands:
    """The actions of the management API on ``view``'s node; see the module docstring."""

    def __init__(self, view: NodeView) -> None:
        self.view = view

    # --- publications ----------------------------------------------------------------------------

    async def publish(
        self, params: models.PublishParams, traceparent: str | None = None
    ) -> models.Published:
        return (await self.publish_once(params, traceparent))[0]

    async def publish_once(
        self, params: models.PublishParams, traceparent: str | None = None
    ) -> tuple[models.Published, bool]:
        """The publication, and whether it is the answer an earlier request with the same
        idempotency key got (then nothing was published)."""
        channel, data = params.channel, self._encoded(params.data)

        async def publish() -> models.Published:
            with self._traced("publish", traceparent, **{"switchboard.channel": channel}):
                position = await self._publish(channel, data)
            return models.Published(channel=channel, offset=position.offset, epoch=position.epoch)

        key = params.idempotency_key
        if key is None:
            return await publish(), False
        request = fingerprint("publish", channel, data)
        return await once(self._claims(), key, request, publish, models.Published)

    async def publish_many(
        self, params: models.PublishManyRequest, traceparent: str | None = None
    ) -> models.PublishedMany:
        return (await self.publish_many_once(params, traceparent))[0]

    async def publish_many_once(
        self, params: models.PublishManyRequest, traceparent: str | None = None
    ) -> tuple[models.PublishedMany, bool]:
        """Each channel's publication or error, in the order of ``channels``."""
        channels, data = params.channels, self._encoded(params.data)

        async def one(channel: str) -> models.ChannelPublished:
            try:
                position = await self._publish(channel, data)
            except ApiError as exc:
                failed = models.ChannelError(status=exc.status, code=exc.code, message=exc.message)
            except BrokerUnavailable as exc:
                message = f"broker unavailable: {exc}"
                failed = models.ChannelError(status=503, code="UNAVAILABLE", message=message)
            else:
                return models.ChannelPublished(
                    channel=channel, offset=position.offset, epoch=position.epoch
                )
            return models.ChannelPublished(channel=channel, offset=None, epoch=None, error=failed)

        async def publish() -> models.PublishedMany:
            with self._traced("publish_many", traceparent, **{"switchboard.channels": channels}):
                results = await asyncio.gather(*(one(channel) for channel in channels))
            return models.PublishedMany(results=list(results))

        key = params.idempotency_key
        if key is None:
            return await publish(), False
        request = fingerprint("publish_many", *channels, b"\n", data)
        return await once(self._claims(), key, request, publish, models.PublishedMany)

    # --- direct messages -------------------------------------------------------------------------

    async def send_to_connection(
        self, params: models.SendToConnectionParams, traceparent: str | None = None
    ) -> models.Delivered:
        running(self.view)
        conn_id, data = params.connection, params.data
        self._encoded(data)
        attributes = {"switchboard.connection_id": conn_id}
        with self._traced("send_to_connection", traceparent, **attributes):
            delivered = await self._deliver(
                lambda: self.view.send_to_connection(conn_id, data), **attributes
            )
        if not delivered:
            raise ApiError(410, f"connection {conn_id!r} is gone")
        return models.Delivered(delivered=1)

    async def send_to_user(
        self, params: models.SendToUserParams, traceparent: str | None = None
    ) -> models.Delivered:
        self._encoded(params.data)
        user = params.user
        with self._traced("send_to_user", traceparent, **{"switchboard.user": user}):
            key = user_key(running(self.view), user)
            delivered = await self._deliver(
                lambda: self.view.send_to_user(key, params.data), **{"switchboard.user": user}
            )
        if not delivered:
            raise ApiError(404, f"no open connection of user {user!r}")
        return models.Delivered(delivered=delivered)

    # --- closing ---------------------------------------------------------------------------------

    async def disconnect_connection(
        self, params: models.DisconnectConnectionParams, traceparent: str | None = None
    ) -> models.Closed:
        code = checked_close_code(params.code)
        running(self.view)
        if not await self.view.disconnect(params.connection, code, params.reason):
            raise ApiError(410, f"connection {params.connection!r} is gone")
        return models.Closed(closed=True, code=code)

    async def disconnect_user(
        self, params: models.DisconnectUserParams, traceparent: str | None = None
    ) -> models.Disconnected:
        code = checked_close_code(params.code)
        key = user_key(running(self.view), params.user)
        closed = await self.view.disconnect_user(key, code, params.reason)
        if not closed:
            raise ApiError(404, f"no open connection of user {params.user!r}")
        return models.Disconnected(disconnected=closed, code=code)

    # --- subscriptions ---------------------------------------------------------------------------

    async def subscribe_user(
        self, params: models.UserChannelParams, traceparent: str | None = None
    ) -> models.Reached:
        return await self._of_user(self.view.subscribe, params)

    async def unsubscribe_user(
        self, params: models.UserChannelParams, traceparent: str | None = None
    ) -> models.Reached:
        return await self._of_user(self.view.unsubscribe, params)

    async def subscribe_connection(
        self, params: models.ConnectionChannelParams, traceparent: str | None = None
    ) -> models.Reached:
        return await self._of_connection(self.view.subscribe, params)

    async def unsubscribe_connection(
        self, params: models.ConnectionChannelParams, traceparent: str | None = None
    ) -> models.Reached:
        return await self._of_connection(self.view.unsubscribe, params)

    async def _of_user(
        self, action: Callable[..., Awaitable[int]], params: models.UserChannelParams
    ) -> models.Reached:
        key = user_key(running(self.view), params.user)
        with translated():
            reached = await action(params.channel, user=key)
        if not reached:
            raise ApiError(404, f"no open connection of user {params.user!r}")
        return models.Reached(channel=params.channel, connections=reached)

    async def _of_connection(
        self, action: Callable[..., Awaitable[int]], params: models.ConnectionChannelParams
    ) -> models.Reached:
        running(self.view)
        with translated():
            reached = await action(params.channel, connection=params.connection)
        if not reached:
            raise ApiError(410, f"connection {params.connection!r} is gone")
        return models.Reached(channel=params.channel, connections=reached)

    # --- shared ----------------------------------------------------------------------------------

    async def _publish(self, channel: str, data: bytes) -> Any:
        # Not view.publish: the answer carries the stream's epoch, not only the offset.
        with translated():
            return await running(self.view).channels.publish_from_server(channel, data)

    def _claims(self) -> Broker:
        return running(self.view).broker

    def _encoded(self, data: Any) -> bytes:
        """``data`` as JSON; 422 when it cannot be, 413 past ``max_message_size``."""
        try:
            encoded = encode(data)
        except (msgspec.EncodeError, OverflowError, TypeError) as exc:
            raise ApiError(422, f"data cannot be encoded: {exc}") from None
        limit = self.view.settings.max_message_size
        if len(encoded) > limit:
            raise ApiError(413, f"data is {len(encoded)} bytes; max_message_size is {limit}")
        return encoded

    @contextlib.contextmanager
    def _traced(self, operation: str, traceparent: str | None, **attributes: Any) -> Iterator[None]:
        tracing = self.view.tracing
        if tracing is None:
            yield
            return
        with tracing.api_call(operation, traceparent, **attributes):
            yield

    async def _deliver(self, send: Callable[[], Awaitable[Any]], **attributes: Any) -> int:
        tracing = self.view.tracing
        if tracing is None:
            return int(await send())
        with tracing.delivery(**attributes) as span:
            delivered = int(await send())
            span.set_attribute("switchboard.delivered", delivered)
            return delivered


def user_key(node: LocalNode, user: str) -> Any:
    """The user as the node indexes it (a JWT ``sub`` is a string; a hook may set ints), or
    ``user`` itself when no connection of it is on this node (another node may have one)."""
    users = user_index(node)
    if user in users:
        return user
    return next((key for key in users if str(key) == user), user)
