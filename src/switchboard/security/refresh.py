"""The ``refresh`` route: a connection swaps its expiring token for a fresh one in-band.

``{"type":"refresh","token":"<jwt>","id":1}`` verifies the new token exactly like a
handshake's; it must name the same user. On success the connection's roles follow the new
token, its expiry timer moves to the new ``exp`` and the client gets an ``ack``. A refused
token is an ``UNAUTHORIZED`` (or ``FORBIDDEN``) error and changes nothing: the connection
is still closed 4410 when the old token expires.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..core.connection import Connection
from ..core.expiry import CredentialExpiry
from ..core.hub import Hub
from ..core.router import Router
from ..errors import AuthError, RequestError
from ..protocol.codes import ErrorCode
from ..protocol.envelope import Envelope
from .auth import Authenticator


def install_refresh(
    router: Router,
    hub: Hub,
    expiry: CredentialExpiry,
    auth: Authenticator,
    set_user: Callable[[Connection, Any, frozenset[str]], None],
) -> None:
    """Register the ``refresh`` route (an ordinary, replaceable route). ``set_user``
    (``Node.set_user``) makes the token's user and roles the connection's, so an anonymous
    connection that refreshes into a user is reachable as that user."""

    def refresh(conn: Connection, msg: Envelope) -> None:
        if not msg.token:
            raise RequestError(ErrorCode.INVALID_MESSAGE_FORMAT, "'token' is required")
        try:
            identity = auth.verify(msg.token)
        except AuthError as exc:
            raise RequestError(ErrorCode.UNAUTHORIZED, exc.reason) from None
        if conn.user is not None and identity.user != conn.user:
            raise RequestError(ErrorCode.FORBIDDEN, "the token is for another user")
        set_user(conn, identity.user, identity.roles)
        if identity.expires_at is not None:
            expiry.set(conn, identity.expires_at)
        hub.ack(conn, msg.id)

    router.add("refresh", refresh)
