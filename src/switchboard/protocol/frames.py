"""Server-side frame bytes for the coalescing outbox.

Server frames are unmasked (RFC 6455 section 5.1), so one encoded frame can be
appended to any number of connections' outboxes and written with the rest of
their pending bytes in a single ``write()``. Parsing of client frames stays
with picows; this module only builds the few bytes of header in front of a
payload we already encoded.
"""

from __future__ import annotations

from enum import IntEnum

_FIN = 0x80


class Opcode(IntEnum):
    """RFC 6455 opcodes."""

    CONTINUATION = 0x0
    TEXT = 0x1
    BINARY = 0x2
    CLOSE = 0x8
    PING = 0x9
    PONG = 0xA


def encode_frame(opcode: int, payload: bytes) -> bytes:
    """Return one final, unmasked frame carrying ``payload``."""
    length = len(payload)
    first = _FIN | opcode
    if length < 126:
        return bytes((first, length)) + payload
    if length < 65536:
        return bytes((first, 126)) + length.to_bytes(2, "big") + payload
    return bytes((first, 127)) + length.to_bytes(8, "big") + payload


def text_frame(payload: bytes) -> bytes:
    """A final text frame; ``payload`` must already be valid UTF-8."""
    return encode_frame(Opcode.TEXT, payload)


def binary_frame(payload: bytes) -> bytes:
    """A final binary frame."""
    return encode_frame(Opcode.BINARY, payload)


PING_FRAME: bytes = encode_frame(Opcode.PING, b"")
"""An empty ping: every heartbeat sends these same two bytes."""
