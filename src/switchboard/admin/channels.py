"""The management API's channel routes: this node's channels, a channel's presence and history."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import msgspec
from fastapi import APIRouter, Query

from ..protocol.codecs import DataFormat, convert_data
from . import models
from .errors import documented
from .params import ChannelName, page
from .view import running

if TYPE_CHECKING:
    from .view import NodeView


def add_channel_routes(router: APIRouter, view: NodeView) -> None:
    """Add the ``/channels`` reading routes to ``router``."""

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
        subscribers = running(view).channels.subscribers
        names = sorted(c for c, conns in subscribers.items() if conns and c.startswith(prefix))
        found, next_cursor = page(names, cursor, limit)
        return models.ChannelPage(
            items=[models.ChannelInfo(channel=c, subscribers=len(subscribers[c])) for c in found],
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
        members = await running(view).broker.presence(channel)
        return models.Presence(
            channel=channel,
            members=[
                models.PresenceMember(connection=cid, user=models.jsonable(member.get("user")))
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
        position, publications = await running(view).broker.history(channel, limit)
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
