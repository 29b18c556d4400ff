"""Fuzzing (hypothesis): arbitrary bytes into every codec's decoder and arbitrary requests into
the handshake checks. Nothing may raise except the documented refusals; every input gets a
defined answer."""

from __future__ import annotations

import msgspec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from switchboard.protocol.codecs import JSON, MSGPACK
from switchboard.protocol.envelope import Envelope, EnvelopeError
from switchboard.protocol.proto.codec import PROTO
from switchboard.security.auth import Authenticator, AuthSettings, find_token, redact_query
from switchboard.security.gate import Admission, HandshakeGate, Refusal
from switchboard.security.limits import AddressLimits, AddressLimitSettings
from switchboard.security.origin import OriginPolicy

from .keys import SECRET

FAST = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

json_like = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)
envelope_like = st.dictionaries(
    st.sampled_from(["type", "id", "data", "channel", "to", "recover_from", "token", "x"]),
    json_like,
    max_size=6,
)


def decode_defined(codec_decode: object, explain: object, payload: bytes) -> None:
    try:
        envelope = codec_decode(payload)  # type: ignore[operator]
    except msgspec.DecodeError:
        assert isinstance(explain(payload), EnvelopeError)  # type: ignore[operator]
    except EnvelopeError:
        pass
    else:
        assert isinstance(envelope, Envelope) and isinstance(envelope.type, str)


@FAST
@given(st.binary(max_size=512))
def test_every_codec_answers_any_bytes(payload: bytes) -> None:
    for codec in (JSON, MSGPACK, PROTO):
        decode_defined(codec.decode, codec.explain, payload)


@FAST
@given(envelope_like)
def test_envelope_shaped_input_in_json_and_msgpack(message: dict[str, object]) -> None:
    decode_defined(JSON.decode, JSON.explain, msgspec.json.encode(message))
    decode_defined(MSGPACK.decode, MSGPACK.explain, msgspec.msgpack.encode(message))


header_names = st.sampled_from(
    ["Authorization", "Cookie", "Origin", "Sec-WebSocket-Protocol", "X-Forwarded-For", "X-Other"]
)
header_values = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=0x2FF), max_size=80)
paths = st.binary(max_size=80).map(lambda b: b"/ws?" + b)

GATE = HandshakeGate(
    OriginPolicy(["https://app.example.com", "https://*.example.org"], require=False),
    Authenticator(AuthSettings(secret=SECRET)),
    AddressLimits(
        AddressLimitSettings(max_per_address=1000, ban_after=10**9, trusted_proxies=("10.0.0.0/8",))
    ),
)


@FAST
@given(
    paths,
    st.dictionaries(header_names, header_values, max_size=6),
    st.sampled_from(["127.0.0.1", "10.1.2.3", "::1", "garbage"]),
)
def test_handshake_checks_answer_any_request(
    path: bytes, headers: dict[str, str], peer: str
) -> None:
    outcome = GATE.check(path, headers, peer)
    assert isinstance(outcome, Admission | Refusal)
    if isinstance(outcome, Refusal):
        assert outcome.status in (401, 403, 429)
    token = find_token(path, headers, "token")
    assert token is None or isinstance(token, str)
    assert isinstance(redact_query(path.decode("latin-1")), str)
