"""Per-address limits, bans and X-Forwarded-For, without a socket."""

from __future__ import annotations

import types

import pytest

from switchboard.security import limits as limits_module
from switchboard.security.limits import (
    AddressLimits,
    AddressLimitSettings,
    address_of,
    trusted_proxies,
)


class Clock:
    """Stands in for the module's ``time``: the tests move time instead of waiting for it."""

    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(limits_module, "time", types.SimpleNamespace(monotonic=fake.monotonic))
    return fake


def test_concurrent_connections_per_address() -> None:
    limits = AddressLimits(AddressLimitSettings(max_per_address=2))
    assert limits.admit("1.1.1.1") is None
    assert limits.admit("1.1.1.1") is None
    assert limits.admit("1.1.1.1") == "too many connections from this address"
    assert limits.admit("2.2.2.2") is None  # others are not affected
    limits.closed("1.1.1.1")
    assert limits.admit("1.1.1.1") is None


def test_connection_rate_per_address(clock: Clock) -> None:
    limits = AddressLimits(AddressLimitSettings(rate=2, burst=3))
    assert [limits.admit("1.1.1.1") for _ in range(4)] == [
        None,
        None,
        None,
        "connection rate exceeded",
    ]
    clock.now += 0.4  # 2/s: not yet a whole token
    assert limits.admit("1.1.1.1") == "connection rate exceeded"
    clock.now += 0.2  # 0.6 s in all: one token, used at once
    assert limits.admit("1.1.1.1") is None
    assert limits.admit("1.1.1.1") == "connection rate exceeded"


def test_strikes_ban_then_the_ban_ends(clock: Clock) -> None:
    limits = AddressLimits(
        AddressLimitSettings(max_per_address=1, ban_after=3, ban_window=10, ban_duration=0.3)
    )
    assert limits.admit("6.6.6.6") is None
    for _ in range(3):
        assert limits.admit("6.6.6.6") == "too many connections from this address"
    assert limits.banned("6.6.6.6")
    assert limits.admit("6.6.6.6") == "address banned"
    limits.strike("7.7.7.7", "message flood")
    assert not limits.banned("7.7.7.7")
    clock.now += 0.29
    assert limits.banned("6.6.6.6")
    clock.now += 0.02  # past ban_duration
    assert not limits.banned("6.6.6.6")


@pytest.mark.parametrize(
    ("peer", "forwarded", "client"),
    [
        ("10.0.0.5", "203.0.113.7", "203.0.113.7"),  # from a trusted proxy
        ("10.0.0.5", "198.51.100.1, 203.0.113.7, 10.0.0.9", "203.0.113.7"),  # right-most untrusted
        ("198.51.100.9", "203.0.113.7", "198.51.100.9"),  # untrusted peer: header ignored
        ("10.0.0.5", "not-an-ip", "10.0.0.5"),  # malformed chain: ignored
        ("10.0.0.5", None, "10.0.0.5"),
    ],
)
def test_forwarded_for_only_from_trusted_proxies(
    peer: str, forwarded: str | None, client: str
) -> None:
    limits = AddressLimits(AddressLimitSettings(max_per_address=5, trusted_proxies=("10.0.0.0/8",)))
    headers = {} if forwarded is None else {"X-Forwarded-For": forwarded}
    assert limits.client_address(peer, headers) == client


def test_helpers() -> None:
    assert trusted_proxies(["10.0.0.1", "192.168.0.0/16"]) == ("10.0.0.1/32", "192.168.0.0/16")
    with pytest.raises(ValueError):
        trusted_proxies(["not a network"])
    assert address_of("1.2.3.4:5678") == "1.2.3.4"
    assert address_of("::1:5678") == "::1"
    assert address_of("203.0.113.7 via 10.0.0.5:4444") == "203.0.113.7"
