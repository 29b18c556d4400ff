"""Channel permissions: roles, user-limited channels and channel tokens, per namespace."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pytest

from switchboard.core.connection import Connection
from switchboard.errors import RequestError
from switchboard.protocol.codes import ErrorCode
from switchboard.protocol.envelope import Envelope
from switchboard.security.acl import ChannelAccess
from switchboard.security.auth import Authenticator, AuthSettings

from ..core.fakes import FakeTransport
from .keys import SECRET, token


@dataclass(frozen=True)
class Permissions:
    subscribe_roles: Sequence[str] = ()
    publish_roles: Sequence[str] = ()
    presence_roles: Sequence[str] = ()
    user_limited: bool = False
    channel_token: bool = False


NAMESPACES = {
    "staff": Permissions(subscribe_roles=["admin"], publish_roles=["admin", "editor"]),
    "dm": Permissions(user_limited=True),
    "private": Permissions(channel_token=True),
    "": Permissions(),
}
AUTH = Authenticator(AuthSettings(secret=SECRET))


def access(auth: Authenticator | None = AUTH) -> ChannelAccess:
    return ChannelAccess(NAMESPACES.__getitem__, auth)


def conn(user: str | None = None, roles: Sequence[str] = ()) -> Connection:
    c = Connection("c-1", FakeTransport(), "test", 0.0)
    c.user, c.roles = user, frozenset(roles)
    return c


def subscribe(channel: str, channel_token: str | None = None) -> Envelope:
    return Envelope(type="subscribe", channel=channel, token=channel_token)


def refused(
    c: Connection,
    channel: str,
    action: str,
    msg: Envelope | None = None,
    acl: ChannelAccess | None = None,
) -> str:
    """The FORBIDDEN message of a refused request."""
    namespace = channel.partition(":")[0] if ":" in channel else ""
    with pytest.raises(RequestError) as info:
        (acl or access()).check(c, channel, namespace, action, msg or subscribe(channel))
    assert info.value.code is ErrorCode.FORBIDDEN
    return info.value.message


def allowed(c: Connection, channel: str, action: str, msg: Envelope | None = None) -> None:
    namespace = channel.partition(":")[0] if ":" in channel else ""
    access().check(c, channel, namespace, action, msg or subscribe(channel))


def test_roles_are_checked_per_action() -> None:
    editor = conn("ed", ["editor"])
    assert "needs one of the roles ['admin']" in refused(editor, "staff:news", "subscribe")
    allowed(editor, "staff:news", "publish")
    allowed(conn("root", ["admin", "x"]), "staff:news", "subscribe")
    assert "roles" in refused(conn("anon"), "staff:news", "publish")
    allowed(conn(), "staff:news", "presence")  # no presence roles configured: open


def test_a_user_limited_channel_is_open_to_the_listed_users_only() -> None:
    allowed(conn("ann"), "dm:chat#ann,bob", "subscribe")
    allowed(conn("bob"), "dm:chat#ann,bob", "publish")
    assert "not open to this user" in refused(conn("eve"), "dm:chat#ann,bob", "subscribe")
    assert "not open" in refused(conn(None), "dm:chat#ann,bob", "subscribe")
    # The users are after the last '#' (a channel name may hold more than one).
    allowed(conn("ann"), "dm:team#7#ann,bob", "subscribe")
    assert "not open" in refused(conn("7"), "dm:team#7#ann,bob", "subscribe")
    allowed(conn("eve"), "dm:lobby", "subscribe")  # no '#': not a user-limited name


def test_a_channel_token_grants_one_channel_to_one_user() -> None:
    ann = conn("ann")
    good = token("ann", channel="private:42")
    allowed(ann, "private:42", "subscribe", subscribe("private:42", good))
    assert "needs a token" in refused(ann, "private:42", "subscribe")
    other_channel = subscribe("private:43", good)
    assert "another channel" in refused(ann, "private:43", "subscribe", other_channel)
    for_bob = subscribe("private:42", token("bob", channel="private:42"))
    assert "another user" in refused(ann, "private:42", "subscribe", for_bob)
    expired = subscribe("private:42", token("ann", channel="private:42", expires_in=-3600))
    assert refused(ann, "private:42", "subscribe", expired) == "channel token: token expired"
    forged = subscribe("private:42", token("ann", key="x" * 64, channel="private:42"))
    assert refused(ann, "private:42", "subscribe", forged) == "channel token: invalid token"
    allowed(ann, "private:42", "publish")  # tokens guard subscriptions only


def test_channel_tokens_without_authentication_refuse_rather_than_allow() -> None:
    message = refused(
        conn("ann"),
        "private:42",
        "subscribe",
        subscribe("private:42", token("ann", channel="private:42")),
        acl=access(auth=None),
    )
    assert message == "channel tokens need authentication configured"


def test_a_refusal_never_repeats_the_token() -> None:
    secret = token("bob", channel="private:42")
    message = refused(conn("ann"), "private:42", "subscribe", subscribe("private:42", secret))
    assert secret not in message
