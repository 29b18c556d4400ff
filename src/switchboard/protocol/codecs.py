"""Codecs: how each subprotocol turns a client message into an envelope and back.

``v1.json`` (text frames) and ``v1.binary`` (MessagePack, binary frames) share one envelope
and differ only in encoding; ``v2.proto`` (Protocol Buffers) lives in ``proto.py``. A
message's ``data`` stays in its sender's *data format* (raw JSON or raw MessagePack bytes)
until it goes to a connection that speaks another one: :func:`convert_data` translates it
then, once per format, not once per recipient.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from typing import Any

import msgspec
import structlog

from ..errors import EnvelopeError
from .codes import ErrorCode
from .envelope import Envelope, MsgpackEnvelope, RequestId, decode_envelope
from .frames import Opcode, binary_frame, text_frame

log = structlog.get_logger("switchboard.codecs")


class DataFormat(StrEnum):
    """How the raw ``data`` of an envelope is encoded."""

    JSON = "json"
    MSGPACK = "msgpack"


class Codec:
    """One subprotocol's encoding: how envelopes come in and server messages go out."""

    __slots__ = ("data_format", "decode", "encode", "explain", "frame", "name", "opcode")

    def __init__(
        self,
        name: str,
        opcode: int,
        data_format: DataFormat,
        *,
        decode: Callable[[bytes], Envelope],
        explain: Callable[[bytes], EnvelopeError],
        encode: Callable[[Any], bytes],
    ) -> None:
        #: The ``Sec-WebSocket-Protocol`` token.
        self.name = name
        #: The opcode of every data frame this codec sends and accepts.
        self.opcode = opcode
        #: The format of ``data`` in envelopes it decodes and in messages it encodes.
        self.data_format = data_format
        #: One client message; raises ``msgspec.DecodeError`` or :class:`EnvelopeError`.
        self.decode = decode
        #: Why ``decode`` refused a payload, as the error the client gets.
        self.explain = explain
        #: A server message (a ``msgspec.Struct`` or a dict) as a payload.
        self.encode = encode
        #: A final, unmasked frame carrying a payload, with this codec's opcode.
        self.frame: Callable[[bytes], bytes] = (
            text_frame if opcode == Opcode.TEXT.value else binary_frame
        )

    def __repr__(self) -> str:
        return f"<Codec {self.name}>"


def _explain_json(payload: bytes) -> EnvelopeError:
    try:
        decode_envelope(payload)
    except EnvelopeError as exc:
        return exc
    return EnvelopeError(ErrorCode.INVALID_MESSAGE_FORMAT, "invalid message")


class _IdOnly(msgspec.Struct):
    id: RequestId = None


_msgpack_envelope = msgspec.msgpack.Decoder(MsgpackEnvelope)
_msgpack_id = msgspec.msgpack.Decoder(_IdOnly)


def _explain_msgpack(payload: bytes) -> EnvelopeError:
    try:
        _msgpack_envelope.decode(payload)
    except msgspec.ValidationError as exc:
        return EnvelopeError(
            ErrorCode.INVALID_MESSAGE_FORMAT,
            f"message must be a map with a string 'type': {exc}",
            _salvage_msgpack_id(payload),
        )
    except msgspec.DecodeError as exc:
        return EnvelopeError(ErrorCode.INVALID_MESSAGE_FORMAT, f"invalid MessagePack: {exc}")
    return EnvelopeError(ErrorCode.INVALID_MESSAGE_FORMAT, "invalid message")


def _salvage_msgpack_id(payload: bytes) -> RequestId:
    try:
        return _msgpack_id.decode(payload).id
    except msgspec.DecodeError:
        return None


JSON = Codec(
    "v1.json",
    Opcode.TEXT.value,
    DataFormat.JSON,
    decode=msgspec.json.Decoder(Envelope).decode,
    explain=_explain_json,
    encode=msgspec.json.Encoder().encode,
)
"""``v1.json``: UTF-8 JSON in text frames (the default)."""

MSGPACK = Codec(
    "v1.binary",
    Opcode.BINARY.value,
    DataFormat.MSGPACK,
    decode=_msgpack_envelope.decode,
    explain=_explain_msgpack,
    encode=msgspec.msgpack.Encoder().encode,
)
"""``v1.binary``: the same envelope in MessagePack, in binary frames."""


# --- data across formats ---------------------------------------------------------------------

_json_encode = msgspec.json.Encoder(enc_hook=lambda obj: None).encode
_msgpack_encode = msgspec.msgpack.Encoder().encode
_DECODE: dict[DataFormat, Callable[[bytes], Any]] = {
    DataFormat.JSON: msgspec.json.decode,
    DataFormat.MSGPACK: msgspec.msgpack.decode,
}
_ENCODE: dict[DataFormat, Callable[[Any], bytes]] = {
    DataFormat.JSON: _json_encode,
    DataFormat.MSGPACK: _msgpack_encode,
}
_NULL = {DataFormat.JSON: b"null", DataFormat.MSGPACK: b"\xc0"}


def convert_data(raw: bytes, source: DataFormat, target: DataFormat) -> msgspec.Raw:
    """``raw`` (in ``source`` format) re-encoded in ``target`` format.

    MessagePack binary reaches JSON clients as base64 text, extension types as ``null``
    (JSON has neither); anything that cannot be translated becomes ``null`` and is logged.
    """
    if source is target:
        return msgspec.Raw(raw)
    try:
        return msgspec.Raw(_ENCODE[target](_DECODE[source](raw)))
    except (
        msgspec.DecodeError,
        msgspec.EncodeError,
        TypeError,
        ValueError,
        OverflowError,
        RecursionError,
    ) as exc:
        log.warning(
            "data_not_translatable", source=source.value, target=target.value, error=str(exc)
        )
        return msgspec.Raw(_NULL[target])


def encode_value(value: Any, target: DataFormat) -> msgspec.Raw:
    """A Python value as raw ``data`` in ``target`` format (server-side publishes)."""
    return msgspec.Raw(_ENCODE[target](value))
