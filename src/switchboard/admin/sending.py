"""The management API's sending routes: publish to one or many channels, send to a connection
or a user. Each is one command of ``commands.py``, which the batch runs too."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, TypeVar

from fastapi import APIRouter, Body, Response
from pydantic import BaseModel

from . import models
from .errors import documented
from .params import ChannelName, ConnectionId, IdempotencyKeyHeader, Traceparent

if TYPE_CHECKING:
    from .commands import Commands

_IDEMPOTENT = documented(
    409, 501, meaning={409: "A request with this idempotency key is still running."}
)
_REPLAYED = "Idempotent-Replayed"


M = TypeVar("M", bound=BaseModel)


def _answered(response: Response, outcome: tuple[M, bool]) -> M:
    """A publish's answer; a replayed one (an idempotency key's) says so in a header."""
    answer, replayed = outcome
    if replayed:
        response.headers[_REPLAYED] = "true"
    return answer


def add_sending_routes(router: APIRouter, commands: Commands) -> None:
    """Add the publish and send routes to ``router``."""

    @router.post(
        "/channels/{channel:path}/publish",
        response_model=models.Published,
        summary="Publish to a channel",
        description="With an idempotency key (the `Idempotency-Key` header or "
        "`idempotency_key`), a retry within 5 minutes answers the first publication (and the "
        f"`{_REPLAYED}: true` header) instead of publishing again; the same key with another "
        "channel or data gets 422 `IDEMPOTENCY_KEY_REUSED`.",
        responses={**documented(404, 413), **_IDEMPOTENT},
        tags=["channels"],
    )
    async def publish(
        channel: ChannelName,
        body: models.PublishRequest,
        response: Response,
        idempotency_key: IdempotencyKeyHeader = None,
        traceparent: Traceparent = None,
    ) -> models.Published:
        params = models.PublishParams(
            channel=channel, data=body.data, idempotency_key=idempotency_key or body.idempotency_key
        )
        return _answered(response, await commands.publish_once(params, traceparent))

    @router.post(
        "/publish",
        response_model=models.PublishedMany,
        summary="Publish to several channels",
        description=f"The same data to each of 1 to {models.MAX_CHANNELS} channels; each "
        "answers its offset and epoch, or its own error (the others are still published). "
        "An idempotency key works as for one channel.",
        responses={**documented(413), **_IDEMPOTENT},
        tags=["channels"],
    )
    async def publish_many(
        body: models.PublishManyRequest,
        response: Response,
        idempotency_key: IdempotencyKeyHeader = None,
        traceparent: Traceparent = None,
    ) -> models.PublishedMany:
        if idempotency_key is not None:
            body = body.model_copy(update={"idempotency_key": idempotency_key})
        return _answered(response, await commands.publish_many_once(body, traceparent))

    @router.post(
        "/connections/{connection_id:connection_id}",
        response_model=models.Delivered,
        summary="Send to one connection",
        description='The body is `{"data": <any JSON value>}`; the client gets '
        '`{"type":"direct","from":{"connection":"server","user":null},"data":<data>}`. '
        "Deprecated, for one release: any other body is sent as the data itself. "
        "410 when no node holds the connection open.",
        responses=documented(404, 410, 413),
        tags=["connections"],
    )
    async def send_to_connection(
        connection_id: ConnectionId,
        body: Annotated[
            Any, Body(description='`{"data": ...}` (any other JSON value: deprecated).')
        ],
        traceparent: Traceparent = None,
    ) -> models.Delivered:
        data = body["data"] if isinstance(body, dict) and body.keys() == {"data"} else body
        params = models.SendToConnectionParams(connection=connection_id, data=data)
        return await commands.send_to_connection(params, traceparent)

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
        params = models.SendToUserParams(user=user, data=body.data)
        return await commands.send_to_user(params, traceparent)
