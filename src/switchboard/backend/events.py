"""The JSON event Switchboard POSTs to a backend, and the answers it reads back.

One event shape for every route key (``docs/integration.md`` has the schema)::

    {"route_key": "chat", "request_id": "9f...", "request_time": 1767225600.123,
     "connection_id": "c-...", "user": "u1", "claims": {...}, "remote_address": "1.2.3.4:5",
     "message_type": "chat", "message_id": "7", "body": <the message's data>}

``headers`` is there on ``$connect`` only, ``close_code`` on ``$disconnect`` only, and
``body``, ``message_type`` and ``message_id`` on message routes only. ``body`` is the
message's ``data`` (not the whole envelope): for a JSON client its raw bytes are copied,
never decoded and encoded again.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

import msgspec

from ..core.connection import HANDSHAKE_KEY, Connection
from ..protocol.envelope import Envelope, RequestId


class BackendEvent(msgspec.Struct, omit_defaults=True):
    """What a backend receives, as JSON."""

    route_key: str
    request_id: str
    #: Unix time, in seconds, at which Switchboard made the request.
    request_time: float
    connection_id: str
    remote_address: str
    user: Any = None
    #: The token's claims (authentication on), else absent.
    claims: dict[str, Any] | None = None
    #: ``$connect``: the allow-listed handshake headers, names in lower case.
    headers: dict[str, str] | None = None
    #: ``$disconnect``: the close code.
    close_code: int | None = None
    message_type: str | None = None
    message_id: RequestId = None
    body: msgspec.Raw | None = None


class ConnectAnswer(msgspec.Struct):
    """What a 2xx answer to ``$connect`` may say (every key optional; unknown ones ignored)."""

    #: Who the connection is from now on (``app.set_user``).
    user: Any = None
    #: Its roles, for routes declared with ``roles=``.
    roles: list[str] | None = None
    #: Merged into ``conn.state``, for the application's own routes.
    state: dict[str, Any] | None = None
    #: Channels the connection is subscribed to, right after its ``welcome``.
    channels: list[str] = msgspec.field(default_factory=list)


class ErrorAnswer(msgspec.Struct):
    """The optional body of a refusal: a ``message`` for the error frame, a ``reason`` for
    the close frame of a refused ``$connect``."""

    message: str | None = None
    reason: str | None = None


_encoder = msgspec.json.Encoder(enc_hook=str)  # a user object that is not JSON: its str()
connect_answer = msgspec.json.Decoder(ConnectAnswer)
error_answer = msgspec.json.Decoder(ErrorAnswer)


def encode_event(event: BackendEvent) -> bytes:
    return _encoder.encode(event)


def take_handshake(conn: Connection) -> tuple[dict[str, str], dict[str, Any] | None]:
    """The handshake headers and token claims the transport left for ``$connect`` (empty
    when it left none), forgetting them: they are not kept for the connection's life."""
    found = conn.state.pop(HANDSHAKE_KEY, None)
    if not isinstance(found, Mapping):
        return {}, None
    headers = found.get("headers") or {}
    claims = found.get("claims")
    return (
        {str(k): str(v) for k, v in headers.items()},
        dict(claims) if isinstance(claims, Mapping) and claims else None,
    )


def forwarded(headers: Mapping[str, str], allowed: Iterable[str]) -> dict[str, str]:
    """The headers named in the allow-list ``allowed`` (lower-case names), and no other:
    a credential reaches the backend only if the operator lists its header."""
    names = frozenset(allowed)
    return {k.lower(): v for k, v in headers.items() if k.lower() in names}


def _base(route_key: str, conn: Connection) -> dict[str, Any]:
    return {
        "route_key": route_key,
        "request_id": uuid.uuid4().hex,
        "request_time": round(time.time(), 3),
        "connection_id": conn.id,
        "remote_address": conn.remote,
        "user": conn.user,
    }


def connect_event(
    conn: Connection, headers: dict[str, str], claims: dict[str, Any] | None
) -> BackendEvent:
    return BackendEvent(**_base("$connect", conn), claims=claims, headers=headers)


def disconnect_event(conn: Connection, code: int, claims: dict[str, Any] | None) -> BackendEvent:
    return BackendEvent(**_base("$disconnect", conn), claims=claims, close_code=code)


def message_event(
    route_key: str, conn: Connection, msg: Envelope, claims: dict[str, Any] | None
) -> BackendEvent:
    # A JSON client's data is copied as it came; MessagePack or protobuf is decoded first.
    body = msg.data if type(msg) is Envelope else msgspec.Raw(_encoder.encode(msg.value()))
    return BackendEvent(
        **_base(route_key, conn),
        claims=claims,
        message_type=msg.type,
        message_id=msg.id,
        body=body,
    )
