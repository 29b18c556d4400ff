"""Token verification and token sources, without a socket."""

from __future__ import annotations

import time
from typing import Any

import jwt
import pytest

from switchboard.security.auth import (
    Authenticator,
    AuthError,
    AuthSettings,
    SeenTokenIds,
    find_token,
    redact_query,
)

from .keys import SECRET, confused, ec_pair, forged_none, rsa_pair, token


def authenticator(**settings: object) -> Authenticator:
    options: dict[str, object] = {"secret": SECRET, "public_key": rsa_pair()[1]}
    options.update(settings)
    return Authenticator(AuthSettings(**options))  # type: ignore[arg-type]


@pytest.mark.parametrize("algorithm", ["HS256", "HS384", "HS512"])
def test_hmac_tokens_verify_with_the_secret(algorithm: str) -> None:
    identity = authenticator().verify(token(algorithm=algorithm, roles=["member", "admin"]))
    assert identity.user == "alice"
    assert identity.roles == {"member", "admin"}
    assert identity.expires_at is not None and identity.expires_at > time.time()


def test_rsa_and_ec_tokens_verify_with_the_public_key() -> None:
    rsa_private, _ = rsa_pair()
    assert authenticator().verify(token(key=rsa_private, algorithm="RS256")).user == "alice"
    ec_private, ec_public = ec_pair()
    signed = token(key=ec_private, algorithm="ES256", roles="a b")
    identity = authenticator(public_key=ec_public).verify(signed)
    assert identity.roles == {"a", "b"}


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda: token(expires_in=-60), "token expired"),
        (lambda: token(key="another-secret-another-secret-another-secret"), "invalid token"),
        (lambda: token(sub=None), "token lacks the 'sub' claim"),
        (lambda: token(expires_in=None), "token lacks the 'exp' claim"),
        (lambda: token(nbf=int(time.time()) + 600), "token not yet valid"),
        (forged_none, "algorithm 'none' not accepted"),
        (lambda: "not-a-jwt", "malformed token"),
        (confused, "invalid token"),
    ],
    ids=[
        "expired",
        "forged",
        "no-sub",
        "no-exp",
        "not-yet-valid",
        "alg-none",
        "garbage",
        "confusion",
    ],
)
def test_bad_tokens_are_refused_with_a_reason(make: object, reason: str) -> None:
    with pytest.raises(AuthError) as refused:
        authenticator().verify(make())  # type: ignore[operator]
    assert refused.value.reason == reason
    assert (refused.value.status, refused.value.close_code) == (403, 4403)


def test_confusion_fails_even_when_only_the_public_key_is_configured() -> None:
    with pytest.raises(AuthError):
        authenticator(secret=None).verify(confused())
    with pytest.raises(AuthError, match="HS256 not accepted"):
        authenticator(secret=None).verify(token())


def test_audience_issuer_and_leeway() -> None:
    strict = authenticator(audience="chat", issuer="https://id.example")
    good = token(aud="chat", iss="https://id.example")
    assert strict.verify(good).user == "alice"
    with pytest.raises(AuthError, match="wrong audience"):
        strict.verify(token(aud="billing", iss="https://id.example"))
    with pytest.raises(AuthError, match="wrong issuer"):
        strict.verify(token(aud="chat", iss="https://evil.example"))
    just_expired = token(expires_in=-5)
    assert authenticator(leeway=30).verify(just_expired).user == "alice"
    with pytest.raises(AuthError, match="expired"):
        authenticator(leeway=0).verify(just_expired)


def test_missing_token_is_401_unless_anonymous_is_allowed() -> None:
    with pytest.raises(AuthError) as refused:
        authenticator().authenticate(b"/ws", {})
    assert (refused.value.status, refused.value.close_code) == (401, 4401)
    assert authenticator(anonymous=True).authenticate(b"/ws", {}).user is None
    with pytest.raises(AuthError):  # anonymous allowed, but a bad token is still refused
        authenticator(anonymous=True).authenticate(b"/ws?token=bad", {})


def test_token_sources_in_documented_order() -> None:
    headers = {
        "Authorization": "Bearer from-header",
        "Cookie": "theme=dark; token=from-cookie",
        "Sec-WebSocket-Protocol": "v1.json, bearer.from-protocol",
    }
    assert find_token(b"/ws?token=from-query", headers, "token") == "from-header"
    del headers["Authorization"]
    assert find_token(b"/ws?a=1&token=from-query", headers, "token") == "from-query"
    assert find_token(b"/ws", headers, "token") == "from-cookie"
    del headers["Cookie"]
    assert find_token(b"/ws", headers, "token") == "from-protocol"
    assert find_token(b"/ws", {"Authorization": "Basic abc"}, "token") is None
    assert find_token(b"/ws", {"Cookie": 'broken="; token'}, "token") is None


def test_redact_query_hides_the_token_only() -> None:
    secret = jwt.encode({"sub": "x"}, SECRET, algorithm="HS256")
    redacted = redact_query(f"/ws?room=1&token={secret}&x=2")
    assert secret not in redacted
    assert redacted == "/ws?room=1&token=[redacted]&x=2"


@pytest.mark.parametrize(
    "claims",
    [
        {"exp": 10**400},  # a float overflow in our own use of exp
        {"exp": 10**400, "jti": "j-1"},  # and in replay protection's
        {"exp": 1e400},  # JSON's 1e400 is inf
        {"exp": float("nan")},
        {"exp": 1e300, "nbf": 10**400},
        {"exp": 1e300, "nbf": float("-inf")},
        {"exp": 1e300, "iat": 1e400},
    ],
    ids=["huge-int-exp", "huge-exp-jti", "inf-exp", "nan-exp", "huge-nbf", "ninf-nbf", "inf-iat"],
)
def test_absurd_time_claims_are_an_invalid_token(claims: dict[str, Any]) -> None:
    with pytest.raises(AuthError) as refused:
        authenticator(replay_protection=True).verify(token(expires_in=None, **claims))
    assert (refused.value.status, refused.value.close_code) == (403, 4403)
    assert refused.value.reason in ("invalid token", "token not yet valid")


@pytest.mark.parametrize(
    ("path", "redacted"),
    [
        ("/ws?%74oken=SECRET", "/ws?%74oken=[redacted]"),
        ("/ws?a=1&t%6Fken=SECRET&b=2", "/ws?a=1&t%6Fken=[redacted]&b=2"),
        ("/ws?%74%6F%6B%65%6E=SECRET", "/ws?%74%6F%6B%65%6E=[redacted]"),
        ("/ws?TOKEN=SECRET", "/ws?TOKEN=[redacted]"),
        ("/ws?access_token=SECRET&jwt=SECRET", "/ws?access_token=[redacted]&jwt=[redacted]"),
        ("/ws?token=SECRET&token=SECRET", "/ws?token=[redacted]&token=[redacted]"),
        ("/ws?token=SEC=RET", "/ws?token=[redacted]"),
    ],
)
def test_redact_query_reads_names_as_find_token_does(path: str, redacted: str) -> None:
    assert redact_query(path) == redacted
    if find_token(path.encode(), {}, "token") is not None:
        assert "SEC" not in redact_query(path)


def test_replay_protection_refuses_a_token_id_seen_before() -> None:
    guarded = authenticator(replay_protection=True)
    once = token(jti="t-1")
    assert guarded.verify(once).user == "alice"
    with pytest.raises(AuthError, match="token already used"):
        guarded.verify(once)
    assert guarded.verify(token(jti="t-2")).user == "alice"
    plain = token()  # no jti: nothing to track
    assert guarded.verify(plain).user == guarded.verify(plain).user == "alice"
    assert authenticator().verify(once).user == "alice"  # off by default


def test_seen_token_ids_forget_expired_ones() -> None:
    seen = SeenTokenIds()
    seen.SWEEP_EVERY = 3  # type: ignore[misc]
    now = time.time()
    assert seen.first_use("old", now - 1)  # already expired when stored
    assert seen.first_use("old", now + 60)  # so it may be used again
    assert not seen.first_use("old", now + 60)
    seen.first_use("a", now - 1)
    assert len(seen) == 1  # the sweep on the third insertion dropped "a"
