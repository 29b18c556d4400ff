"""Settings of the HTTP backend: which route keys go to which URL, signing, limits, breaker."""

from __future__ import annotations

from typing import Any, Self
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from .server import MiB

#: The route keys with a meaning of their own; any other key is a message ``type``.
CONNECT = "$connect"
DISCONNECT = "$disconnect"
DEFAULT = "$default"

#: Client handshake headers forwarded on ``$connect`` unless ``forward_headers`` says
#: otherwise: none of them carries a credential.
DEFAULT_FORWARDED = (
    "user-agent",
    "origin",
    "accept-language",
    "x-forwarded-for",
    "x-request-id",
    "sec-websocket-protocol",
)


class BackendRoute(BaseModel):
    """Where one route key goes, and whether it may be sent again after a failure."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str = Field(description="The endpoint (http:// or https://) the event is POSTed to.")
    idempotent: bool = Field(
        False,
        description="Whether a failed POST may be retried (`$disconnect` always may).",
    )

    @field_validator("url")
    @classmethod
    def _http_url(cls, url: str) -> str:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            # The URL itself is not repeated: it may carry a credential.
            raise ValueError("a backend route needs an http:// or https:// URL with a host")
        return url


class BackendOptions(BaseModel):
    """The ``[backend]`` table: route keys to endpoints, and how they are called."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    routes: dict[str, BackendRoute] = Field(
        default_factory=dict,
        description="Route key (`$connect`, `$disconnect`, `$default` or a message type) to "
        "an endpoint: a URL, or a table with `url` and `idempotent`.",
    )
    secret: SecretStr | None = Field(
        None,
        description="HMAC-SHA256 key signing every request (X-Switchboard-Signature); "
        "required with routes, at least 16 characters, never logged.",
    )
    timeout: float = Field(10.0, gt=0, le=300, description="Seconds one POST may take.")
    concurrency: int = Field(
        100,
        ge=1,
        description="Requests in flight to the backend per node; past it a request gets "
        "UNAVAILABLE at once (a connection: close 1013) instead of queueing.",
    )
    retries: int = Field(
        2,
        ge=0,
        le=10,
        description="Further attempts after a failure, for idempotent routes and `$disconnect`.",
    )
    failure_threshold: int = Field(
        5, ge=1, description="Consecutive failures of a route that open its circuit."
    )
    cooldown: float = Field(
        30.0,
        gt=0,
        description="Seconds an open circuit refuses at once before one trial request.",
    )
    max_answer_bytes: int = Field(
        1 * MiB, ge=1024, description="Largest answer body read from the backend."
    )
    forward_headers: list[str] = Field(
        default_factory=lambda: list(DEFAULT_FORWARDED),
        description="Handshake headers sent with `$connect` (an allow-list, any case).",
    )

    @field_validator("routes", mode="before")
    @classmethod
    def _url_shorthand(cls, routes: Any) -> Any:
        """``chat = "http://..."`` is short for ``chat = {url = "http://..."}``."""
        if isinstance(routes, dict):
            return {k: {"url": v} if isinstance(v, str) else v for k, v in routes.items()}
        return routes

    @field_validator("forward_headers")
    @classmethod
    def _lower(cls, names: list[str]) -> list[str]:
        return [name.strip().lower() for name in names if name.strip()]

    @model_validator(mode="after")
    def _signed(self) -> Self:
        if not self.routes:
            return self
        if self.secret is None:
            raise ValueError("backend.secret is required when backend.routes is set")
        if len(self.secret.get_secret_value()) < 16:
            raise ValueError("backend.secret must be at least 16 characters")
        return self

    @property
    def enabled(self) -> bool:
        """Whether any route goes to a backend."""
        return bool(self.routes)


class BackendSettings(BaseModel):
    """The HTTP backend (``docs/integration.md``): one TOML table, ``[backend]``."""

    backend: BackendOptions = Field(
        default_factory=BackendOptions,
        description="Routes to an HTTP backend and how they are called (TOML table `[backend]`).",
    )
