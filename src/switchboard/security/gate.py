"""The security checks every WebSocket handshake passes before it is upgraded."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import structlog

from .auth import ANONYMOUS, Authenticator, AuthError, Identity, redact_query
from .origin import OriginPolicy

log = structlog.get_logger("switchboard.security")


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


class HandshakeGate:
    """Origin allowlist, then authentication."""

    __slots__ = ("auth", "in_band", "origins")

    def __init__(
        self, origins: OriginPolicy, auth: Authenticator | None, *, in_band: bool = False
    ) -> None:
        self.origins = origins
        self.auth = auth
        #: ``auth_style = "close"``: authentication failures are closes 4401/4403, not HTTP.
        self.in_band = in_band

    def check(self, path: bytes, headers: Mapping[str, str]) -> Identity | Refusal:
        origin = headers.get("Origin")
        if not self.origins.allows(origin):
            reason = "origin not allowed" if origin else "origin required"
            self._log(path, reason, origin)
            return Refusal(403, 1008, reason)
        if self.auth is None:
            return ANONYMOUS
        try:
            return self.auth.authenticate(path, headers)
        except AuthError as exc:
            self._log(path, exc.reason, origin)
            return Refusal(exc.status, exc.close_code, exc.reason, self.in_band)

    @staticmethod
    def _log(path: bytes, reason: str, origin: str | None) -> None:
        log.info(
            "handshake_rejected",
            reason=reason,
            origin=origin,
            path=redact_query(path.decode("latin-1")),
        )
