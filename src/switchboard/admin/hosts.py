"""The control plane's Host check, against DNS rebinding.

A page on ``evil.example`` that rebinds its name to 127.0.0.1 reaches the admin port from a
browser on the same machine, and the browser lets it read the answers (to the browser they
come from the page's own origin); but its requests still say ``Host: evil.example``.

The control plane answers only the host names in ``admin_allowed_hosts``; when that is
empty: ``admin_host``, ``localhost``, ``127.0.0.1`` and ``::1``, and, when ``admin_host`` is
a wildcard bind (``0.0.0.0``, ``::``), any IP literal too, since rebinding needs a DNS name
and Prometheus (like kubelet) names a pod by its IP. The entry ``*`` allows every host: for
use behind a proxy that checks Host itself. Other hosts get 421 ``MISDIRECTED_REQUEST``.

``/health`` and ``/ready`` answer any host: they tell a page nothing it can use, and a
liveness probe failing on a Host list restarts a healthy node. A request without a Host
header (HTTP/1.0 health checkers) passes: every browser sends one.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

import structlog
from starlette.types import ASGIApp, Receive, Scope, Send

from ..observability.throttle import Throttle
from .errors import error_response
from .guard import PROBE_PATHS

log = structlog.get_logger("switchboard.admin")

ANY_HOST = "*"
LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1")
WILDCARD_BINDS = frozenset({"", "0.0.0.0", "::"})
_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-._")


def host_of(value: str) -> str | None:
    """The host part of a Host header: lowercased, port and IPv6 brackets stripped, IP
    literals in their canonical form, no trailing dot; None when malformed."""
    value = value.strip().lower()
    if value.startswith("["):
        host, bracket, port = value[1:].partition("]")
        if not bracket or _ip_version(host) != 6:
            return None
    else:
        host, colon, rest = value.partition(":")
        port = colon + rest
    if port and not (port[0] == ":" and (port[1:].isdigit() or port == ":")):
        return None  # also an IPv6 literal without brackets
    return _canonical(host)


def _canonical(host: str) -> str | None:
    if _ip_version(host):
        return ipaddress.ip_address(host).compressed
    host = host.rstrip(".")  # "localhost." is "localhost" to DNS
    if not host or not _NAME_CHARS.issuperset(host):
        return None
    return host


def _ip_version(host: str) -> int:
    """4 or 6 for an IP literal, 0 for anything else."""
    try:
        return ipaddress.ip_address(host).version
    except ValueError:
        return 0


def _entry(entry: str) -> str:
    """An ``admin_allowed_hosts`` entry: a name or an IP literal, maybe bracketed or with a port."""
    bare = entry.strip("[]")
    name = _canonical(bare) if _ip_version(bare) else host_of(entry)
    if name is None:
        raise ValueError(f"admin_allowed_hosts: {entry!r} is not a host name")
    return name


class HostPolicy:
    """Which Host headers the control plane answers; see the module docstring."""

    __slots__ = ("any_host", "any_ip", "names")

    def __init__(self, allowed: Iterable[str], admin_host: str) -> None:
        """Raises ``ValueError`` naming an entry that is not a host name."""
        entries = [entry.strip().lower() for entry in allowed if entry.strip()]
        self.any_host = ANY_HOST in entries
        self.names = {_entry(entry) for entry in entries if entry != ANY_HOST}
        wildcard = admin_host.strip("[]") in WILDCARD_BINDS
        self.any_ip = not entries and wildcard
        if not entries:
            self.names.update(LOCAL_HOSTS)
            own = _canonical(admin_host.strip("[]").lower())
            if not wildcard and own is not None:
                self.names.add(own)

    def allows(self, host: str) -> bool:
        """Whether a Host header's value is one the control plane answers."""
        if self.any_host:
            return True
        name = host_of(host)
        if name is None:
            return False
        return name in self.names or (self.any_ip and _ip_version(name) > 0)


class HostCheck:
    """Wraps the control plane's ASGI app; answers 421 to a request for another host."""

    def __init__(self, app: ASGIApp, policy: HostPolicy, log_interval: float = 10.0) -> None:
        self.app = app
        self.policy = policy
        self._log_refused = Throttle(log_interval)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in PROBE_PATHS:
            await self.app(scope, receive, send)
            return
        policy = self.policy
        hosts = [value.decode("latin-1") for name, value in scope["headers"] if name == b"host"]
        refused = next((host for host in hosts if not policy.allows(host)), None)
        if refused is None:
            await self.app(scope, receive, send)
            return
        shown = refused[:100]
        path = scope["path"][:100]
        self._log_refused(
            lambda suppressed: log.info(
                "admin_host_refused", host=shown, path=path, suppressed_since_last=suppressed
            )
        )
        message = f"host {shown!r} is not served here (see admin_allowed_hosts)"
        await error_response(421, "MISDIRECTED_REQUEST", message)(scope, receive, send)
