"""Settings of who may connect and how much: TLS, tokens, rate limits, bans, origins, API key."""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Self

from pydantic import BaseModel, Field, model_validator


class SecuritySettings(BaseModel):
    """Authentication, limits per connection, user and address, and the control plane's key."""

    api_key: str | None = Field(
        None,
        min_length=16,
        description="Key the management API (/api/v1) and the dashboard stream require, "
        "in the X-API-Key header (or ?key= for the dashboard).",
    )
    admin_insecure: bool = Field(
        False, description="Allow the management API without an API key (development only)."
    )
    admin_allowed_hosts: list[str] = Field(
        default_factory=list,
        description="Host header names the control plane answers (repeatable; against DNS "
        "rebinding). Empty: admin_host, localhost, 127.0.0.1 and ::1.",
    )
    tls_cert: Path | None = Field(
        None, description="PEM certificate chain: serve wss:// (with tls_key); SIGHUP reloads."
    )
    tls_key: Path | None = Field(None, description="PEM private key of tls_cert.")
    jwt_secret: str | None = Field(
        None, description="Shared secret for HS256/384/512 tokens; turns authentication on."
    )
    jwt_public_key: Path | None = Field(
        None,
        description="PEM public key file for RS256/ES256 tokens; turns authentication on.",
    )
    jwks_url: str | None = Field(
        None,
        description="JWKS document (https:// URL or file) with verification keys chosen by "
        "kid; turns authentication on.",
    )
    jwks_refresh: float = Field(
        300.0, ge=5, description="Seconds between JWKS refreshes (an unknown kid refetches)."
    )
    jwt_audience: str | None = Field(None, description="Required `aud` claim, if set.")
    jwt_issuer: str | None = Field(None, description="Required `iss` claim, if set.")
    jwt_leeway: float = Field(
        10.0, ge=0, le=300, description="Clock skew allowed on exp/nbf/iat, in seconds."
    )
    jwt_roles_claim: str = Field("roles", description="Claim holding the user's roles.")
    auth_cookie: str = Field("token", description="Cookie that may carry the token.")
    jwt_replay_protection: bool = Field(
        False,
        description="Refuse a token whose jti was already used on this node while it is valid.",
    )
    auth_style: Literal["http", "close"] = Field(
        "http",
        description="Refuse a bad handshake with HTTP 401/403 (http) or accept and close "
        "4401/4403 (close).",
    )
    allow_anonymous: bool = Field(
        False, description="With authentication on, also admit clients that send no token."
    )
    message_rate: float = Field(
        0.0, ge=0, description="Messages per second one connection may send; 0: no limit."
    )
    message_burst: int = Field(
        0, ge=0, description="Messages a connection may send at once (0: the rate, at least 1)."
    )
    user_message_rate: float = Field(
        0.0,
        ge=0,
        description="Messages per second all connections of one user may send; 0: no limit.",
    )
    user_message_burst: int = Field(
        0, ge=0, description="Messages a user may send at once (0: the rate, at least 1)."
    )
    max_connections_per_user: int = Field(
        0, ge=0, description="Open connections one authenticated user may hold; 0: no limit."
    )
    flood_strikes: int = Field(
        50,
        ge=1,
        description="Refused messages within flood_window after which a connection is closed 1008.",
    )
    flood_window: float = Field(
        10.0, gt=0, description="Seconds over which a connection's refused messages count."
    )
    channel_create_rate: float = Field(
        50.0,
        ge=0,
        description="New channels (no stream yet) one connection may create per second by "
        "publishing or subscribing; 0: no limit.",
    )
    channel_create_burst: int = Field(
        200, ge=0, description="New channels a connection may create at once (0: the rate)."
    )
    payload_keys: list[str] = Field(
        default_factory=list,
        description="Fernet keys for the v1.fernet subprotocol, newest first (rotation).",
    )
    payload_ttl: int | None = Field(
        None, ge=1, description="Refuse v1.fernet messages older than this many seconds."
    )
    max_connections_per_address: int = Field(
        0, ge=0, description="Open connections one client address may hold; 0: no limit."
    )
    connection_rate_per_address: float = Field(
        0.0, ge=0, description="New connections per second per address; 0: no limit."
    )
    connection_burst_per_address: int = Field(
        0, ge=0, description="New connections an address may open at once (0: the rate, >= 1)."
    )
    ban_after: int = Field(
        0,
        ge=0,
        description="Refusals (limits, bad tokens, message floods) within ban_window that ban "
        "an address; 0: never ban.",
    )
    ban_window: float = Field(60.0, gt=0, description="Seconds over which refusals count.")
    ban_duration: float = Field(300.0, gt=0, description="Seconds a ban lasts.")
    trusted_proxies: list[str] = Field(
        default_factory=list,
        description="Proxy addresses or networks whose X-Forwarded-For is believed.",
    )
    allowed_origin: list[str] = Field(
        default_factory=list,
        description="Origins allowed to connect (repeatable; https://*.example.com for "
        "subdomains). Empty: any origin.",
    )
    require_origin: bool = Field(
        False, description="Refuse handshakes without an Origin header (non-browser clients)."
    )

    @model_validator(mode="after")
    def _origins(self) -> Self:
        from ..security.origin import OriginPolicy

        OriginPolicy(self.allowed_origin)  # raises ValueError naming a malformed entry
        return self

    @model_validator(mode="after")
    def _fernet_keys(self) -> Self:
        from ..security.crypto import validate_keys

        validate_keys(self.payload_keys)
        return self

    @model_validator(mode="after")
    def _files_exist(self) -> Self:
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError("tls_cert and tls_key go together")
        for name in ("tls_cert", "tls_key", "jwt_public_key"):
            path = getattr(self, name)
            if path is not None and not path.is_file():
                raise ValueError(f"{name}: no such file: {path}")
        return self
