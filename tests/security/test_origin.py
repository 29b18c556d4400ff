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


WILDCARDS = OriginPolicy(
    [
        "https://*.example.com",
        "https://*.example.net:8443",
        "https://exact.example.org:8080",
        "http://[::1]:3000",
        "HTTPS://Upper.Example.Org",
    ]
)


@pytest.mark.parametrize(
    "origin",
    [
        "https://evil.com/.example.com",  # a path that ends like the domain
        "https://evil.com?.example.com",  # a query
        "https://evil.com#.example.com",  # a fragment
        "https://evil.com\\.example.com",
        "https://user@x.example.com",  # user info: the host is x.example.com, but no origin has it
        "https://x.example.com@evil.com",
        "https://x.example.com:@evil.com",
        "https://evil.com%2f.example.com",
        "https://evil.com .example.com",
        "https://a.example.com/path",
        "https://a.example.com, https://evil.com",
        "https://a..example.com",
        "https://.example.com",
        "https://a.example.com.",
        "https://a.example.com:443",  # a default port is not implied
        "https://a.example.com:99999",
        "https://a.example.com:",
        "https://a.example.com:+443",
        "https://a.example.net",  # the .net entry names a port
        "https://a.example.net:8444",
        "http://a.example.com",
        "https://exact.example.org",
        "https://exact.example.org:8081",
        "http://[::1]",
        "http://[::2]:3000",
        "http://[::1]x:3000",
        "https://*.example.com",
        "https://a.example.com.evil.net",
        "null",
        "example.com",
    ],
)
def test_origin_tricks_are_refused(origin: str) -> None:
    assert not WILDCARDS.allows(origin)


@pytest.mark.parametrize(
    "origin",
    [
        "https://a.example.com",
        "https://a.b.example.com",
        "HTTPS://A.EXAMPLE.COM",
        "https://xn--bcher-kva.example.com",
        "https://a.example.net:8443",
        "https://exact.example.org:8080",
        "https://upper.example.org",
        "http://[::1]:3000",
        "http://[0:0:0:0:0:0:0:1]:3000",  # the same IPv6 address, spelt out
        "http://[::1]:03000",
    ],
)
def test_legitimate_origins_are_allowed(origin: str) -> None:
    assert WILDCARDS.allows(origin)


@pytest.mark.parametrize(
    "entry", ["https://example.com/app", "example.com", "https://*.", "null", "https://a.com:0"]
)
def test_a_malformed_entry_is_a_configuration_error(entry: str) -> None:
    with pytest.raises(ValueError, match="not scheme://host"):
        OriginPolicy([entry])
