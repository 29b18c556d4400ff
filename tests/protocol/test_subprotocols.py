"""The subprotocols the server speaks: distinct tokens, and each one reads what it writes."""

from __future__ import annotations

import msgspec
import pytest

from switchboard.protocol.codecs import Codec
from switchboard.protocol.envelope import EchoReply
from switchboard.protocol.frames import Opcode
from switchboard.protocol.subprotocols import CODECS


def test_each_subprotocol_token_is_offered_once() -> None:
    names = [codec.name for codec in CODECS]
    assert len(set(names)) == len(names)
    assert names[0] == "v1.json"  # the default a client that offers nothing speaks


@pytest.mark.parametrize("codec", CODECS, ids=lambda codec: codec.name)
def test_a_reply_decodes_as_the_envelope_it_answers(codec: Codec) -> None:
    """What the server writes in a codec, its clients send back in the same codec."""
    data = {"list": [1, "two", None], "n": -5}
    raw = msgspec.json.encode(data) if codec.opcode == Opcode.TEXT else msgspec.msgpack.encode(data)
    payload = codec.encode(EchoReply(data=msgspec.Raw(raw), id="q1"))
    envelope = codec.decode(payload)
    assert (envelope.type, envelope.id) == ("echo_reply", "q1")
    assert envelope.value() == data
