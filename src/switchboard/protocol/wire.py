"""A connection's wire: its codec plus, when negotiated, compression.

Two connections with the same wire receive the same bytes for the same message, so a
fan-out frames (and compresses) once per wire in use, not once per recipient. Wires are
shared: the handshake hands every connection of one codec and compression the same wire
(``transport/handshake.py``); :data:`PLAIN_JSON` is the default for code that makes
connections itself (refused upgrades, tests).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from .codecs import JSON, Codec


class Compressor(Protocol):
    """Turns a payload into one compressed frame (``deflate.py``)."""

    #: Payloads shorter than this go out uncompressed.
    threshold: int

    def frame(self, opcode: int, payload: bytes) -> bytes:
        """One final frame, RSV1 set, carrying ``payload`` compressed."""


class Wire:
    """How messages are encoded, framed and compressed for the connections that share it."""

    __slots__ = ("codec", "compressor", "decode", "encode", "frame_payload", "opcode")

    def __init__(self, codec: Codec, compressor: Compressor | None = None) -> None:
        self.codec = codec
        self.compressor = compressor
        # The codec's functions, one attribute hop closer for the per-message path.
        self.opcode = codec.opcode
        self.decode = codec.decode
        #: A server message (a ``msgspec.Struct`` or a dict) as a payload.
        self.encode = codec.encode
        #: An encoded payload as frame bytes (compressed when negotiated and large enough).
        #: The hottest routes call ``frame_payload(encode(message))``: two calls, no wrapper.
        self.frame_payload: Callable[[bytes], bytes] = (
            codec.frame if compressor is None else _compressing(codec, compressor)
        )

    def frame(self, message: Any) -> bytes:
        """A server message (a ``msgspec.Struct`` or a dict) as frame bytes."""
        return self.frame_payload(self.encode(message))

    def __repr__(self) -> str:
        compression = "" if self.compressor is None else " deflate"
        return f"<Wire {self.codec.name}{compression}>"


def _compressing(codec: Codec, compressor: Compressor) -> Callable[[bytes], bytes]:
    frame, opcode = codec.frame, codec.opcode
    threshold, compress = compressor.threshold, compressor.frame

    def framed(payload: bytes) -> bytes:
        if len(payload) < threshold:
            return frame(payload)
        return compress(opcode, payload)

    return framed


PLAIN_JSON = Wire(JSON)
