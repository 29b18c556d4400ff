"""The security checks every WebSocket handshake passes before it is upgraded."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass
from typing import Any

import structlog

from ..core.repeats import RepeatFilter
from ..errors import AuthError
from .auth import ANONYMOUS, Authenticator, Identity, redact_query
from .limits import AddressLimits
from .origin import OriginPolicy

#: Security decisions go to the audit logger (``audit_log`` can give it its own file).
log = structlog.get_logger("switchboard.audit")

#: Close code of an address refused in-band (limits, bans).
TOO_MANY_CONNECTIONS = 4001
#: Seconds over which one address's refused handshakes make one log line.
REFUSAL_LOG_INTERVAL = 10.0


def _refusals_repeated(address: Hashable, repeated: int) -> None:
    log.info("handshake_rejected_repeated", address=address, repeated=repeated)


@dataclass(frozen=True, slots=True)
class Refusal:
    """A handshake that must not become a connection.

    ``in_band``: accept the upgrade, then close with ``close_code`` (so a browser, which
    cannot read an HTTP status, learns why); otherwise answer HTTP ``status``.
    """

    status: int
    close_code: int
    reason: str
    in_band: bool = False
    #: A short fixed label for metrics (``origin``, ``auth``, ``banned``, ...).
    kind: str = "refused"


@dataclass(frozen=True, slots=True)
class Admission:
    """A handshake that passed: who the client is and the address it was counted under."""

    identity: Identity
    address: str
    #: True when the address limits counted this connection (release it when it closes).
    counted: bool = False


class HandshakeGate:
    """Address bans, Origin allowlist, authentication, then per-address limits."""

    __slots__ = (
        "auth", "in_band", "limits", "max_per_user", "origins", "refusals", "user_connections"
    )  # fmt: skip

    def __init__(
        self,
        origins: OriginPolicy,
        auth: Authenticator | None,
        limits: AddressLimits | None = None,
        *,
        in_band: bool = False,
    ) -> None:
        self.origins = origins
        self.auth = auth
        self.limits = limits
        #: ``auth_style = "close"``: refusals are close codes after the upgrade, not HTTP.
        self.in_band = in_band
        self.max_per_user = 0
        self.user_connections: Callable[[Any], int] = lambda user: 0
        #: One ``handshake_rejected`` line per address per interval, then a count: a banned
        #: address reconnecting in a loop wrote one line per attempt (1,981 in 0.3 s).
        self.refusals = RepeatFilter(REFUSAL_LOG_INTERVAL, _refusals_repeated)

    def limit_users(self, most: int, open_for: Callable[[Any], int]) -> None:
        """At most ``most`` open connections per authenticated user (``open_for`` counts)."""
        self.max_per_user = most
        self.user_connections = open_for

    def check(self, path: bytes, headers: Mapping[str, str], peer: str) -> Admission | Refusal:
        limits = self.limits
        address = peer if limits is None else limits.client_address(peer, headers)
        if limits is not None and limits.banned(address):
            return self._refused(
                path, address, 429, TOO_MANY_CONNECTIONS, "address banned", "banned"
            )
        origin = headers.get("Origin")
        if not self.origins.allows(origin):
            reason = "origin not allowed" if origin else "origin required"
            self._log(path, address, reason, origin)
            return Refusal(403, 1008, reason, kind="origin")
        identity = ANONYMOUS
        if self.auth is not None:
            try:
                identity = self.auth.authenticate(path, headers)
            except AuthError as exc:
                if limits is not None:
                    limits.strike(address, exc.reason)
                self._log(path, address, exc.reason, origin)
                kind = "auth_missing" if exc.status == 401 else "auth_invalid"
                return Refusal(exc.status, exc.close_code, exc.reason, self.in_band, kind)
            if self._user_full(identity.user):
                reason = "too many connections for this user"
                return self._refused(path, address, 429, TOO_MANY_CONNECTIONS, reason, "user_limit")
        if limits is None:
            return Admission(identity, address)
        why = limits.admit(address)
        if why is not None:
            return self._refused(path, address, 429, TOO_MANY_CONNECTIONS, why, "address_limit")
        return Admission(identity, address, counted=True)

    def _user_full(self, user: Any) -> bool:
        most = self.max_per_user
        return bool(most) and user is not None and self.user_connections(user) >= most

    def _refused(
        self, path: bytes, address: str, status: int, close_code: int, reason: str, kind: str
    ) -> Refusal:
        self._log(path, address, reason, None)
        return Refusal(status, close_code, reason, self.in_band, kind)

    def _log(self, path: bytes, address: str, reason: str, origin: str | None) -> None:
        if not self.refusals.allow(address):
            return
        log.info(
            "handshake_rejected",
            reason=reason,
            address=address,
            origin=origin,
            path=redact_query(path.decode("latin-1")),
        )
