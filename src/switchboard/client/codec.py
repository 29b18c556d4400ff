"""The client's side of the three subprotocols: requests out, server messages in, as dicts.

``v1.json`` (text frames) and ``v1.binary`` (MessagePack) carry the envelope of
``docs/protocol.md`` as it is; ``v2.proto`` carries the one protobuf ``Envelope`` of
``protocol/proto/envelope.proto``, mapped to the same dict keys (``sender`` is ``from``, as in
JSON; an integer id is ``int_id`` on the wire and an int here).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec

from ..protocol.proto.codec import from_value, to_value
from ..protocol.proto.envelope_pb2 import Envelope, Member

Encode = Callable[[dict[str, Any]], str | bytes]
Decode = Callable[[str | bytes], dict[str, Any]]

_json_encoder = msgspec.json.Encoder()
_msgpack_encoder = msgspec.msgpack.Encoder()
_json_decoder = msgspec.json.Decoder(dict[str, Any])
_msgpack_decoder = msgspec.msgpack.Decoder(dict[str, Any])


def _encode_json(message: dict[str, Any]) -> str:
    return _json_encoder.encode(message).decode()


def _decode_json(payload: str | bytes) -> dict[str, Any]:
    return _json_decoder.decode(payload)


def _decode_msgpack(payload: str | bytes) -> dict[str, Any]:
    return _msgpack_decoder.decode(payload if isinstance(payload, bytes) else payload.encode())


def _encode_proto(message: dict[str, Any]) -> bytes:
    pb = Envelope(type=message["type"])
    for name, value in message.items():
        if value is None or name == "type":
            continue
        if name == "id":
            if isinstance(value, int):
                pb.int_id = value
            else:
                pb.id = str(value)
        elif name == "data":
            if isinstance(value, bytes | bytearray):
                pb.data = bytes(value)
            else:
                to_value(value, pb.value)
        elif name == "to":
            if value.get("user") is not None:
                pb.to.user = str(value["user"])
            if value.get("connection") is not None:
                pb.to.connection = value["connection"]
        elif name == "recover_from":
            pb.recover_from.offset = value["offset"]
            pb.recover_from.epoch = value["epoch"]
        else:
            setattr(pb, name, value)
    return pb.SerializeToString()


#: Plain fields of a server message, copied when set.
_PLAIN = ("channel", "epoch", "code", "message", "connection_id", "node", "token")


def _member(pb: Member) -> dict[str, Any]:
    return {"connection": pb.connection, "user": from_value(pb.user)}


def _decode_proto(payload: str | bytes) -> dict[str, Any]:
    pb = Envelope.FromString(payload if isinstance(payload, bytes) else payload.encode())
    message: dict[str, Any] = {"type": pb.type}
    which = pb.WhichOneof("request_id")
    if which is not None:
        message["id"] = getattr(pb, which)
    payload_kind = pb.WhichOneof("payload")
    if payload_kind == "data":
        message["data"] = pb.data
    elif payload_kind == "value":
        message["data"] = from_value(pb.value)
    for name in _PLAIN:
        if value := getattr(pb, name):
            message[name] = value
    for name in ("offset", "recovered"):
        if pb.HasField(name):
            message[name] = getattr(pb, name)
    if pb.heartbeat:
        message["heartbeat"] = pb.heartbeat
    if pb.members:
        message["members"] = [_member(member) for member in pb.members]
    if pb.HasField("member"):
        message["member"] = _member(pb.member)
    if pb.HasField("sender"):
        message["from"] = _member(pb.sender)
    return message


#: Subprotocol -> (encode, decode).
CODECS: dict[str, tuple[Encode, Decode]] = {
    "v1.json": (_encode_json, _decode_json),
    "v1.binary": (_msgpack_encoder.encode, _decode_msgpack),
    "v2.proto": (_encode_proto, _decode_proto),
}
