"""A connection's wire: its codec plus, when negotiated, compression.

Two connections with the same wire receive the same bytes for the same message, so a
fan-out frames (and compresses) once per wire in use, not once per recipient. Wires are
shared: every plain ``v1.json`` connection holds :data:`PLAIN_JSON`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from .codecs import JSON, MSGPACK, Codec


class Compressor(Protocol):
    """Turns a payload into one compressed frame (``deflate.py``)."""

    #: Payloads shorter than this go out uncompressed.
    threshold: int

    def frame(self, opcode: int, payload: bytes) -> bytes:
        """One final frame, RSV1 set, carrying ``payload`` compressed."""


class Wire:
    """How messages are encoded, framed and compressed for the connections that share it."""

    __slots__ = ("codec", "compressor", "decode", "frame", "opcode")

    def __init__(self, codec: Codec, compressor: Compressor | None = None) -> None:
        self.codec = codec
        self.compressor = compressor
        #: The codec's, one attribute hop closer for the per-message path.
        self.opcode = codec.opcode
        self.decode = codec.decode
        #: A server message (a ``msgspec.Struct`` or a dict) as frame bytes.
        self.frame: Callable[[Any], bytes] = (
            _plain(codec) if compressor is None else _compressing(codec, compressor)
        )

    def __repr__(self) -> str:
        compression = "" if self.compressor is None else " deflate"
        return f"<Wire {self.codec.name}{compression}>"


def _plain(codec: Codec) -> Callable[[Any], bytes]:
    encode, frame = codec.encode, codec.frame

    def framed(message: Any) -> bytes:
        return frame(encode(message))

    return framed


def _compressing(codec: Codec, compressor: Compressor) -> Callable[[Any], bytes]:
    encode, frame, opcode = codec.encode, codec.frame, codec.opcode
    threshold, compress = compressor.threshold, compressor.frame

    def framed(message: Any) -> bytes:
        payload = encode(message)
        if len(payload) < threshold:
            return frame(payload)
        return compress(opcode, payload)

    return framed


PLAIN_JSON = Wire(JSON)
PLAIN_MSGPACK = Wire(MSGPACK)
