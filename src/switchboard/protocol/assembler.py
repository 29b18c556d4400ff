"""Reassembly of fragmented messages, UTF-8 validation and the message size limit.

picows hands us frames one by one; RFC 6455 rules for turning frames into
messages are ours:

- a message is a TEXT or BINARY frame followed by CONTINUATION frames until
  one has FIN set; control frames may arrive between fragments and are not
  fed here;
- a CONTINUATION with no message in progress, or a new TEXT/BINARY while one
  is in progress, is a protocol error (close 1002);
- text must be valid UTF-8 (close 1007), checked fragment by fragment so an
  invalid sequence fails as soon as it arrives;
- the size limit counts the whole message across fragments (close 1009), each
  fragment weighing at least ``MIN_FRAGMENT_WEIGHT`` bytes: keeping a fragment costs about
  41 bytes beyond its payload, so a flood of empty or one-byte continuations is bounded
  like any other big message (at most ``max_size / 64`` fragments, memory within 1.7x the
  limit) while a message cut into fragments of 64 bytes or more counts its payload only.
"""

from __future__ import annotations

import codecs

from ..errors import ProtocolViolation
from .codes import CloseCode
from .frames import Opcode

_TEXT = Opcode.TEXT.value
_BINARY = Opcode.BINARY.value
_CONTINUATION = Opcode.CONTINUATION.value
_Utf8Decoder = codecs.getincrementaldecoder("utf-8")
#: The least a fragment counts towards the size limit, whatever its payload.
MIN_FRAGMENT_WEIGHT = 64


class MessageAssembler:
    """Turns data frames into complete messages for one connection."""

    __slots__ = ("_decoder", "_opcode", "_parts", "_size", "max_size")

    def __init__(self, max_size: int) -> None:
        self.max_size = max_size
        self._opcode = -1
        self._parts: list[bytes] = []
        self._size = 0
        self._decoder: codecs.IncrementalDecoder | None = None

    @property
    def in_progress(self) -> bool:
        """True between the first fragment of a message and its final one."""
        return self._opcode >= 0

    def feed(self, opcode: int, fin: bool, payload: bytes) -> tuple[int, bytes] | None:
        """Take one data frame; return ``(opcode, message)`` once a message is complete.

        Raises :class:`ProtocolViolation` when the frame breaks a rule.
        """
        if opcode == _CONTINUATION:
            return self._continue(fin, payload)
        if self._opcode >= 0:
            raise ProtocolViolation(
                CloseCode.PROTOCOL_ERROR, "new data frame before the previous message ended"
            )
        if fin:
            check_message(opcode, payload, self.max_size)
            return opcode, payload
        size = max(len(payload), MIN_FRAGMENT_WEIGHT)
        if size > self.max_size:
            raise self._too_big()
        self._opcode = opcode
        self._parts.append(payload)
        self._size = size
        if opcode == _TEXT:
            self._decoder = _Utf8Decoder()
            self._feed_utf8(payload, final=False)
        return None

    def _continue(self, fin: bool, payload: bytes) -> tuple[int, bytes] | None:
        if self._opcode < 0:
            raise ProtocolViolation(
                CloseCode.PROTOCOL_ERROR, "continuation frame with no message in progress"
            )
        self._size += max(len(payload), MIN_FRAGMENT_WEIGHT)
        if self._size > self.max_size:
            raise self._too_big()
        self._parts.append(payload)
        if self._decoder is not None:
            self._feed_utf8(payload, final=fin)
        if not fin:
            return None
        opcode = self._opcode
        message = b"".join(self._parts)
        self.reset()
        return opcode, message

    def reset(self) -> None:
        """Forget any partial message (after an error, or once it completed)."""
        self._opcode = -1
        self._parts = []
        self._size = 0
        self._decoder = None

    def _feed_utf8(self, payload: bytes, *, final: bool) -> None:
        assert self._decoder is not None
        try:
            self._decoder.decode(payload, final)
        except UnicodeDecodeError:
            raise ProtocolViolation(
                CloseCode.INVALID_DATA, "invalid UTF-8 in text message"
            ) from None

    def _too_big(self) -> ProtocolViolation:
        self.reset()
        return ProtocolViolation(
            CloseCode.MESSAGE_TOO_BIG, f"message larger than {self.max_size} bytes"
        )


def check_message(opcode: int, payload: bytes, max_size: int) -> None:
    """Check a message that came in one frame: the size limit, and UTF-8 for text."""
    if len(payload) > max_size:
        raise ProtocolViolation(CloseCode.MESSAGE_TOO_BIG, f"message larger than {max_size} bytes")
    if opcode == _TEXT:
        try:
            payload.decode("utf-8")
        except UnicodeDecodeError:
            raise ProtocolViolation(
                CloseCode.INVALID_DATA, "invalid UTF-8 in text message"
            ) from None
