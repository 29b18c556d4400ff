"""The Origin allowlist: the defence against cross-site WebSocket hijacking.

A browser always sends ``Origin`` with a WebSocket handshake and lets any page open a socket
to any server, cookies included; only the server can refuse a page from another site.
Entries are exact origins (``https://app.example.com``) or wildcard subdomains
(``https://*.example.com`` matches ``https://a.example.com`` and ``https://a.b.example.com``,
not ``https://example.com``). Comparison ignores case; a default port is not implied
(``https://a.example.com`` does not match ``https://a.example.com:443``, nor the reverse).

An origin is ``scheme "://" host [":" port]`` and nothing else (RFC 6454): both the header
and the entries are parsed strictly, and an ``Origin`` with a path, query, fragment or
user info (``https://evil.com/.example.com``, ``https://x.example.com@evil.com``) matches
nothing. Hosts are compared label by label, never as strings: a wildcard's domain must be
the host's last labels. A malformed entry is a configuration error (``ValueError``).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from typing import NamedTuple

_SCHEME = re.compile(r"[a-z][a-z0-9+.-]*")
#: A DNS name or IPv4 address, already lower-cased: labels of letters, digits, "-" and "_".
_NAME = re.compile(r"[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?(?:\.[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?)*")
_PORT = re.compile(r"[0-9]{1,5}")


class Origin(NamedTuple):
    """A parsed, normalised origin; ``port`` None when the origin names none."""

    scheme: str
    host: str  # lower case; an IPv6 literal in brackets, compressed
    port: int | None


def parse_origin(text: str, *, wildcard: bool = False) -> Origin | None:
    """``text`` as an :class:`Origin`, or None when it is not exactly one.

    ``wildcard``: the host may start with ``*.`` (allowlist entries); it is kept in ``host``.
    One trailing ``/`` is tolerated, for entries copied from a browser's address bar."""
    text = text.strip().lower()
    if text.endswith("/"):
        text = text[:-1]
    scheme, sep, authority = text.partition("://")
    if not sep or not _SCHEME.fullmatch(scheme):
        return None
    star = wildcard and authority.startswith("*.")
    if star:
        authority = authority[2:]
    if authority.startswith("["):  # IPv6 literal: "[" address "]" [":" port]
        end = authority.find("]")
        if end < 0 or star:
            return None
        try:
            address = ipaddress.IPv6Address(authority[1:end])
        except ValueError:
            return None
        host, rest = f"[{address.compressed}]", authority[end + 1 :]
        if rest and not rest.startswith(":"):
            return None
        port_text = rest[1:] if rest else None
    else:
        host, colon, port_text_or_empty = authority.partition(":")
        if not _NAME.fullmatch(host):
            return None
        port_text = port_text_or_empty if colon else None
    port = None
    if port_text is not None:
        if not _PORT.fullmatch(port_text) or not 0 < int(port_text) <= 65535:
            return None
        port = int(port_text)
    return Origin(scheme, f"*.{host}" if star else host, port)


class OriginPolicy:
    """Which ``Origin`` headers may open a connection."""

    __slots__ = ("_exact", "_wildcards", "require")

    def __init__(self, allowed: Iterable[str] = (), *, require: bool = False) -> None:
        self._exact: set[Origin] = set()
        #: (scheme, domain labels, port) of each ``scheme://*.domain[:port]`` entry.
        self._wildcards: list[tuple[str, tuple[str, ...], int | None]] = []
        for entry in allowed:
            if not entry.strip():
                continue
            origin = parse_origin(entry, wildcard=True)
            if origin is None:
                raise ValueError(
                    f"allowed origin {entry!r} is not scheme://host[:port] "
                    "(or scheme://*.domain[:port])"
                )
            if origin.host.startswith("*."):
                labels = tuple(origin.host[2:].split("."))
                self._wildcards.append((origin.scheme, labels, origin.port))
            else:
                self._exact.add(origin)
        #: Refuse handshakes that carry no Origin at all (non-browser clients).
        self.require = require

    @property
    def restricted(self) -> bool:
        """False when no allowlist is configured: every origin is accepted."""
        return bool(self._exact or self._wildcards)

    def allows(self, origin: str | None) -> bool:
        if origin is None or origin == "":
            return not self.require
        if not self.restricted:
            return True
        parsed = parse_origin(origin)
        if parsed is None:  # "null", a path, user info...: not an origin we can trust
            return False
        if parsed in self._exact:
            return True
        if parsed.host.startswith("["):
            return False  # an IP literal has no subdomains
        labels = tuple(parsed.host.split("."))
        for scheme, domain, port in self._wildcards:
            if (
                parsed.scheme == scheme
                and parsed.port == port
                and len(labels) > len(domain)
                and labels[-len(domain) :] == domain
            ):
                return True
        return False
