"""The Origin allowlist: the defence against cross-site WebSocket hijacking.

A browser always sends ``Origin`` with a WebSocket handshake and lets any page open a socket
to any server, cookies included; only the server can refuse a page from another site.
Entries are exact origins (``https://app.example.com``) or wildcard subdomains
(``https://*.example.com`` matches ``https://a.example.com`` and ``https://a.b.example.com``,
not ``https://example.com``). Comparison ignores case; a default port is not implied.
"""

from __future__ import annotations

from collections.abc import Iterable


class OriginPolicy:
    """Which ``Origin`` headers may open a connection."""

    __slots__ = ("_exact", "_suffixes", "require")

    def __init__(self, allowed: Iterable[str] = (), *, require: bool = False) -> None:
        self._exact: set[str] = set()
        self._suffixes: list[tuple[str, str]] = []  # (scheme://, .domain[:port])
        for entry in allowed:
            entry = entry.strip().lower().rstrip("/")
            scheme, sep, host = entry.partition("://")
            if sep and host.startswith("*."):
                self._suffixes.append((scheme + "://", host[1:]))
            elif entry:
                self._exact.add(entry)
        #: Refuse handshakes that carry no Origin at all (non-browser clients).
        self.require = require

    @property
    def restricted(self) -> bool:
        """False when no allowlist is configured: every origin is accepted."""
        return bool(self._exact or self._suffixes)

    def allows(self, origin: str | None) -> bool:
        if origin is None or origin == "":
            return not self.require
        if not self.restricted:
            return True
        origin = origin.strip().lower().rstrip("/")
        if origin in self._exact:
            return True
        for scheme, suffix in self._suffixes:
            if origin.startswith(scheme):
                host = origin[len(scheme) :]
                if host.endswith(suffix) and len(host) > len(suffix):
                    return True
        return False
