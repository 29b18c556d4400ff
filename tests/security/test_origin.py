"""The Origin allowlist, without a socket."""

from __future__ import annotations

import pytest

from switchboard.security.origin import OriginPolicy

POLICY = OriginPolicy(["https://app.example.com", "https://*.example.org", "http://localhost:3000"])


@pytest.mark.parametrize(
    ("origin", "allowed"),
    [
        ("https://app.example.com", True),
        ("HTTPS://APP.EXAMPLE.COM", True),
        ("https://app.example.com/", True),
        ("http://app.example.com", False),  # another scheme is another origin
        ("https://evil.example.com", False),
        ("https://a.example.org", True),
        ("https://a.b.example.org", True),
        ("https://example.org", False),  # the wildcard covers subdomains only
        ("https://evilexample.org", False),
        ("https://example.org.evil.net", False),
        ("http://localhost:3000", True),
        ("http://localhost:3001", False),
        ("null", False),  # sandboxed frames and file:// pages
        (None, True),  # no Origin: not a browser, allowed unless required
    ],
)
def test_allowlist(origin: str | None, allowed: bool) -> None:
    assert POLICY.allows(origin) is allowed


def test_no_allowlist_allows_every_origin_and_require_refuses_none() -> None:
    assert OriginPolicy().allows("https://anything.example")
    assert not OriginPolicy(require=True).allows(None)
    assert OriginPolicy(require=True).allows("https://anything.example")
