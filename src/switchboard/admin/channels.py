"""The management API's channel routes: this node's channels, a channel's presence and history."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import msgspec
from fastapi import APIRouter, Query

from ..protocol.codecs import DataFormat, convert_data
from . import models
from .errors import ApiError, documented
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
    async def get_presence(channel: ChannelName) -> models.Presence:
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
        description="Without `since`: the newest `limit`, oldest first (with `reverse`, "
        "newest first). With `since`: those after that offset, oldest first (with `reverse`: "
        "before it, newest first); `since=0` starts at the oldest kept. Pass `next_since` "
        "back as `since`, with the answer's `epoch`, for the next page: 409 "
        "`EPOCH_MISMATCH` when the channel's epoch is no longer that one (its history "
        "restarted: page again from the start).",
        responses=documented(
            404, 409, meaning={409: "`epoch` is not the channel's: its history restarted."}
        ),
        tags=["channels"],
    )
    async def get_history(
        channel: ChannelName,
        limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
        since: Annotated[
            int | None, Query(ge=0, description="Page from this offset, exclusive.")
        ] = None,
        epoch: Annotated[
            str | None,
            Query(max_length=64, description="The epoch `since` belongs to: checked."),
        ] = None,
        reverse: Annotated[bool, Query(description="Newest first, going back.")] = False,
    ) -> models.History:
        broker = running(view).broker
        paging = since is not None or reverse
        # One more than asked tells whether there is a next page.
        asked = limit + 1 if paging else limit
        position, publications = await broker.history_page(
            channel, asked, since=since, reverse=reverse
        )
        if epoch is not None and epoch != position.epoch:
            raise ApiError(
                409,
                f"the channel's epoch is {position.epoch!r}, not {epoch!r}: the history "
                "paged in that epoch is gone",
                "EPOCH_MISMATCH",
            )
        found = publications[:limit]
        more = paging and len(publications) > limit
        return models.History(
            channel=channel,
            offset=position.offset,
            epoch=position.epoch,
            publications=[
                models.HistoryItem(
                    offset=p.offset,
                    data=msgspec.json.decode(convert_data(p.data, p.data_format, DataFormat.JSON)),
                )
                for p in found
            ],
            next_since=found[-1].offset if more else None,
        )
