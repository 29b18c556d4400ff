"""Fuzzing (hypothesis): arbitrary bytes into every codec's decoder, envelope-shaped messages
checked against what the protocol says they mean, arbitrary requests into the handshake
checks and tampered tokens into verification. Each input must get the answer a client is
promised: the right error code or close code, its data back unchanged, and never a secret in
an error message or a log line."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs

import jwt
import msgspec
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from structlog.testing import capture_logs

from switchboard.errors import AuthError, EnvelopeError
from switchboard.protocol.codecs import JSON, MSGPACK, Codec
from switchboard.protocol.codes import ErrorCode
from switchboard.protocol.envelope import EchoReply, encode_error
from switchboard.protocol.proto.codec import PROTO
from switchboard.security.auth import (
    TOKEN_PARAMETERS,
    Authenticator,
    AuthSettings,
    find_token,
    redact_query,
)
from switchboard.security.gate import Admission, HandshakeGate, Refusal
from switchboard.security.limits import AddressLimits, AddressLimitSettings
from switchboard.security.origin import OriginPolicy

from .keys import SECRET, confused, forged_none, token

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
# Field values that are sometimes right: a string type, an id, a target, a position.
field_like = (
    json_like
    | st.fixed_dictionaries({}, optional={"user": st.text() | st.none(), "connection": st.text()})
    | st.fixed_dictionaries(
        {"offset": st.integers(min_value=0, max_value=2**63 - 1), "epoch": st.text()}
    )
)
envelope_like = st.dictionaries(
    st.sampled_from(["type", "id", "data", "channel", "to", "recover_from", "token", "x"]),
    field_like,
    max_size=6,
)


# --- what the protocol says an envelope is ----------------------------------------------------


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _optional_str(value: object) -> bool:
    return value is None or isinstance(value, str)


def is_envelope(message: object) -> bool:
    """docs/protocol.md: an object with a string ``type``, an optional string or integer
    ``id``, any ``data``, and the typed optional fields of the requests that use them."""
    if not isinstance(message, dict) or not all(isinstance(key, str) for key in message):
        return False
    to = message.get("to")
    position = message.get("recover_from")
    return (
        isinstance(message.get("type"), str)
        and (message.get("id") is None or isinstance(message["id"], str) or _is_int(message["id"]))
        and _optional_str(message.get("channel"))
        and _optional_str(message.get("token"))
        and _optional_str(message.get("traceparent"))
        and (
            to is None
            or (
                isinstance(to, dict)
                and set(to) <= {"user", "connection"}
                and all(_optional_str(value) for value in to.values())
            )
        )
        and (
            position is None
            or (
                isinstance(position, dict)
                and _is_int(position.get("offset"))
                and isinstance(position.get("epoch"), str)
            )
        )
    )


def readable_id(message: object) -> object:
    """The request id an error can carry: the message's, when the server could read it."""
    if not isinstance(message, dict):
        return None
    request_id = message.get("id")
    return request_id if isinstance(request_id, str) or _is_int(request_id) else None


def generic_decode(codec: Codec) -> Any:
    return msgspec.json.decode if codec is JSON else msgspec.msgpack.decode


def refusal_of(codec: Codec, payload: bytes) -> EnvelopeError:
    """The error a client gets for ``payload``, which ``codec.decode`` must refuse."""
    try:
        codec.decode(payload)
    except msgspec.DecodeError:
        error = codec.explain(payload)
    except EnvelopeError as exc:
        error = exc
    else:
        raise AssertionError(f"{codec.name} accepted {payload!r}")
    # The error frame the client gets is a well-formed one that says the same.
    frame = msgspec.json.decode(encode_error(error.code, error.message, error.request_id))
    assert frame["code"] == error.code.value and frame["message"] == error.message
    assert frame.get("id") == error.request_id
    return error


def assert_echoes_back(codec: Codec, payload: bytes, message: dict[str, Any]) -> None:
    """``payload`` decodes as ``message`` says, and an echo gives the client its data back."""
    envelope = codec.decode(payload)
    assert envelope.type == message["type"]
    assert envelope.id == message.get("id")
    assert envelope.channel == message.get("channel")
    assert envelope.token == message.get("token")
    sent_data = message.get("data")
    assert envelope.value() == sent_data
    reply = generic_decode(codec)(codec.encode(EchoReply(data=envelope.data, id=envelope.id)))
    expected = {"type": "echo_reply", "data": sent_data}
    if envelope.id is not None:
        expected["id"] = envelope.id
    assert reply == expected


@FAST
@given(st.binary(max_size=512))
def test_every_codec_gives_any_bytes_a_defined_answer(payload: bytes) -> None:
    for codec in (JSON, MSGPACK, PROTO):
        try:
            codec.decode(payload)
        except (msgspec.DecodeError, EnvelopeError):
            error = refusal_of(codec, payload)
            if codec is not JSON:
                assert error.code is ErrorCode.INVALID_MESSAGE_FORMAT
    check_json_error_codes(payload)


def check_json_error_codes(payload: bytes) -> None:
    """``INVALID_JSON`` means the text is not JSON; ``INVALID_MESSAGE_FORMAT`` that it is,
    but not an envelope (docs/protocol.md). The standard library's strict parser decides."""
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError:
        return  # a text message that is not UTF-8 is closed 1007 before any codec sees it
    try:
        parsed = _strict_json(text)
    except (ValueError, RecursionError):
        code = refusal_of(JSON, payload).code
        if _starts_like_json(text):
            # The decoder may judge the shape of what it read (``[``, ``{"type": 5,``) before
            # it meets the end or the junk: either code then.
            assert code in (ErrorCode.INVALID_JSON, ErrorCode.INVALID_MESSAGE_FORMAT)
        else:
            assert code is ErrorCode.INVALID_JSON
        return
    if _duplicates_or_lone_surrogates(text, parsed):
        return  # JSON, but with no single meaning: either answer will do
    if is_envelope(parsed):
        assert JSON.decode(payload).type == parsed["type"]
    else:
        assert refusal_of(JSON, payload).code is ErrorCode.INVALID_MESSAGE_FORMAT


def _strict_json(text: str) -> Any:
    def refuse(constant: str) -> None:
        raise ValueError(f"{constant} is not JSON")

    return json.loads(text, parse_constant=refuse)


def _starts_like_json(text: str) -> bool:
    """True when the first character could begin a JSON value."""
    stripped = text.lstrip(" \t\n\r")
    return bool(stripped) and stripped[0] in '{["-0123456789tfn'


def _duplicates_or_lone_surrogates(text: str, parsed: Any) -> bool:
    duplicated = False

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        nonlocal duplicated
        duplicated |= len({key for key, _ in items}) != len(items)
        return dict(items)

    json.loads(text, object_pairs_hook=pairs)
    try:
        json.dumps(parsed, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:  # "\ud800": an escape of half a character
        return True
    return duplicated


@FAST
@given(envelope_like)
def test_envelope_shaped_input_is_accepted_exactly_when_the_protocol_says(
    message: dict[str, Any],
) -> None:
    for codec, encode in ((JSON, msgspec.json.encode), (MSGPACK, msgspec.msgpack.encode)):
        payload = encode(message)
        # What the client meant: its own message as its codec carries it (JSON has no
        # infinity, for one: it travels as null).
        meant = generic_decode(codec)(payload)
        if is_envelope(meant):
            assert_echoes_back(codec, payload, meant)
        else:
            error = refusal_of(codec, payload)
            assert error.code is ErrorCode.INVALID_MESSAGE_FORMAT  # well-formed, wrong shape
            assert error.request_id == readable_id(meant)


# --- the handshake -----------------------------------------------------------------------------

VALID = token("alice", expires_in=3600)
#: Tokens a client may present: one good, the rest refused for a reason each.
TOKENS = [
    VALID,
    forged_none(),
    confused(),
    token("alice", expires_in=-3600),
    token("alice", key="another-secret-" * 4),
    token(None),
    token("alice", algorithm="HS512")[:-5],
]
ALLOWED_ORIGINS = ("https://app.example.com", "https://a.example.org")
CARRIERS = {
    "Authorization": "Bearer {}",
    "Cookie": "theme=dark; token={}",
    "Sec-WebSocket-Protocol": "v1.json, bearer.{}",
}

text_values = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=0x2FF), max_size=80)
presented = st.sampled_from(TOKENS)


def header_value(name: str) -> st.SearchStrategy[str]:
    if name == "Origin":
        return text_values | st.sampled_from(ALLOWED_ORIGINS)
    if name in CARRIERS:
        return text_values | presented.map(CARRIERS[name].format)
    return text_values


header_names = st.sampled_from(
    ["Authorization", "Cookie", "Origin", "Sec-WebSocket-Protocol", "X-Forwarded-For", "X-Other"]
)
request_headers = st.lists(
    header_names.flatmap(lambda name: st.tuples(st.just(name), header_value(name))), max_size=6
).map(dict)
paths = st.binary(max_size=80).map(lambda b: b"/ws?" + b) | presented.map(
    lambda t: f"/ws?x=1&token={t}".encode()
)


def fresh_gate() -> HandshakeGate:
    return HandshakeGate(
        OriginPolicy(ALLOWED_ORIGINS, require=False),
        Authenticator(AuthSettings(secret=SECRET)),
        AddressLimits(
            AddressLimitSettings(
                max_per_address=1000, ban_after=10**9, trusted_proxies=("10.0.0.0/8",)
            )
        ),
    )


@FAST
@given(
    paths,
    request_headers,
    st.sampled_from(["127.0.0.1", "10.1.2.3", "::1", "garbage"]),
)
def test_every_handshake_gets_the_answer_its_origin_and_token_deserve(
    path: bytes, headers: dict[str, str], peer: str
) -> None:
    with capture_logs() as logs:
        outcome = fresh_gate().check(path, headers, peer)
    origin = headers.get("Origin")
    presented_token = find_token(path, headers, "token")
    if origin and origin not in ALLOWED_ORIGINS:  # an empty Origin is no Origin
        expected: tuple[object, ...] = (403, 1008)
    elif presented_token is None:
        expected = (401, 4401)
    elif presented_token == VALID:
        expected = ("admitted", "alice")
    else:
        expected = (403, 4403)
    if isinstance(outcome, Admission):
        assert ("admitted", outcome.identity.user) == expected
    else:
        assert isinstance(outcome, Refusal)
        assert (outcome.status, outcome.close_code) == expected, outcome.reason
        # The reason is for the client and the logs: never the token or the key.
        for secret in (SECRET, *TOKENS):
            assert secret not in outcome.reason
    logged = repr(logs)
    for secret in (SECRET, *TOKENS):
        assert secret not in logged


token_names = st.sampled_from(["token", "TOKEN", "%74oken", "t%6Fken", "access_token", "jwt", "x"])
query_items = st.tuples(token_names | st.text(max_size=8), st.text(max_size=12)).map(
    lambda item: f"{item[0]}={item[1]}"
)
queries = st.lists(query_items | st.text(max_size=12), max_size=5).map("&".join)


@FAST
@given(st.text(max_size=12).map(lambda p: "/" + p.replace("?", "")), queries)
def test_a_redacted_path_gives_no_token_parameter_a_value(base: str, query: str) -> None:
    path = f"{base}?{query}".encode()
    redacted = redact_query(path.decode("latin-1"))  # as the gate and the handshake log it
    _, _, left = redacted.partition("?")
    assert redacted == path.decode("latin-1").partition("?")[0] + "?" + left
    for name, values in parse_qs(left, keep_blank_values=True).items():
        if name.strip().lower() in TOKEN_PARAMETERS:
            assert set(values) <= {"[redacted]", ""}, redacted
    assert find_token(redacted.encode("latin-1"), {}, "token") in (None, "[redacted]")


# --- tampered tokens ---------------------------------------------------------------------------

TOKEN_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=+/ "
AUTH = Authenticator(AuthSettings(secret=SECRET))


def _same_signed_token(candidate: str, original: str) -> bool:
    """True when ``candidate`` differs only in how its signature is spelled (base64 padding
    bits): the very same signed header and claims, which must verify."""
    ours, theirs = candidate.split("."), original.split(".")
    if len(ours) != 3 or ours[:2] != theirs[:2]:
        return False
    try:
        return jwt.utils.base64url_decode(ours[2]) == jwt.utils.base64url_decode(theirs[2])
    except (ValueError, TypeError):
        return False


@FAST
@given(
    st.sampled_from(["replace", "insert", "delete", "cut"]),
    st.integers(min_value=0, max_value=len(VALID) - 1),
    st.sampled_from(TOKEN_ALPHABET),
)
def test_a_tampered_token_is_refused_4403_and_never_echoed(change: str, at: int, char: str) -> None:
    tampered = {
        "replace": VALID[:at] + char + VALID[at + 1 :],
        "insert": VALID[:at] + char + VALID[at:],
        "delete": VALID[:at] + VALID[at + 1 :],
        "cut": VALID[:at],
    }[change]
    assume(not _same_signed_token(tampered, VALID))
    assert AUTH.verify(VALID).user == "alice"  # the original still verifies
    with pytest.raises(AuthError) as refused:
        AUTH.verify(tampered)
    error = refused.value
    assert (error.status, error.close_code) == (403, 4403)
    for secret in (SECRET, VALID):
        assert secret not in error.reason
    if len(tampered) > 8:
        assert tampered not in error.reason
