"""The event a backend receives, built from a connection and a message."""

from __future__ import annotations

from typing import Any

import msgspec

from switchboard.backend.events import (
    HANDSHAKE_KEY,
    connect_event,
    encode_event,
    forwarded,
    message_event,
    take_handshake,
)
from switchboard.core.connection import Connection
from switchboard.protocol.envelope import Envelope, MsgpackEnvelope


class _Transport:
    @property
    def sink(self) -> Any:
        return self  # the core writes with sink.write

    def write(self, data: bytes) -> None: ...

    def close(self, code: int, reason: str, *, fail: bool = False) -> None: ...

    def abort(self) -> None: ...

    def received_bytes(self) -> int | None:
        return None


def _conn() -> Connection:
    conn = Connection("c-1", _Transport(), "10.0.0.1:5000", 0.0)
    conn.user = "u1"
    return conn


def test_only_allow_listed_headers_are_forwarded_whatever_their_case() -> None:
    headers = {"User-Agent": "x", "Authorization": "Bearer t", "Cookie": "token=t", "Origin": "o"}
    assert forwarded(headers, ["user-agent", "origin"]) == {"user-agent": "x", "origin": "o"}


def test_the_handshake_is_taken_once_and_not_kept() -> None:
    conn = _conn()
    conn.state[HANDSHAKE_KEY] = {"headers": {"Origin": "o"}, "claims": {"sub": "u1"}}
    assert take_handshake(conn) == ({"Origin": "o"}, {"sub": "u1"})
    assert HANDSHAKE_KEY not in conn.state
    assert take_handshake(conn) == ({}, None)


def test_a_connect_event_has_headers_and_no_body() -> None:
    event = msgspec.json.decode(encode_event(connect_event(_conn(), {"origin": "o"}, None)))
    assert event["route_key"] == "$connect"
    assert event["connection_id"] == "c-1" and event["user"] == "u1"
    assert event["remote_address"] == "10.0.0.1:5000"
    assert event["headers"] == {"origin": "o"}
    assert "body" not in event and "claims" not in event


def test_a_message_event_carries_the_data_for_json_and_msgpack_clients_alike() -> None:
    raw = b'{"type":"chat","id":4,"data":{"text":"hi","n":[1,2]}}'
    json_msg = msgspec.json.decode(raw, type=Envelope)
    packed = msgspec.msgpack.encode({"type": "chat", "id": 4, "data": {"text": "hi", "n": [1, 2]}})
    packed_msg = msgspec.msgpack.decode(packed, type=MsgpackEnvelope)
    for msg in (json_msg, packed_msg):
        event = msgspec.json.decode(encode_event(message_event("chat", _conn(), msg, {"a": 1})))
        assert event["body"] == {"text": "hi", "n": [1, 2]}
        assert event["message_type"] == "chat" and event["message_id"] == 4
        assert event["claims"] == {"a": 1}


def test_a_user_that_is_not_json_is_sent_as_its_text() -> None:
    conn = _conn()
    conn.user = object()
    event = msgspec.json.decode(encode_event(connect_event(conn, {}, None)))
    assert event["user"].startswith("<object")
