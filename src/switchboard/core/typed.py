"""Typed route payloads: a handler that annotates its data with a ``msgspec.Struct`` (or a
pydantic model) gets the validated value instead of the envelope.

The signature is read once, when the route is added: the second parameter annotated with
a Struct or model (``def join(conn, room: Room)``) gets the value in its place; a parameter
named ``data`` so annotated (``def join(conn, msg, data: Room)``) gets it by keyword, the
envelope staying second. ``data`` is decoded and validated in one pass from the raw bytes
(JSON or MessagePack, the connection's format); a value that does not fit answers
``INVALID_MESSAGE_FORMAT`` with the path of the field at fault, and the handler is not
called. Handlers without such an annotation are called as before, with no cost added.
"""

from __future__ import annotations

import inspect
import sys
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import msgspec
import structlog

from ..errors import RequestError
from ..protocol.codecs import DataFormat
from ..protocol.codes import ErrorCode
from ..protocol.envelope import Envelope
from .connection import Connection

log = structlog.get_logger("switchboard.router")

#: Turns a request's ``data`` into the handler's value; raises ``RequestError``.
Decode = Callable[[Connection, Envelope], Any]


@dataclass(frozen=True, slots=True)
class Payload:
    """How a typed handler gets its value: ``decode`` it, pass it in place of the envelope
    (``keyword`` None) or as that keyword argument."""

    decode: Decode
    keyword: str | None


def payload_of(handler: Callable[..., Any]) -> Payload | None:
    """The typed payload ``handler`` declares, or None for an ordinary ``(conn, msg)`` one."""
    try:
        parameters = list(inspect.signature(handler).parameters.values())
        hints = typing.get_type_hints(handler)
    except (TypeError, ValueError, NameError):
        return None  # a builtin, or annotations that do not resolve: an ordinary handler
    if len(parameters) >= 2:
        second = parameters[1]
        decode = _decoder(hints.get(second.name))
        if decode is not None and second.kind is not inspect.Parameter.KEYWORD_ONLY:
            return Payload(decode, None)
    data = next((p for p in parameters[2:] if p.name == "data"), None)
    if data is not None and data.kind is not inspect.Parameter.POSITIONAL_ONLY:
        decode = _decoder(hints.get("data"))
        if decode is not None:
            return Payload(decode, "data")
    return None


def _decoder(annotation: Any) -> Decode | None:
    if isinstance(annotation, type) and issubclass(annotation, Envelope):
        return None  # the envelope itself (a Struct too): an ordinary handler
    if isinstance(annotation, type) and issubclass(annotation, msgspec.Struct):
        return _struct_decoder(annotation)
    pydantic = sys.modules.get("pydantic")  # not imported: no annotation can be a model
    if pydantic is None or not isinstance(annotation, type):
        return None
    if issubclass(annotation, pydantic.BaseModel):
        return _model_decoder(annotation, pydantic.ValidationError)
    return None


def _struct_decoder(kind: type[msgspec.Struct]) -> Decode:
    from_json = msgspec.json.Decoder(kind).decode
    from_msgpack = msgspec.msgpack.Decoder(kind).decode
    name = kind.__name__

    def decode(conn: Connection, msg: Envelope) -> Any:
        raw = msg.data
        try:
            if conn.wire.codec.data_format is DataFormat.JSON:
                return from_json(raw)
            return from_msgpack(raw)
        except msgspec.ValidationError as exc:
            # msgspec names the field: "Expected `int`, got `str` - at `$.size`"
            raise _invalid(conn, msg, f"invalid {name}: {exc}") from None

    return decode


def _model_decoder(kind: Any, invalid: type[Exception]) -> Decode:
    name = kind.__name__

    def decode(conn: Connection, msg: Envelope) -> Any:
        try:
            return kind.model_validate(msg.value())
        except invalid as exc:
            problems = "; ".join(_pydantic_problem(error) for error in exc.errors())  # type: ignore[attr-defined]
            raise _invalid(conn, msg, f"invalid {name}: {problems}") from None

    return decode


def _invalid(conn: Connection, msg: Envelope, problem: str) -> RequestError:
    """The error a request whose data does not fit gets (counted with the error frames it
    becomes, by code), logged."""
    log.info(
        "payload_invalid",
        connection_id=conn.id,
        user=conn.user,
        message_type=msg.type[:64],
        problem=problem[:200],
    )
    return RequestError(ErrorCode.INVALID_MESSAGE_FORMAT, problem)


def _pydantic_problem(error: dict[str, Any]) -> str:
    """One pydantic error as ``$.path.to.field: what is wrong`` (msgspec's path style)."""
    path = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in error["loc"])
    return f"{error['msg']} - at `${path}`"
