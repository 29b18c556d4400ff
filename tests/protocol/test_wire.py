"""Wires: a codec's frames, compressed only when negotiated and past the threshold."""

from __future__ import annotations

import msgspec

from switchboard.protocol.codecs import JSON, MSGPACK
from switchboard.protocol.envelope import Ack
from switchboard.protocol.frames import Opcode, compressed_frame
from switchboard.protocol.wire import PLAIN_JSON, Wire

from ..core.fakes import parse_frames


class Marker:
    """A stand-in compressor: marks its frames (RSV1) and records what it was given."""

    def __init__(self, threshold: int) -> None:
        self.threshold = threshold
        self.calls: list[tuple[int, bytes]] = []

    def frame(self, opcode: int, payload: bytes) -> bytes:
        self.calls.append((opcode, payload))
        return compressed_frame(opcode, b"z" + payload)


def test_plain_wires_frame_in_their_codecs_opcode() -> None:
    (text,) = parse_frames(PLAIN_JSON.frame(Ack(id=1)))
    assert (text.opcode, text.rsv1) == (Opcode.TEXT, False)
    assert msgspec.json.decode(text.payload) == {"type": "ack", "id": 1}
    (binary,) = parse_frames(Wire(MSGPACK).frame({"type": "x", "data": b"\x01"}))
    assert binary.opcode == Opcode.BINARY
    assert msgspec.msgpack.decode(binary.payload) == {"type": "x", "data": b"\x01"}


def test_only_payloads_at_or_past_the_threshold_are_compressed() -> None:
    compressor = Marker(threshold=20)
    wire = Wire(JSON, compressor)
    short = wire.frame_payload(b"x" * 19)
    at = wire.frame_payload(b"y" * 20)
    (plain,) = parse_frames(short)
    (squeezed,) = parse_frames(at)
    assert (plain.rsv1, plain.payload) == (False, b"x" * 19)
    assert (squeezed.rsv1, squeezed.opcode, squeezed.payload) == (
        True,
        Opcode.TEXT,
        b"z" + b"y" * 20,
    )
    assert compressor.calls == [(Opcode.TEXT, b"y" * 20)]


def test_a_compressing_wire_frames_whole_messages_through_the_compressor() -> None:
    compressor = Marker(threshold=0)
    wire = Wire(MSGPACK, compressor)
    (frame,) = parse_frames(wire.frame({"type": "ack", "id": 2}))
    assert frame.rsv1 and frame.opcode == Opcode.BINARY
    assert msgspec.msgpack.decode(frame.payload[1:]) == {"type": "ack", "id": 2}


def test_repr_says_codec_and_compression() -> None:
    assert repr(PLAIN_JSON) == "<Wire v1.json>"
    assert repr(Wire(MSGPACK, Marker(0))) == "<Wire v1.binary deflate>"
