"""Envelope decoding and server message encoding."""

from __future__ import annotations

import json

import msgspec
import pytest

from switchboard.protocol.codes import ErrorCode
from switchboard.protocol.envelope import (
    Broadcast,
    EchoReply,
    EnvelopeError,
    Welcome,
    decode_envelope,
    encode,
    encode_error,
)


def test_decodes_type_id_and_raw_data() -> None:
    env = decode_envelope(b'{"type":"echo","id":"r1","data":{"a":[1, 2]},"extra":true}')
    assert env.type == "echo"
    assert env.id == "r1"
    assert bytes(env.data) == b'{"a":[1, 2]}'


def test_missing_data_is_null_and_integer_ids_are_kept() -> None:
    env = decode_envelope(b'{"type":"ping","id":5}')
    assert env.id == 5
    assert bytes(env.data) == b"null"


@pytest.mark.parametrize(
    "payload", [b"", b"{", b"nope", b'{"type":"a"} trailing', b'{"type":"a","data":[1,,2]}']
)
def test_undecodable_json_is_invalid_json(payload: bytes) -> None:
    with pytest.raises(EnvelopeError) as info:
        decode_envelope(payload)
    assert info.value.code is ErrorCode.INVALID_JSON


@pytest.mark.parametrize(
    "payload",
    [b"[1]", b'"echo"', b"{}", b'{"type":1}', b'{"type":null}', b'{"type":"a","id":{}}'],
)
def test_json_that_is_not_an_envelope_is_invalid_message_format(payload: bytes) -> None:
    with pytest.raises(EnvelopeError) as info:
        decode_envelope(payload)
    assert info.value.code is ErrorCode.INVALID_MESSAGE_FORMAT
    assert info.value.message


def test_request_id_is_salvaged_from_an_invalid_envelope() -> None:
    with pytest.raises(EnvelopeError) as info:
        decode_envelope(b'{"type":7,"id":"keep-me"}')
    assert info.value.request_id == "keep-me"


def test_echo_reply_carries_the_same_data_bytes_and_id() -> None:
    env = decode_envelope(b'{"type":"echo","data":[1,"two",{"3":null}],"id":9}')
    out = json.loads(encode(EchoReply(data=env.data, id=env.id)))
    assert out == {"type": "echo_reply", "data": [1, "two", {"3": None}], "id": 9}


def test_echo_reply_without_id_omits_it_but_keeps_data() -> None:
    assert json.loads(encode(EchoReply(data=msgspec.Raw(b"null")))) == {
        "type": "echo_reply",
        "data": None,
    }


def test_server_messages_have_type_first() -> None:
    assert encode(Broadcast(data=msgspec.Raw(b"1"))) == b'{"type":"broadcast","data":1}'
    welcome = json.loads(encode(Welcome(connection_id="c-1", node="n", heartbeat=30.0)))
    assert welcome == {"type": "welcome", "connection_id": "c-1", "node": "n", "heartbeat": 30.0}


def test_error_frame_shape() -> None:
    assert json.loads(encode_error(ErrorCode.UNKNOWN_MESSAGE_TYPE, "nope", "x")) == {
        "type": "error",
        "code": "UNKNOWN_MESSAGE_TYPE",
        "message": "nope",
        "id": "x",
    }
