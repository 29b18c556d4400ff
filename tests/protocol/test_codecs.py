"""Codecs without a socket: the same envelope in JSON and MessagePack, and data translation."""

from __future__ import annotations

import msgspec
import pytest

from switchboard.protocol.codecs import JSON, MSGPACK, DataFormat, convert_data
from switchboard.protocol.codes import ErrorCode
from switchboard.protocol.envelope import Ack, ChannelMessage, EnvelopeError
from switchboard.protocol.frames import Opcode


def test_msgpack_decodes_the_same_envelope_and_keeps_data_raw() -> None:
    payload = msgspec.msgpack.encode(
        {"type": "publish", "id": 7, "channel": "room:1", "data": {"blob": b"\x00\xff", "n": 1}}
    )
    envelope = MSGPACK.decode(payload)
    assert (envelope.type, envelope.id, envelope.channel) == ("publish", 7, "room:1")
    assert envelope.value() == {"blob": b"\x00\xff", "n": 1}  # binary stays binary
    assert envelope.json() == envelope.value()
    assert MSGPACK.decode(msgspec.msgpack.encode({"type": "ping"})).value() is None


def test_server_messages_exist_in_both_codecs() -> None:
    ack = Ack(id="r1", channel="room:1", offset=3, epoch="e")
    as_json = msgspec.json.decode(JSON.encode(ack))
    as_msgpack = msgspec.msgpack.decode(MSGPACK.encode(ack))
    assert (
        as_json
        == as_msgpack
        == {
            "type": "ack",
            "id": "r1",
            "channel": "room:1",
            "offset": 3,
            "epoch": "e",
        }
    )
    assert JSON.frame(b"x")[0] & 0x0F == Opcode.TEXT
    assert MSGPACK.frame(b"x")[0] & 0x0F == Opcode.BINARY


@pytest.mark.parametrize(
    ("payload", "code", "request_id"),
    [
        (b"\xc1", ErrorCode.INVALID_MESSAGE_FORMAT, None),  # 0xc1 is never valid MessagePack
        (msgspec.msgpack.encode([1, 2]), ErrorCode.INVALID_MESSAGE_FORMAT, None),
        (msgspec.msgpack.encode({"id": "r9", "data": 1}), ErrorCode.INVALID_MESSAGE_FORMAT, "r9"),
    ],
    ids=["not-msgpack", "not-a-map", "no-type-keeps-id"],
)
def test_bad_msgpack_is_explained(payload: bytes, code: ErrorCode, request_id: str | None) -> None:
    with pytest.raises(msgspec.DecodeError):
        MSGPACK.decode(payload)
    error = MSGPACK.explain(payload)
    assert isinstance(error, EnvelopeError)
    assert (error.code, error.request_id) == (code, request_id)


def test_data_translates_between_formats() -> None:
    json_raw = b'{"a":[1,2.5,"x",null,true]}'
    as_msgpack = convert_data(json_raw, DataFormat.JSON, DataFormat.MSGPACK)
    assert msgspec.msgpack.decode(as_msgpack) == {"a": [1, 2.5, "x", None, True]}
    back = convert_data(bytes(as_msgpack), DataFormat.MSGPACK, DataFormat.JSON)
    assert msgspec.json.decode(back) == {"a": [1, 2.5, "x", None, True]}
    # Binary has no JSON form: it arrives as base64 text.
    blob = msgspec.msgpack.encode({"blob": b"\x00\x01"})
    assert msgspec.json.decode(convert_data(blob, DataFormat.MSGPACK, DataFormat.JSON)) == {
        "blob": "AAE="
    }
    # Same format: the very bytes, untouched.
    assert bytes(convert_data(json_raw, DataFormat.JSON, DataFormat.JSON)) == json_raw


def test_untranslatable_data_becomes_null_not_an_exception() -> None:
    ext = msgspec.msgpack.encode(msgspec.msgpack.Ext(5, b"xyz"))
    assert bytes(convert_data(ext, DataFormat.MSGPACK, DataFormat.JSON)) == b"null"
    huge = b"[123456789012345678901234567890]"  # valid JSON, beyond MessagePack's integers
    assert bytes(convert_data(huge, DataFormat.JSON, DataFormat.MSGPACK)) == b"\xc0"


def test_channel_message_carries_foreign_data_after_translation() -> None:
    message = ChannelMessage(channel="c", offset=1, data=msgspec.Raw(b'{"k":1}'))
    data = convert_data(bytes(message.data), DataFormat.JSON, DataFormat.MSGPACK)
    translated = msgspec.structs.replace(message, data=data)
    assert msgspec.msgpack.decode(MSGPACK.encode(translated)) == {
        "type": "message",
        "channel": "c",
        "offset": 1,
        "data": {"k": 1},
    }
