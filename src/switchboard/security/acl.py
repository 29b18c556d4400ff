"""Channel permissions: who may subscribe, publish and see presence, per namespace.

Three rules, each switched on per namespace (``[namespaces.<name>]`` in the TOML file):

- roles: ``subscribe_roles``, ``publish_roles``, ``presence_roles``; the connection needs at
  least one of the listed roles (from its token's roles claim or an ``on_connect`` hook);
- user-limited channels (``user_limited``): a channel named ``chat:dm#ann,bob`` is open to
  the users ``ann`` and ``bob`` only (the part after the last ``#``, comma-separated);
- channel tokens (``channel_token``): ``subscribe`` must carry ``token``, a JWT signed with the
  server's key whose ``channel`` claim is the channel and whose ``sub`` is the connection's
  user. An application server issues them to grant one private channel at a time.

A refusal is a ``FORBIDDEN`` error for that request; the connection stays open.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from enum import StrEnum
from typing import Protocol

from ..core.connection import Connection
from ..errors import AuthError, RequestError
from ..protocol.codes import ErrorCode
from ..protocol.envelope import Envelope
from .auth import Authenticator


class Action(StrEnum):
    SUBSCRIBE = "subscribe"
    PUBLISH = "publish"
    PRESENCE = "presence"


class NamespacePermissions(Protocol):
    """What a namespace allows (``config.NamespaceOptions`` is one): read here, not imported,
    so security sits below the settings."""

    @property
    def subscribe_roles(self) -> Sequence[str]: ...
    @property
    def publish_roles(self) -> Sequence[str]: ...
    @property
    def presence_roles(self) -> Sequence[str]: ...
    @property
    def user_limited(self) -> bool: ...
    @property
    def channel_token(self) -> bool: ...


class ChannelAccess:
    """Checks a channel request against its namespace's permissions."""

    def __init__(
        self, namespace: Callable[[str], NamespacePermissions], auth: Authenticator | None
    ) -> None:
        self._namespace = namespace
        self._auth = auth

    def check(
        self, conn: Connection, channel: str, namespace: str, action: str, msg: Envelope
    ) -> None:
        """Raise ``RequestError(FORBIDDEN)`` unless ``conn`` may do ``action`` on ``channel``."""
        options = self._namespace(namespace)
        roles = {
            Action.SUBSCRIBE: options.subscribe_roles,
            Action.PUBLISH: options.publish_roles,
            Action.PRESENCE: options.presence_roles,
        }[Action(action)]
        if roles and conn.roles.isdisjoint(roles):
            raise RequestError(
                ErrorCode.FORBIDDEN,
                f"{action} on {channel!r} needs one of the roles {sorted(roles)}",
            )
        if options.user_limited and "#" in channel:
            allowed = channel.rsplit("#", 1)[1].split(",")
            if conn.user is None or str(conn.user) not in allowed:
                raise RequestError(ErrorCode.FORBIDDEN, f"{channel!r} is not open to this user")
        if options.channel_token and action == Action.SUBSCRIBE:
            self._check_token(conn, channel, msg)

    def _check_token(self, conn: Connection, channel: str, msg: Envelope) -> None:
        if self._auth is None:
            raise RequestError(ErrorCode.FORBIDDEN, "channel tokens need authentication configured")
        if not msg.token:
            raise RequestError(ErrorCode.FORBIDDEN, f"subscribing to {channel!r} needs a token")
        try:
            identity = self._auth.verify(msg.token)
        except AuthError as exc:
            raise RequestError(ErrorCode.FORBIDDEN, f"channel token: {exc.reason}") from None
        if identity.claims.get("channel") != channel:
            raise RequestError(ErrorCode.FORBIDDEN, "the token is for another channel")
        if identity.user != conn.user:
            raise RequestError(ErrorCode.FORBIDDEN, "the token is for another user")
