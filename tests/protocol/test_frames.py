"""Server frame encoding, checked against the websockets package's frame parser."""

from __future__ import annotations

import pytest
from websockets.frames import Opcode as WsOpcode

from switchboard.protocol.frames import PING_FRAME, Opcode, encode_frame

from ..rawclient import parse_server_frame


@pytest.mark.parametrize("size", [0, 1, 125, 126, 65535, 65536, 300_000])
def test_lengths_in_every_header_form(size: int) -> None:
    payload = bytes(range(256)) * (size // 256) + bytes(range(size % 256))
    frame = parse_server_frame(encode_frame(Opcode.BINARY, payload))
    assert frame.opcode is WsOpcode.BINARY
    assert frame.fin
    assert frame.data == payload


def test_ping_frame_is_an_empty_ping() -> None:
    frame = parse_server_frame(PING_FRAME)
    assert frame.opcode is WsOpcode.PING
    assert frame.data == b""
