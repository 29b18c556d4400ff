"""The handshake gate: the order of its checks and the answer each refusal gets."""

from __future__ import annotations

from typing import Any

from structlog.testing import capture_logs

from switchboard.security.auth import Authenticator, AuthSettings
from switchboard.security.gate import Admission, HandshakeGate, Refusal
from switchboard.security.limits import AddressLimits, AddressLimitSettings
from switchboard.security.origin import OriginPolicy

from .keys import SECRET, token

APP = "https://app.example.com"


def gate(*, in_band: bool = False, auth: bool = True, **limits: Any) -> HandshakeGate:
    return HandshakeGate(
        OriginPolicy([APP]),
        Authenticator(AuthSettings(secret=SECRET)) if auth else None,
        AddressLimits(AddressLimitSettings(**limits)) if limits else None,
        in_band=in_band,
    )


def bearer(jwt: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {jwt}", "Origin": APP}


def refusal(outcome: Admission | Refusal) -> tuple[int, int, str, bool, str]:
    assert isinstance(outcome, Refusal), outcome
    return outcome.status, outcome.close_code, outcome.reason, outcome.in_band, outcome.kind


def test_a_valid_token_is_admitted_as_its_user() -> None:
    outcome = gate().check(b"/ws", bearer(token("ann", roles=["admin"])), "1.2.3.4")
    assert isinstance(outcome, Admission)
    assert (outcome.identity.user, outcome.identity.roles) == ("ann", frozenset({"admin"}))
    assert (outcome.address, outcome.counted) == ("1.2.3.4", False)  # no limits: not counted


def test_refusals_get_the_status_and_close_code_a_client_can_act_on() -> None:
    g = gate()
    no_token = g.check(b"/ws", {"Origin": APP}, "1.2.3.4")
    assert refusal(no_token) == (401, 4401, "authentication required", False, "auth_missing")
    bad = g.check(b"/ws", bearer("not.a.jwt"), "1.2.3.4")
    assert refusal(bad) == (403, 4403, "malformed token", False, "auth_invalid")
    expired = g.check(b"/ws", bearer(token(expires_in=-3600)), "1.2.3.4")
    assert refusal(expired)[:3] == (403, 4403, "token expired")
    foreign = g.check(b"/ws", {**bearer(token()), "Origin": "https://evil.example"}, "1.2.3.4")
    assert refusal(foreign) == (403, 1008, "origin not allowed", False, "origin")


def test_in_band_refusals_are_marked_for_a_close_after_the_upgrade() -> None:
    outcome = gate(in_band=True).check(b"/ws", {"Origin": APP}, "1.2.3.4")
    assert refusal(outcome) == (401, 4401, "authentication required", True, "auth_missing")


def test_the_origin_is_checked_before_the_token() -> None:
    # A page on another site must not learn whether its (stolen) token is valid.
    outcome = gate().check(b"/ws", {**bearer("garbage"), "Origin": "https://evil.example"}, "h")
    assert refusal(outcome)[4] == "origin"


def test_address_limits_count_admissions_and_refuse_past_the_limit() -> None:
    g = gate(auth=False, max_per_address=1)
    first = g.check(b"/ws", {"Origin": APP}, "5.5.5.5")
    assert isinstance(first, Admission) and first.counted
    second = g.check(b"/ws", {"Origin": APP}, "5.5.5.5")
    assert refusal(second) == (
        429, 4001, "too many connections from this address", False, "address_limit"
    )  # fmt: skip
    assert g.limits is not None
    g.limits.closed("5.5.5.5")
    assert isinstance(g.check(b"/ws", {"Origin": APP}, "5.5.5.5"), Admission)


def test_bad_tokens_are_strikes_towards_a_ban_and_a_ban_refuses_first() -> None:
    g = gate(ban_after=3)
    for _ in range(3):
        refusal(g.check(b"/ws", bearer("junk"), "6.6.6.6"))
    outcome = g.check(b"/ws", bearer(token()), "6.6.6.6")  # even with a good token now
    assert refusal(outcome) == (429, 4001, "address banned", False, "banned")
    assert isinstance(g.check(b"/ws", bearer(token()), "7.7.7.7"), Admission)


def test_the_per_user_limit_counts_the_users_open_connections() -> None:
    g = gate()
    open_now = {"ann": 2}
    g.limit_users(2, lambda user: open_now.get(user, 0))
    full = g.check(b"/ws", bearer(token("ann")), "1.2.3.4")
    assert refusal(full) == (429, 4001, "too many connections for this user", False, "user_limit")
    assert isinstance(g.check(b"/ws", bearer(token("bob")), "1.2.3.4"), Admission)


def test_a_refusal_is_logged_once_per_address_with_the_token_redacted() -> None:
    g = gate()
    secret_token = token("ann", expires_in=-3600)
    with capture_logs() as logs:
        for _ in range(5):
            g.check(f"/ws?token={secret_token}&x=1".encode(), {"Origin": APP}, "8.8.8.8")
    (line,) = [log for log in logs if log["event"] == "handshake_rejected"]
    assert line["path"] == "/ws?token=[redacted]&x=1"
    assert line["reason"] == "token expired"
    assert secret_token not in str(logs)
