"""Typed route payloads (``core/typed.py``): read from the signature once, decoded from the
connection's format, refused with the field's path."""

from __future__ import annotations

from typing import Any

import msgspec
import pydantic
import pytest

from switchboard.core.typed import payload_of
from switchboard.errors import RequestError
from switchboard.protocol.codecs import MSGPACK
from switchboard.protocol.codes import ErrorCode
from switchboard.protocol.envelope import Envelope, MsgpackEnvelope
from switchboard.protocol.wire import PLAIN_JSON, Wire

from .fakes import Client, make_node


class Point(msgspec.Struct):
    x: int
    y: int


class Named(pydantic.BaseModel):
    name: str


def plain(conn: Any, msg: Envelope) -> None: ...


def unannotated(conn, msg):  # type: ignore[no-untyped-def]
    return None


def positional(conn: Any, point: Point) -> None: ...


def keyword(conn: Any, msg: Envelope, data: Named) -> None: ...


def test_only_a_struct_or_model_annotation_makes_a_handler_typed() -> None:
    assert payload_of(plain) is None  # an Envelope is a Struct too, and stays untyped
    assert payload_of(unannotated) is None
    assert payload_of(print) is None
    typed = payload_of(positional)
    assert typed is not None and typed.keyword is None
    named = payload_of(keyword)
    assert named is not None and named.keyword == "data"


async def test_values_decode_from_json_and_msgpack_and_errors_name_the_field() -> None:
    node = make_node()
    json_conn = Client(node, PLAIN_JSON).conn
    typed = payload_of(positional)
    assert typed is not None
    assert typed.decode(json_conn, Envelope("t", data=msgspec.Raw(b'{"x":1,"y":2}'))) == Point(1, 2)
    with pytest.raises(RequestError) as refused:
        typed.decode(json_conn, Envelope("t", data=msgspec.Raw(b'{"x":1,"y":"2"}')))
    assert refused.value.code is ErrorCode.INVALID_MESSAGE_FORMAT
    assert "$.y" in refused.value.message
    msgpack_conn = Client(node, Wire(MSGPACK)).conn
    raw = msgspec.Raw(msgspec.msgpack.encode({"x": 3, "y": 4}))
    assert typed.decode(msgpack_conn, MsgpackEnvelope("t", data=raw)) == Point(3, 4)
    named = payload_of(keyword)
    assert named is not None
    with pytest.raises(RequestError, match=r"\$\.name"):
        named.decode(json_conn, Envelope("t", data=msgspec.Raw(b"{}")))
