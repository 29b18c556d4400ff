"""``switchboard token``: mint a test JWT with the server's own key, or read one.

The key, audience, issuer and roles claim come from the same places as ``serve``'s (flags of
this command, ``SWITCHBOARD_*`` environment variables, ``--config``), so a minted token is
one the server accepts. Only an HMAC key (``jwt_secret``) can mint; a public key can only
check (``--decode``). The key never appears in what is printed.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from pathlib import Path
from typing import Annotated, Any

import jwt
import typer

from .config import load_settings

#: ``90``, ``90s``, ``30m``, ``1h``, ``7d``.
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)([smhd]?)$")
_UNIT_S = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def seconds(text: str) -> float:
    """A duration: a number of seconds, or with ``s``, ``m``, ``h`` or ``d``."""
    found = _DURATION.match(text.strip())
    if found is None:
        raise typer.BadParameter("a duration: 90, 90s, 30m, 1h or 7d")
    return float(found[1]) * _UNIT_S[found[2]]


def mint(
    secret: str,
    subject: str,
    *,
    roles: list[str],
    ttl: float,
    audience: str | None = None,
    issuer: str | None = None,
    roles_claim: str = "roles",
    extra: dict[str, Any] | None = None,
) -> str:
    """An HS256 token for ``subject`` valid ``ttl`` seconds from now."""
    now = int(time.time())
    claims: dict[str, Any] = {"sub": subject, "iat": now, "exp": now + max(1, round(ttl))}
    claims["jti"] = uuid.uuid4().hex  # distinct tokens, so replay protection accepts each
    if roles:
        claims[roles_claim] = roles
    if audience:
        claims["aud"] = audience
    if issuer:
        claims["iss"] = issuer
    claims.update(extra or {})
    return jwt.encode(claims, secret, algorithm="HS256")


def token(
    sub: Annotated[str | None, typer.Option("--sub", help="The user (the `sub` claim).")] = None,
    role: Annotated[
        list[str] | None, typer.Option("--role", help="A role (repeatable).", show_default=False)
    ] = None,
    ttl: Annotated[str, typer.Option(help="How long it is valid: 90, 30m, 1h, 7d.")] = "1h",
    claim: Annotated[
        list[str] | None,
        typer.Option(
            help="Another claim, NAME=JSON or NAME=text (repeatable).", show_default=False
        ),
    ] = None,
    decode: Annotated[
        str | None, typer.Option("--decode", help="Read this token instead: its claims.")
    ] = None,
    config: Annotated[Path | None, typer.Option("--config", help="TOML settings file.")] = None,
    jwt_secret: Annotated[
        str | None,
        typer.Option(
            envvar="SWITCHBOARD_JWT_SECRET", help="The HMAC key (as for serve).", show_default=False
        ),
    ] = None,
) -> None:
    """Mint a JWT the server accepts (with its jwt_secret), or --decode one."""
    overrides: dict[str, Any] = {} if jwt_secret is None else {"jwt_secret": jwt_secret}
    settings = load_settings(config, **overrides)
    secret = settings.jwt_secret
    if decode is not None:
        typer.echo(json.dumps(_read(decode, secret, settings.jwt_audience), indent=2))
        return
    if sub is None:
        raise typer.BadParameter("--sub is required to mint a token", param_hint="--sub")
    if secret is None:
        typer.echo(
            "switchboard: no jwt_secret: set --jwt-secret or SWITCHBOARD_JWT_SECRET", err=True
        )
        raise typer.Exit(2)
    extra = dict(_claim(item) for item in claim or [])
    typer.echo(
        mint(
            secret,
            sub,
            roles=role or [],
            ttl=seconds(ttl),
            audience=settings.jwt_audience,
            issuer=settings.jwt_issuer,
            roles_claim=settings.jwt_roles_claim,
            extra=extra,
        )
    )


def _claim(item: str) -> tuple[str, Any]:
    name, sep, value = item.partition("=")
    if not sep or not name:
        raise typer.BadParameter("NAME=value", param_hint="--claim")
    try:
        return name, json.loads(value)
    except ValueError:
        return name, value


def _read(encoded: str, secret: str | None, audience: str | None) -> dict[str, Any]:
    """The claims, and whether the server's key verifies them (never the key itself)."""
    try:
        header = jwt.get_unverified_header(encoded)
        claims = jwt.decode(encoded, options={"verify_signature": False})
    except jwt.PyJWTError as exc:
        raise typer.BadParameter(f"not a JWT: {exc}", param_hint="--decode") from None
    verdict = "not checked: no jwt_secret"
    if secret is not None:
        try:
            jwt.decode(encoded, secret, algorithms=["HS256", "HS384", "HS512"], audience=audience)
            verdict = "valid"
        except jwt.PyJWTError as exc:
            verdict = f"invalid: {exc}"
    return {"header": header, "claims": claims, "signature": verdict}
