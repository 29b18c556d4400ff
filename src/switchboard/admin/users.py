"""The management API's user routes: close, subscribe or unsubscribe every connection of a
user, on every node (sending to a user is in ``sending.py``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from fastapi import APIRouter, Query

from . import models
from .errors import documented
from .params import CLOSE_CODES, CloseCodeParam

if TYPE_CHECKING:
    from .commands import Commands

_NO_USER = documented(404, meaning={404: "No node holds an open connection of the user."})


def add_user_routes(router: APIRouter, commands: Commands) -> None:
    """Add the ``/users/{user}`` actions to ``router``."""

    @router.delete(
        "/users/{user}/connections",
        response_model=models.Disconnected,
        summary="Close every connection of a user",
        description=f"On every node, with `code` ({CLOSE_CODES}) and `reason` (cut at 123 "
        "bytes of UTF-8).",
        responses=_NO_USER,
        tags=["users"],
    )
    async def disconnect_user(
        user: str,
        code: CloseCodeParam = 1000,
        reason: Annotated[str, Query(max_length=123)] = "closed by the operator",
    ) -> models.Disconnected:
        params = models.DisconnectUserParams(user=user, code=code, reason=reason)
        return await commands.disconnect_user(params)

    @router.post(
        "/users/{user}/subscribe",
        response_model=models.Reached,
        summary="Subscribe every connection of a user to a channel",
        description="On every node, as if each had sent `subscribe` (no permission check; "
        "the subscription limit holds).",
        responses={**_NO_USER, **documented(403)},
        tags=["users"],
    )
    async def subscribe_user(user: str, body: models.SubscribeRequest) -> models.Reached:
        params = models.UserChannelParams(user=user, channel=body.channel)
        return await commands.subscribe_user(params)

    @router.post(
        "/users/{user}/unsubscribe",
        response_model=models.Reached,
        summary="Unsubscribe every connection of a user from a channel",
        responses=_NO_USER,
        tags=["users"],
    )
    async def unsubscribe_user(user: str, body: models.SubscribeRequest) -> models.Reached:
        params = models.UserChannelParams(user=user, channel=body.channel)
        return await commands.unsubscribe_user(params)
