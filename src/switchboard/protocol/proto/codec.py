"""``v2.proto``: the envelope as Protocol Buffers (``envelope.proto``), in binary frames.

Inside the server a v2.proto envelope is a :class:`MsgpackEnvelope`: its ``data`` (bytes or
a ``google.protobuf.Value``) is kept as raw MessagePack, which holds both without loss, so
v1.binary and v2.proto clients exchange bytes as bytes.
"""

from __future__ import annotations

from typing import Any

import msgspec
import structlog
from google.protobuf.message import DecodeError
from google.protobuf.struct_pb2 import NULL_VALUE, ListValue, Struct, Value

from ...errors import EnvelopeError
from ..codecs import Codec, DataFormat
from ..codes import ErrorCode
from ..envelope import MSGPACK_NULL, MsgpackEnvelope, Position, RequestId, Target
from ..frames import Opcode
from .envelope_pb2 import Envelope, Member

log = structlog.get_logger("switchboard.codecs")
_pack = msgspec.msgpack.encode
_unpack = msgspec.msgpack.decode


def decode(payload: bytes) -> MsgpackEnvelope:
    """One client message; raises :class:`EnvelopeError` on anything unusable."""
    pb = Envelope()
    try:
        pb.ParseFromString(payload)
    except DecodeError as exc:
        raise EnvelopeError(ErrorCode.INVALID_MESSAGE_FORMAT, f"invalid protobuf: {exc}") from None
    kind = pb.WhichOneof("request_id")
    request_id: RequestId = None if kind is None else pb.id if kind == "id" else pb.int_id
    if not pb.type:
        raise EnvelopeError(
            ErrorCode.INVALID_MESSAGE_FORMAT, "message must have a non-empty 'type'", request_id
        )
    payload_kind = pb.WhichOneof("payload")
    if payload_kind == "data":
        data = msgspec.Raw(_pack(pb.data))
    elif payload_kind == "value":
        data = msgspec.Raw(_pack(from_value(pb.value)))
    else:
        data = MSGPACK_NULL
    to = None
    if pb.HasField("to"):
        to = Target(user=pb.to.user or None, connection=pb.to.connection or None)
    recover_from = None
    if pb.HasField("recover_from"):
        recover_from = Position(pb.recover_from.offset, pb.recover_from.epoch)
    return MsgpackEnvelope(
        type=pb.type,
        id=request_id,
        data=data,
        channel=pb.channel or None,
        to=to,
        recover_from=recover_from,
        token=pb.token or None,
        traceparent=pb.traceparent or None,
        skip_self=pb.skip_self,
    )


def explain(payload: bytes) -> EnvelopeError:
    """``decode`` raises its own errors; this is only the fallback the Codec interface needs."""
    return EnvelopeError(ErrorCode.INVALID_MESSAGE_FORMAT, "invalid protobuf envelope")


def encode(message: Any) -> bytes:
    """A server message (a tagged ``msgspec.Struct`` or a dict) as a serialized Envelope.
    Its ``data``, if any, is raw MessagePack (this codec's data format) or a Python value."""
    if isinstance(message, msgspec.Struct):
        fields = {name: getattr(message, name) for name in message.__struct_fields__}
        fields["type"] = message.__struct_config__.tag
    else:
        fields = dict(message)
    pb = Envelope()
    for name, value in fields.items():
        if value is None:
            continue
        if name == "id":
            if isinstance(value, int):
                pb.int_id = value
            else:
                pb.id = value
        elif name == "data":
            _set_payload(pb, _unpack(value) if isinstance(value, msgspec.Raw) else value)
        elif name in ("member", "sender"):
            _set_member(getattr(pb, name), value)
        elif name == "members":
            for member in value:
                _set_member(pb.members.add(), member)
        else:
            setattr(pb, name, value)
    return pb.SerializeToString()


def _set_payload(pb: Envelope, value: Any) -> None:
    if isinstance(value, bytes | bytearray | memoryview):
        pb.data = bytes(value)
        return
    try:
        to_value(value, pb.value)
    except RecursionError:  # nested deeper than a Value can be built here: as untranslatable
        log.warning("data_not_translatable", target="v2.proto", error="nested too deeply")
        pb.ClearField("value")
        pb.value.null_value = NULL_VALUE


def _set_member(pb: Member, member: Any) -> None:
    pb.connection = member.connection
    if member.user is not None:
        to_value(member.user, pb.user)


def to_value(value: Any, out: Value) -> None:
    """Fill ``out`` with a JSON-like Python value (bytes become base64 text, as in JSON)."""
    if value is None:
        out.null_value = NULL_VALUE
    elif isinstance(value, bool):
        out.bool_value = value
    elif isinstance(value, int | float):
        try:
            out.number_value = value
        except (OverflowError, ValueError, TypeError):  # an int beyond a double's range
            out.string_value = str(value)
    elif isinstance(value, str):
        out.string_value = value
    elif isinstance(value, dict):
        _fill_struct(value, out.struct_value)
    elif isinstance(value, list | tuple):
        _fill_list(value, out.list_value)
    else:  # bytes (base64, as in JSON); null for what JSON cannot express either
        try:
            out.string_value = msgspec.json.decode(msgspec.json.encode(value))
        except (msgspec.EncodeError, TypeError):
            out.null_value = NULL_VALUE


def _fill_struct(value: dict[Any, Any], out: Struct) -> None:
    for key, item in value.items():
        to_value(item, out.fields[str(key)])


def _fill_list(value: list[Any] | tuple[Any, ...], out: ListValue) -> None:
    for item in value:
        to_value(item, out.values.add())


def from_value(value: Value) -> Any:
    """A ``google.protobuf.Value`` as a Python value (numbers that are whole become ints)."""
    kind = value.WhichOneof("kind")
    if kind == "number_value":
        number = value.number_value
        return int(number) if number.is_integer() and abs(number) < 2**53 else number
    if kind == "string_value":
        return value.string_value
    if kind == "bool_value":
        return value.bool_value
    if kind == "struct_value":
        return {key: from_value(item) for key, item in value.struct_value.fields.items()}
    if kind == "list_value":
        return [from_value(item) for item in value.list_value.values]
    return None


PROTO = Codec(
    "v2.proto",
    Opcode.BINARY.value,
    DataFormat.MSGPACK,
    decode=decode,
    explain=explain,
    encode=encode,
)
"""``v2.proto``: one ``switchboard.v2.Envelope`` per binary frame."""
