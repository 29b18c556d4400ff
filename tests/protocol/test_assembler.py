"""Reassembly, UTF-8 and size rules, with no event loop."""

from __future__ import annotations

import pytest

from switchboard.protocol.assembler import (
    MIN_FRAGMENT_WEIGHT,
    MessageAssembler,
    ProtocolViolation,
    check_message,
)
from switchboard.protocol.codes import CloseCode
from switchboard.protocol.frames import Opcode

TEXT, BINARY, CONT = Opcode.TEXT, Opcode.BINARY, Opcode.CONTINUATION


def test_single_frame_message_passes_through() -> None:
    assert MessageAssembler(1000).feed(TEXT, True, b"hello") == (TEXT, b"hello")


def test_fragments_are_joined_in_order() -> None:
    asm = MessageAssembler(1000)
    assert asm.feed(BINARY, False, b"ab") is None
    assert asm.in_progress
    assert asm.feed(CONT, False, b"cd") is None
    assert asm.feed(CONT, True, b"ef") == (BINARY, b"abcdef")
    assert not asm.in_progress


def test_empty_fragments_are_allowed() -> None:
    asm = MessageAssembler(1000)
    assert asm.feed(TEXT, False, b"") is None
    assert asm.feed(CONT, True, b"") == (TEXT, b"")


def test_continuation_without_a_message_is_a_protocol_error() -> None:
    with pytest.raises(ProtocolViolation) as info:
        MessageAssembler(1000).feed(CONT, True, b"x")
    assert info.value.close_code == CloseCode.PROTOCOL_ERROR


def test_new_message_inside_a_fragmented_one_is_a_protocol_error() -> None:
    asm = MessageAssembler(1000)
    asm.feed(TEXT, False, b"a")
    with pytest.raises(ProtocolViolation) as info:
        asm.feed(TEXT, True, b"b")
    assert info.value.close_code == CloseCode.PROTOCOL_ERROR


def test_size_limit_counts_across_fragments() -> None:
    asm = MessageAssembler(1000)
    asm.feed(BINARY, False, b"x" * 600)
    with pytest.raises(ProtocolViolation) as info:
        asm.feed(CONT, True, b"x" * 401)
    assert info.value.close_code == CloseCode.MESSAGE_TOO_BIG
    assert not asm.in_progress


def test_size_limit_is_inclusive() -> None:
    assert MessageAssembler(4).feed(BINARY, True, b"1234") == (BINARY, b"1234")
    with pytest.raises(ProtocolViolation):
        check_message(BINARY, b"12345", 4)


def test_invalid_utf8_in_single_frame_closes_1007() -> None:
    with pytest.raises(ProtocolViolation) as info:
        MessageAssembler(1000).feed(TEXT, True, b"\xff")
    assert info.value.close_code == CloseCode.INVALID_DATA


def test_invalid_utf8_fails_on_the_fragment_that_carries_it() -> None:
    asm = MessageAssembler(1000)
    asm.feed(TEXT, False, b"ok ")
    with pytest.raises(ProtocolViolation) as info:
        asm.feed(CONT, False, b"\xed\xa0\x80")  # a UTF-16 surrogate: never valid UTF-8
    assert info.value.close_code == CloseCode.INVALID_DATA


def test_utf8_sequence_split_between_fragments_is_valid() -> None:
    euro = "€".encode()
    asm = MessageAssembler(1000)
    asm.feed(TEXT, False, euro[:1])
    asm.feed(CONT, False, euro[1:2])
    assert asm.feed(CONT, True, euro[2:]) == (TEXT, euro)


def test_truncated_utf8_at_the_end_of_a_message_closes_1007() -> None:
    asm = MessageAssembler(1000)
    asm.feed(TEXT, False, b"a")
    with pytest.raises(ProtocolViolation) as info:
        asm.feed(CONT, True, "€".encode()[:2])
    assert info.value.close_code == CloseCode.INVALID_DATA


def test_binary_is_not_checked_for_utf8() -> None:
    assert MessageAssembler(1000).feed(BINARY, True, b"\xff\xfe") == (BINARY, b"\xff\xfe")


def test_a_message_of_exactly_the_limit_in_64_byte_fragments_passes() -> None:
    asm = MessageAssembler(64 * 100)
    for _ in range(99):
        assert asm.feed(BINARY if not asm.in_progress else CONT, False, b"x" * 64) is None
    assert asm.feed(CONT, True, b"y" * 64) == (BINARY, b"x" * 64 * 99 + b"y" * 64)


def test_empty_continuations_count_towards_the_limit() -> None:
    """A flood of empty fragments ends in 1009 after max_size / 64 of them, not never."""
    limit = 1024 * 1024
    asm = MessageAssembler(limit)
    asm.feed(TEXT, False, b"")
    fed = 1
    with pytest.raises(ProtocolViolation) as info:
        while fed < 10 * limit:  # bounded: fails the test instead of looping forever
            asm.feed(CONT, False, b"")
            fed += 1
    assert info.value.close_code == CloseCode.MESSAGE_TOO_BIG
    assert fed == limit // MIN_FRAGMENT_WEIGHT
    assert not asm.in_progress


def test_one_byte_fragments_of_a_big_message_are_bounded() -> None:
    limit = 1024 * 1024
    asm = MessageAssembler(limit)
    asm.feed(BINARY, False, b"x")
    with pytest.raises(ProtocolViolation):
        for _ in range(limit):
            asm.feed(CONT, False, b"x")
