"""Per-address connection limits and bans, checked at the handshake.

Each client address may hold at most ``max_per_address`` connections and open new ones at
``rate`` per second (token bucket, ``burst`` at once). Every refusal, and every message
flood reported by the core, is a strike; ``ban_after`` strikes within ``ban_window`` seconds
ban the address for ``ban_duration`` seconds, during which every handshake from it is refused
at once. Behind a proxy the client address is the last ``X-Forwarded-For`` hop that is not a
trusted proxy; the header is ignored unless the direct peer is one.
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import structlog

log = structlog.get_logger("switchboard.audit")

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True, slots=True)
class AddressLimitSettings:
    max_per_address: int = 0  # 0: no limit
    rate: float = 0.0  # new connections per second per address; 0: no limit
    burst: int = 0  # 0: the rate, at least 1
    ban_after: int = 0  # strikes within ban_window that ban the address; 0: never
    ban_window: float = 60.0
    ban_duration: float = 300.0
    trusted_proxies: tuple[str, ...] = ()

    @property
    def enabled(self) -> bool:
        return bool(self.max_per_address or self.rate or self.ban_after)


class _Address:
    __slots__ = ("banned_until", "open", "stamp", "strikes", "strikes_since", "tokens")

    def __init__(self, burst: float, now: float) -> None:
        self.open = 0
        self.tokens = burst
        self.stamp = now
        self.strikes = 0
        self.strikes_since = now
        self.banned_until = 0.0


class AddressLimits:
    """The state of every address that connected recently."""

    SWEEP_EVERY = 1024
    IDLE_AFTER = 120.0  # seconds without connections before an address is forgotten

    def __init__(self, settings: AddressLimitSettings) -> None:
        self.settings = settings
        self._burst = float(settings.burst or max(1, round(settings.rate)))
        self._proxies: list[Network] = [
            ipaddress.ip_network(p, strict=False) for p in settings.trusted_proxies
        ]
        self._addresses: dict[str, _Address] = {}
        self._checks = 0

    def client_address(self, peer: str, headers: Mapping[str, str]) -> str:
        """The client's address: ``peer``, or the forwarded one when ``peer`` is a trusted
        proxy (the right-most ``X-Forwarded-For`` entry that is not a trusted proxy)."""
        if not self._proxies or not self._trusted(peer):
            return peer
        forwarded = headers.get("X-Forwarded-For")
        if not forwarded:
            return peer
        for hop in reversed([h.strip() for h in forwarded.split(",")]):
            if not hop:
                continue
            try:
                ipaddress.ip_address(hop)
            except ValueError:
                return peer  # a malformed chain: trust nothing in it
            if not self._trusted(hop):
                return hop
        return peer

    def _trusted(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self._proxies)

    def admit(self, address: str) -> str | None:
        """None to let a new connection from ``address`` in (counted as open), else why not."""
        s = self.settings
        now = time.monotonic()
        self._sweep(now)
        state = self._addresses.get(address)
        if state is None:
            state = self._addresses[address] = _Address(self._burst, now)
        if state.banned_until > now:
            return "address banned"
        if s.max_per_address and state.open >= s.max_per_address:
            return self._refuse(address, state, now, "too many connections from this address")
        if s.rate:
            tokens = min(self._burst, state.tokens + (now - state.stamp) * s.rate)
            state.stamp = now
            if tokens < 1.0:
                state.tokens = tokens
                return self._refuse(address, state, now, "connection rate exceeded")
            state.tokens = tokens - 1.0
        state.open += 1
        return None

    def closed(self, address: str) -> None:
        """A connection ``admit`` let in is gone."""
        state = self._addresses.get(address)
        if state is not None and state.open:
            state.open -= 1

    def strike(self, address: str, reason: str) -> None:
        """Misbehaviour from ``address`` (a message flood): counts towards a ban."""
        now = time.monotonic()
        state = self._addresses.get(address)
        if state is None:
            state = self._addresses[address] = _Address(self._burst, now)
        self._count_strike(address, state, now, reason)

    def _refuse(self, address: str, state: _Address, now: float, reason: str) -> str:
        self._count_strike(address, state, now, reason)
        return reason

    def _count_strike(self, address: str, state: _Address, now: float, reason: str) -> None:
        s = self.settings
        if not s.ban_after:
            return
        if now - state.strikes_since > s.ban_window:
            state.strikes, state.strikes_since = 0, now
        state.strikes += 1
        if state.strikes >= s.ban_after and state.banned_until <= now:
            state.banned_until = now + s.ban_duration
            state.strikes = 0
            log.warning(
                "address_banned", address=address, reason=reason, ban_duration_s=s.ban_duration
            )

    def banned(self, address: str) -> bool:
        state = self._addresses.get(address)
        return state is not None and state.banned_until > time.monotonic()

    def _sweep(self, now: float) -> None:
        self._checks += 1
        if self._checks % self.SWEEP_EVERY:
            return
        idle = [
            address
            for address, state in self._addresses.items()
            if not state.open
            and state.banned_until <= now
            and now - state.stamp > self.IDLE_AFTER
            and now - state.strikes_since > self.settings.ban_window
        ]
        for address in idle:
            del self._addresses[address]

    def __len__(self) -> int:
        return len(self._addresses)


def address_of(remote: str) -> str:
    """The client address in a connection's ``remote`` ("1.2.3.4:5678", "1.2.3.4 via ...",
    "::1:5678")."""
    if " via " in remote:
        return remote.split(" via ", 1)[0]
    return remote.rsplit(":", 1)[0]


def host_of(peer: object) -> str:
    """The address part of a socket peer name (``(host, port, ...)``), else its text."""
    if isinstance(peer, tuple) and peer:
        return str(peer[0])
    return str(peer)


def trusted_proxies(entries: Iterable[str]) -> tuple[str, ...]:
    """Validated proxy addresses or networks (raises ``ValueError`` on a bad one)."""
    return tuple(str(ipaddress.ip_network(e.strip(), strict=False)) for e in entries)
