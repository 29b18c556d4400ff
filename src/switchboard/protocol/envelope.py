"""The v1 envelope: decoding client messages and the server messages (JSON shown here;
``codecs.py`` has the other encodings of the same structures).

Client messages are objects with a string ``type``, an optional request ``id``
(string or integer) and an optional ``data`` of any JSON value. ``data`` is
kept as raw JSON bytes (``msgspec.Raw``): an echo or broadcast puts the very
bytes it received into its reply, never decoding and re-encoding them.
"""

from __future__ import annotations

from typing import Any

import msgspec

from ..errors import EnvelopeError
from .codes import ErrorCode

RequestId = str | int | None
NULL = msgspec.Raw(b"null")
MSGPACK_NULL = msgspec.Raw(b"\xc0")


class Position(msgspec.Struct, frozen=True):
    """Where a client last was in a channel: ``recover_from`` of a ``subscribe``."""

    offset: int
    epoch: str


class Target(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The ``to`` of a ``send``: every connection of a user, or one connection."""

    user: str | None = None
    connection: str | None = None


class Envelope(msgspec.Struct, frozen=True):
    """A decoded client message. Unknown fields are ignored."""

    type: str
    id: RequestId = None
    data: msgspec.Raw = NULL
    channel: str | None = None
    to: Target | None = None
    recover_from: Position | None = None
    #: A fresh credential (``refresh``).
    token: str | None = None
    #: W3C trace context of the request, for tracing (``00-<trace id>-<span id>-<flags>``).
    traceparent: str | None = None
    #: A ``publish`` whose sender does not get the publication back (it still gets its ack).
    skip_self: bool = False

    def value(self) -> Any:
        """``data`` decoded to Python, whatever the connection's codec; the raw bytes stay
        in ``data``."""
        return msgspec.json.decode(self.data)

    def json(self) -> Any:
        """The same as :meth:`value` (its first name, kept)."""
        return self.value()


class MsgpackEnvelope(Envelope, frozen=True):
    """An envelope whose ``data`` is raw MessagePack (``v1.binary`` and ``v2.proto``)."""

    data: msgspec.Raw = MSGPACK_NULL

    def value(self) -> Any:
        return msgspec.msgpack.decode(self.data)


class _IdOnly(msgspec.Struct):
    id: RequestId = None


envelope_decoder = msgspec.json.Decoder(Envelope)
"""Raises ``msgspec.DecodeError`` on bad input; :func:`decode_envelope` explains it."""
_id_decoder = msgspec.json.Decoder(_IdOnly)


def decode_envelope(payload: bytes) -> Envelope:
    """Decode one text message; raise :class:`EnvelopeError` with the client-facing code."""
    try:
        return envelope_decoder.decode(payload)
    except msgspec.ValidationError as exc:
        raise EnvelopeError(
            ErrorCode.INVALID_MESSAGE_FORMAT,
            f"message must be an object with a string 'type': {exc}",
            _salvage_id(payload),
        ) from None
    except msgspec.DecodeError as exc:
        raise EnvelopeError(ErrorCode.INVALID_JSON, f"invalid JSON: {exc}") from None


def _salvage_id(payload: bytes) -> RequestId:
    """Best effort: the request id of a message that failed validation, for correlation."""
    try:
        return _id_decoder.decode(payload).id
    except msgspec.DecodeError:
        return None


# --- server messages -------------------------------------------------------------------------


class Welcome(msgspec.Struct, tag="welcome", tag_field="type"):
    connection_id: str
    node: str
    heartbeat: float


class EchoReply(msgspec.Struct, tag="echo_reply", tag_field="type", omit_defaults=True):
    data: msgspec.Raw
    id: RequestId = None


class Broadcast(msgspec.Struct, tag="broadcast", tag_field="type"):
    data: msgspec.Raw = NULL


class Pong(msgspec.Struct, tag="pong", tag_field="type", omit_defaults=True):
    id: RequestId = None


class Ack(msgspec.Struct, tag="ack", tag_field="type", omit_defaults=True):
    """Success of a request that carried an ``id``; a subscribe's also carries the position."""

    id: RequestId = None
    channel: str | None = None
    offset: int | None = None
    epoch: str | None = None
    recovered: bool | None = None


class ChannelMessage(msgspec.Struct, tag="message", tag_field="type"):
    channel: str
    offset: int
    data: msgspec.Raw


class Member(msgspec.Struct):
    connection: str
    user: Any = None


class PresenceReply(msgspec.Struct, tag="presence", tag_field="type", omit_defaults=True):
    channel: str
    members: list[Member]
    id: RequestId = None


class Join(msgspec.Struct, tag="join", tag_field="type"):
    channel: str
    member: Member


class Leave(msgspec.Struct, tag="leave", tag_field="type"):
    channel: str
    member: Member


class Direct(msgspec.Struct, tag="direct", tag_field="type"):
    """A ``send`` delivered: who sent it and what."""

    sender: Member = msgspec.field(name="from")
    data: msgspec.Raw = NULL


class Error(msgspec.Struct, tag="error", tag_field="type", omit_defaults=True):
    code: str
    message: str
    id: RequestId = None


_encoder = msgspec.json.Encoder()
encode = _encoder.encode


def encode_error(code: ErrorCode, message: str, request_id: RequestId = None) -> bytes:
    """The JSON bytes of an ``error`` frame."""
    return encode(Error(code=code.value, message=message, id=request_id))
