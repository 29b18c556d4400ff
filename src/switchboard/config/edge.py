"""Settings of an edge node (``switchboard edge``): the central cluster it forwards to."""

from __future__ import annotations

from urllib.parse import urlsplit

from pydantic import BaseModel, Field, SecretStr, field_validator


class EdgeSettings(BaseModel):
    """Where an edge node's upstream is, and how it behaves while the upstream is away."""

    upstream: str | None = Field(
        None,
        description="Edge nodes: the WebSocket URL of the central cluster "
        "(`ws://central:8080/ws`, `wss://`); `switchboard edge` needs it, `serve` ignores it.",
    )
    upstream_token: SecretStr | None = Field(
        None,
        description="Edge nodes: the token the edge presents to the central cluster "
        "(`Authorization: Bearer`); a JWT with the `edge` role when the central checks roles. "
        "Never logged.",
    )
    edge_upstream_connections: int = Field(
        2,
        ge=1,
        le=16,
        description="Edge nodes: WebSocket connections to the upstream, each carrying the "
        "requests of the local clients and the channels assigned to it.",
    )
    edge_buffer: int = Field(
        1000,
        ge=0,
        le=1_000_000,
        description="Edge nodes: requests for the upstream that may wait while it is "
        "unreachable (each up to `edge_timeout`); past that they get UNAVAILABLE at once.",
    )
    edge_timeout: float = Field(
        10.0,
        gt=0,
        le=300.0,
        description="Edge nodes: seconds a request waits for the upstream to come back, and "
        "then for its answer, before the client gets UNAVAILABLE.",
    )
    edge_backoff_base: float = Field(
        0.5,
        gt=0,
        le=60.0,
        description="Edge nodes: reconnect backoff to the upstream: a random wait up to "
        "base * 2**attempt seconds.",
    )
    edge_backoff_max: float = Field(
        10.0,
        gt=0,
        le=600.0,
        description="Edge nodes: the longest reconnect wait, in seconds.",
    )
    edge_history: int = Field(
        1000,
        ge=0,
        le=1_000_000,
        description="Edge nodes: publications kept per followed channel, so a local client "
        "resuming within them recovers from the edge itself.",
    )

    @field_validator("upstream")
    @classmethod
    def _websocket_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("ws", "wss") or not parts.hostname:
            raise ValueError("upstream must be a ws:// or wss:// URL with a host")
        return value
