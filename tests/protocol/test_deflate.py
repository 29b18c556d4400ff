"""permessage-deflate policy without a socket: negotiation, compress-once, decompression limits."""

from __future__ import annotations

import zlib

import pytest

from switchboard.protocol.assembler import ProtocolViolation
from switchboard.protocol.codes import CloseCode
from switchboard.protocol.deflate import Deflate, DeflateSettings
from switchboard.protocol.frames import Opcode

TEXT = Opcode.TEXT.value
BOTH_NO_TAKEOVER = "permessage-deflate; server_no_context_takeover; client_no_context_takeover"


def deflate(**settings: object) -> Deflate:
    return Deflate(DeflateSettings(**settings), max_message_size=64 * 1024)  # type: ignore[arg-type]


def raw_deflate(data: bytes) -> bytes:
    compressor = zlib.compressobj(wbits=-15)
    return (compressor.compress(data) + compressor.flush(zlib.Z_SYNC_FLUSH))[:-4]


@pytest.mark.parametrize(
    "offer",
    [None, "", "x-webkit-deflate-frame", "permessage-deflate; =;;", "permessage-deflate; bogus"],
)
def test_no_acceptable_offer_means_no_compression(offer: str | None) -> None:
    assert deflate().negotiate(offer) is None


def test_plain_offer_gets_no_context_takeover_both_ways() -> None:
    negotiated = deflate().negotiate("permessage-deflate; client_max_window_bits")
    assert negotiated is not None
    assert negotiated.header == BOTH_NO_TAKEOVER


def test_first_acceptable_offer_wins() -> None:
    negotiated = deflate().negotiate(
        "permessage-deflate; server_max_window_bits=8, "
        "permessage-deflate; server_max_window_bits=10"
    )
    assert negotiated is not None  # 8 cannot be honoured (zlib), so the second offer is taken
    assert negotiated.header == BOTH_NO_TAKEOVER + "; server_max_window_bits=10"


def test_connections_on_the_same_window_share_one_compressor() -> None:
    policy = deflate(threshold=0)
    first = policy.negotiate("permessage-deflate")
    second = policy.negotiate("permessage-deflate; client_no_context_takeover")
    smaller = policy.negotiate("permessage-deflate; server_max_window_bits=10")
    assert first is not None and second is not None and smaller is not None
    assert first.compressor is second.compressor and first.compressor.shared
    assert smaller.compressor is not first.compressor
    payload = b'{"type":"message","data":"' + b"abc" * 500 + b'"}'
    frame = first.compressor.frame(TEXT, payload)
    assert frame == first.compressor.frame(TEXT, payload)  # no state carried: same bytes
    assert frame[0] == 0x80 | 0x40 | TEXT  # FIN, RSV1 (compressed), text
    body = frame[4:] if frame[1] == 126 else frame[2:]
    assert zlib.decompressobj(wbits=-15).decompress(body + b"\x00\x00\xff\xff") == payload
    assert len(frame) < len(payload) // 10


def test_context_takeover_gives_each_connection_its_own_compressor() -> None:
    policy = deflate(context_takeover=True, threshold=0)
    one, two = policy.negotiate("permessage-deflate"), policy.negotiate("permessage-deflate")
    assert one is not None and two is not None
    assert one.header == "permessage-deflate"
    assert one.compressor is not two.compressor and not one.compressor.shared
    payload = b"the same sentence, over and over " * 4
    first, again = one.compressor.frame(TEXT, payload), one.compressor.frame(TEXT, payload)
    assert len(again) < len(first)  # the second one refers back into the kept window


def test_inflater_round_trip_and_fragments() -> None:
    negotiated = deflate().negotiate("permessage-deflate")
    assert negotiated is not None
    inflater = negotiated.inflater
    data = raw_deflate(b"hello " * 100)
    assert inflater.inflate(TEXT, True, True, data) == b"hello " * 100
    assert not inflater.wants(False)
    head, tail = data[:10], data[10:]
    first = inflater.inflate(TEXT, False, True, head)
    assert inflater.wants(False)  # the continuation frames belong to the compressed message
    rest = inflater.inflate(Opcode.CONTINUATION.value, True, False, tail)
    assert first + rest == b"hello " * 100


def test_decompression_bomb_closes_1009_and_garbage_1002() -> None:
    negotiated = deflate().negotiate("permessage-deflate")
    assert negotiated is not None
    bomb = raw_deflate(b"\x00" * (10 * 1024 * 1024))  # 10 MiB of zeros in about 10 KB
    with pytest.raises(ProtocolViolation) as too_big:
        negotiated.inflater.inflate(TEXT, True, True, bomb)
    assert too_big.value.close_code == CloseCode.MESSAGE_TOO_BIG
    again = deflate().negotiate("permessage-deflate")
    assert again is not None
    with pytest.raises(ProtocolViolation) as garbage:
        again.inflater.inflate(TEXT, True, True, b"\xff\xff\xff\xff")
    assert garbage.value.close_code == CloseCode.PROTOCOL_ERROR


def test_the_websockets_internals_deflate_relies_on_are_there() -> None:
    """``protocol/deflate.py`` uses more of ``websockets`` than its public API (its sans-I/O
    extension objects' constructor and attributes), so ``pyproject.toml`` bounds it to the
    releases tested. This fails loudly, naming what moved, when a release changes them."""
    import inspect

    import websockets
    from websockets.extensions.permessage_deflate import (
        PerMessageDeflate,
        ServerPerMessageDeflateFactory,
    )

    constructor = list(inspect.signature(PerMessageDeflate.__init__).parameters)[1:6]
    assert constructor == [
        "remote_no_context_takeover",
        "local_no_context_takeover",
        "remote_max_window_bits",
        "local_max_window_bits",
        "compress_settings",
    ], f"websockets {websockets.__version__}: PerMessageDeflate's constructor changed"
    extension = PerMessageDeflate(True, True, 15, 12, {"memLevel": 5})
    for attribute in (
        "local_no_context_takeover",
        "local_max_window_bits",
        "compress_settings",
        "decode_cont_data",
    ):
        assert hasattr(extension, attribute), f"PerMessageDeflate lost {attribute!r}"
    assert extension.local_max_window_bits == 12
    assert extension.compress_settings == {"memLevel": 5}
    factory = ServerPerMessageDeflateFactory()
    response, negotiated = factory.process_request_params([], [])
    assert isinstance(negotiated, PerMessageDeflate)
    assert isinstance(response, list)
