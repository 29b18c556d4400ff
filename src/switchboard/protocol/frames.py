"""Server-side frame bytes for the coalescing outbox.

Server frames are unmasked (RFC 6455 section 5.1), so one encoded frame can be
appended to any number of connections' outboxes and written with the rest of
their pending bytes in a single ``write()``. Parsing of client frames stays
with picows; this module only builds the few bytes of header in front of a
payload we already encoded.
"""

from __future__ import annotations

import struct
from enum import IntEnum

_FIN = 0x80
_RSV1 = 0x40  # "this message is compressed" under permessage-deflate (RFC 7692 section 6)


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
    if length < 126:
        return _SHORT_HEADERS[opcode][length] + payload
    first = _FIN | opcode
    if length < 65536:
        return _pack_medium(first, 126, length) + payload
    return _pack_long(first, 127, length) + payload


def text_frame(payload: bytes) -> bytes:
    """A final text frame; ``payload`` must already be valid UTF-8. The hot path: one lookup
    and one concatenation for the usual short message."""
    length = len(payload)
    if length < 126:
        return _SHORT_TEXT[length] + payload
    if length < 65536:
        return _pack_medium(_FIN | Opcode.TEXT, 126, length) + payload
    return _pack_long(_FIN | Opcode.TEXT, 127, length) + payload


def compressed_frame(opcode: int, payload: bytes) -> bytes:
    """A final frame with RSV1 set: ``payload`` is already deflated (see ``deflate.py``)."""
    first, length = _FIN | _RSV1 | opcode, len(payload)
    if length < 126:
        return bytes((first, length)) + payload
    if length < 65536:
        return _pack_medium(first, 126, length) + payload
    return _pack_long(first, 127, length) + payload


def binary_frame(payload: bytes) -> bytes:
    """A final binary frame."""
    return encode_frame(Opcode.BINARY, payload)


_pack_medium = struct.Struct("!BBH").pack
_pack_long = struct.Struct("!BBQ").pack
#: Two-byte headers of every final frame shorter than 126 bytes, by opcode then length.
_SHORT_HEADERS: dict[int, tuple[bytes, ...]] = {
    op: tuple(bytes((_FIN | op, n)) for n in range(126)) for op in Opcode
}
_SHORT_TEXT = _SHORT_HEADERS[Opcode.TEXT]


PING_FRAME: bytes = encode_frame(Opcode.PING, b"")
"""An empty ping: every heartbeat sends these same two bytes."""
