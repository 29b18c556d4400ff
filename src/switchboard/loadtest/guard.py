"""The loopback rule: a load test hits only this machine unless its user says otherwise.

A load generator aimed at someone else's server is an attack, so ``switchboard bench`` refuses
every target but 127.0.0.0/8, ``::1`` and the name ``localhost`` unless ``--allow-remote`` is
given. Other names are not resolved to find out: what a name resolves to can change between
the check and the connection, so only an address (or ``localhost``) passes.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from ..errors import TargetRefused


def target_host(url: str) -> str:
    """The host of a ``ws://`` or ``wss://`` URL, without brackets."""
    parts = urlsplit(url)
    if parts.scheme not in ("ws", "wss"):
        raise TargetRefused(f"{url!r} is not a ws:// or wss:// URL")
    if not parts.hostname:
        raise TargetRefused(f"{url!r} names no host")
    return parts.hostname


def is_loopback(host: str) -> bool:
    """Whether ``host`` is ``localhost``, an address in 127.0.0.0/8 or ``::1``."""
    if host.lower().rstrip(".") == "localhost":
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback


def check_target(url: str, allow_remote: bool) -> None:
    """Raise :class:`TargetRefused` unless ``url`` is loopback or ``allow_remote`` is set."""
    host = target_host(url)
    if not allow_remote and not is_loopback(host):
        raise TargetRefused(
            f"refusing to load-test {host}: only loopback targets (127.0.0.0/8, ::1, "
            "localhost) are allowed; pass --allow-remote if the server is yours to load"
        )
