"""Handshake authentication: find the client's JWT, verify it with PyJWT, name the user.

Token sources, first found wins: ``Authorization: Bearer <jwt>``, the ``token`` query
parameter, a cookie, then a ``Sec-WebSocket-Protocol`` entry ``bearer.<jwt>`` (browsers cannot
set headers; they offer it beside a real subprotocol, which is the one selected).

The key decides the algorithm family: HMAC tokens (HS256/384/512) are checked only against
the shared secret and RSA/EC tokens (RS256, ES256, ...) only against the public key, so an
HMAC token "signed" with the public key (algorithm confusion) and ``alg: none`` never verify.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.cookies import CookieError, SimpleCookie
from typing import Any
from urllib.parse import parse_qs, unquote

import jwt

from ..errors import AuthError
from .jwks import JwksKeys

HMAC_ALGORITHMS = ("HS256", "HS384", "HS512")
PUBLIC_KEY_ALGORITHMS = (
    "RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "PS256", "PS384", "PS512", "EdDSA"
)  # fmt: skip
#: The ``Sec-WebSocket-Protocol`` entry that carries a token instead of naming a protocol.
PROTOCOL_TOKEN_PREFIX = "bearer."
#: The query parameter that carries a token (``?token=<jwt>``).
TOKEN_QUERY_PARAMETER = "token"
#: Query parameters redacted from logged paths, lower-cased: ours, and the names other
#: systems use, in case a client sends its token under one of them.
TOKEN_PARAMETERS = frozenset({TOKEN_QUERY_PARAMETER, "access_token", "jwt"})


@dataclass(frozen=True, slots=True)
class AuthSettings:
    """What verifying a token needs; built from the server settings."""

    secret: str | None = None
    public_key: str | None = None
    audience: str | None = None
    issuer: str | None = None
    leeway: float = 10.0
    roles_claim: str = "roles"
    cookie: str = "token"
    #: Let clients without a token in (as user ``None``); a bad token is refused anyway.
    anonymous: bool = False
    #: Refuse a token whose ``jti`` this node already accepted and that has not expired.
    replay_protection: bool = False

    #: JWKS document (URL or file) with more verification keys, chosen by ``kid``.
    jwks: str | None = None
    jwks_refresh: float = 300.0

    @property
    def enabled(self) -> bool:
        return self.secret is not None or self.public_key is not None or self.jwks is not None


@dataclass(frozen=True, slots=True)
class Identity:
    """Who a verified token says the client is."""

    user: str | None
    roles: frozenset[str] = frozenset()
    #: Unix time the token expires at (None: anonymous).
    expires_at: float | None = None
    claims: Mapping[str, Any] = field(default_factory=dict)


ANONYMOUS = Identity(user=None)


class Authenticator:
    """Verifies the token of each handshake against the configured keys."""

    def __init__(self, settings: AuthSettings) -> None:
        self.settings = settings
        self._seen = SeenTokenIds()
        #: Keys from the JWKS source, when one is configured (``start`` it in the event loop).
        self.jwks = (
            None if settings.jwks is None else JwksKeys(settings.jwks, settings.jwks_refresh)
        )

    def authenticate(self, path: bytes, headers: Mapping[str, str]) -> Identity:
        """The identity of a handshake; raises :class:`AuthError` when it must be refused."""
        token = find_token(path, headers, self.settings.cookie)
        if token is None:
            if self.settings.anonymous:
                return ANONYMOUS
            raise AuthError(True, "authentication required")
        return self.verify(token)

    def _first_use(self, jti: object, expires_at: float) -> bool:
        """False for a ``jti`` already accepted while its token is still valid."""
        if not isinstance(jti, str) or not jti:
            return True  # nothing to track
        return self._seen.first_use(jti, expires_at + self.settings.leeway)

    def verify(self, token: str) -> Identity:
        """Check signature and claims; the reason given never contains the token."""
        s = self.settings
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError:
            raise AuthError(False, "malformed token") from None
        algorithm = header.get("alg")
        key: Any
        if algorithm in HMAC_ALGORITHMS:
            key = s.secret
        elif algorithm in PUBLIC_KEY_ALGORITHMS:
            key = s.public_key
        else:
            raise AuthError(False, f"algorithm {str(algorithm)[:16]!r} not accepted")
        if key is None and self.jwks is not None:
            kid = header.get("kid")
            key = self.jwks.key_for(kid if isinstance(kid, str) else None, algorithm)
            if key is None:
                raise AuthError(False, "unknown signing key")
        if key is None:
            raise AuthError(False, f"algorithm {algorithm} not accepted")
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[algorithm],
                audience=s.audience,
                issuer=s.issuer,
                leeway=s.leeway,
                options={"require": ["exp", "sub"], "verify_aud": s.audience is not None},
            )
        except jwt.ExpiredSignatureError:
            raise AuthError(False, "token expired") from None
        except jwt.InvalidAudienceError:
            raise AuthError(False, "wrong audience") from None
        except jwt.InvalidIssuerError:
            raise AuthError(False, "wrong issuer") from None
        except jwt.ImmatureSignatureError:
            raise AuthError(False, "token not yet valid") from None
        except jwt.MissingRequiredClaimError as exc:
            raise AuthError(False, f"token lacks the {exc.claim!r} claim") from None
        except (jwt.InvalidTokenError, ValueError, TypeError, OverflowError):
            # A validly signed token can still carry claims PyJWT chokes on (an ``exp`` of
            # 1e400 or NaN): the client's fault, never a 500.
            raise AuthError(False, "invalid token") from None
        expires_at = _unix_time(claims["exp"])
        if s.replay_protection and not self._first_use(claims.get("jti"), expires_at):
            raise AuthError(False, "token already used")
        return Identity(
            user=str(claims["sub"]),
            roles=_roles(claims.get(s.roles_claim)),
            expires_at=expires_at,
            claims=claims,
        )


class SeenTokenIds:
    """Token ids accepted so far, each kept until its token expires (memory is bounded by
    the tokens alive at once; expired ids are swept every ``SWEEP_EVERY`` insertions)."""

    SWEEP_EVERY = 1024

    def __init__(self) -> None:
        self._until: dict[str, float] = {}
        self._inserts = 0

    def first_use(self, jti: str, until: float) -> bool:
        now = time.time()
        seen = self._until.get(jti)
        if seen is not None and seen > now:
            return False
        self._until[jti] = until
        self._inserts += 1
        if self._inserts % self.SWEEP_EVERY == 0:
            self._until = {k: v for k, v in self._until.items() if v > now}
        return True

    def __len__(self) -> int:
        return len(self._until)


def _unix_time(value: Any) -> float:
    """A time claim as a finite float; :class:`AuthError` for what no clock can mean."""
    try:
        when = float(value)
    except (OverflowError, ValueError, TypeError):
        raise AuthError(False, "invalid token") from None
    if not math.isfinite(when):
        raise AuthError(False, "invalid token")
    return when


def _roles(value: Any) -> frozenset[str]:
    if isinstance(value, str):
        return frozenset(value.split())
    if isinstance(value, list | tuple):
        return frozenset(str(role) for role in value)
    return frozenset()


def find_token(path: bytes, headers: Mapping[str, str], cookie: str) -> str | None:
    """The client's token from the first source that has one (see the module docstring)."""
    authorization = headers.get("Authorization")
    if authorization:
        scheme, _, credentials = authorization.partition(" ")
        if scheme.lower() == "bearer" and credentials.strip():
            return credentials.strip()
    _, _, query = path.partition(b"?")
    if query:
        values = parse_qs(query.decode("latin-1")).get(TOKEN_QUERY_PARAMETER)
        if values and values[0]:
            return values[0]
    cookies = headers.get("Cookie")
    if cookies:
        jar: SimpleCookie = SimpleCookie()
        try:
            jar.load(cookies)
        except CookieError:
            jar = SimpleCookie()
        morsel = jar.get(cookie)
        if morsel is not None and morsel.value:
            return morsel.value
    offered = headers.get("Sec-WebSocket-Protocol")
    if offered:
        for entry in offered.split(","):
            entry = entry.strip()
            if entry.startswith(PROTOCOL_TOKEN_PREFIX) and len(entry) > len(PROTOCOL_TOKEN_PREFIX):
                return entry[len(PROTOCOL_TOKEN_PREFIX) :]
    return None


def redact_query(path: str) -> str:
    """``path`` with the value of every token-carrying query parameter replaced, for logs.

    Names are compared the way :func:`find_token` reads them, after URL decoding
    (``%74oken`` and ``t%6Fken`` are ``token``), and in any case, to err on the safe side."""
    base, sep, query = path.partition("?")
    if not sep:
        return path
    parts = []
    for item in query.split("&"):
        name, eq, _ = item.partition("=")
        parts.append(f"{name}=[redacted]" if eq and _carries_token(name) else item)
    return base + "?" + "&".join(parts)


def _carries_token(raw_name: str) -> bool:
    # Decoded exactly as parse_qs decodes it ("+" is a space, UTF-8, bad escapes kept).
    name = unquote(raw_name.replace("+", " "), errors="replace")
    return name.strip().lower() in TOKEN_PARAMETERS
