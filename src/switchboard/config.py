"""Settings: defaults < TOML file (``--config``) < ``SWITCHBOARD_*`` environment < CLI flags.

One :class:`Settings` object, validated by pydantic; every field is documented
in ``docs/configuration.md`` and is a ``switchboard serve`` flag of the same
name with dashes (``max_message_size`` -> ``--max-message-size``).
"""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from .core.outbox import SlowConsumerPolicy

MiB = 1024 * 1024
#: picows cannot parse a request head past 16 KiB whatever we set (the handshake reader
#: answers those 431 itself); our limit can only be lower.
PICOWS_MAX_HEADER_SIZE = 16 * 1024


class NamespaceOptions(BaseModel):
    """What channels of one namespace (``room`` in ``room:42``) keep and allow."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    history_size: int = Field(
        100, ge=0, le=100_000, description="Publications kept for recovery (0: none)."
    )
    history_ttl: float = Field(300.0, ge=0, description="Seconds a kept publication stays.")
    publish: bool = Field(True, description="Whether clients may publish (the server always can).")
    presence: bool = Field(False, description="Whether members are tracked and can be asked for.")
    join_leave: bool = Field(
        False,
        description="Whether subscribers get join and leave events (costly in big channels).",
    )
    subscribe_roles: list[str] = Field(
        default_factory=list, description="Roles that may subscribe (empty: anyone)."
    )
    publish_roles: list[str] = Field(
        default_factory=list, description="Roles that may publish (empty: anyone)."
    )
    presence_roles: list[str] = Field(
        default_factory=list, description="Roles that may ask for presence (empty: anyone)."
    )
    user_limited: bool = Field(
        False,
        description="Channels named ...#u1,u2 are open to users u1 and u2 only.",
    )
    channel_token: bool = Field(
        False,
        description="Subscribing needs a token for the channel (JWT with a `channel` claim).",
    )


#: Settings that are tables, set in the TOML file (or as JSON in the environment), not flags.
TOML_ONLY = frozenset({"channel_defaults", "namespaces"})

#: ``switchboard serve --help`` panel of each setting (the flags are generated from the fields).
CLI_GROUPS: dict[str, str] = {
    **dict.fromkeys(("host", "port", "path", "node_id"), "Network"),
    **dict.fromkeys(
        (
            "max_message_size",
            "max_connections",
            "max_subscriptions",
            "history_max_bytes",
            "fd_reserve",
            "max_header_size",
            "handshake_timeout",
            "read_buffer_size",
            "send_queue_limit",
            "write_high_water",
            "slow_consumer_policy",
        ),
        "Limits",
    ),
    **dict.fromkeys(
        ("ping_interval", "ping_timeout", "close_timeout", "drain_timeout"),
        "Heartbeat and shutdown",
    ),
    **dict.fromkeys(
        ("log_level", "log_format", "log_file", "error_log_file", "audit_log", "raw_echo"),
        "Logging and modes",
    ),
    **dict.fromkeys(
        (
            "admin",
            "admin_host",
            "admin_port",
            "api_key",
            "admin_insecure",
            "admin_allowed_hosts",
            "metrics",
            "tracing",
            "otlp_endpoint",
            "dashboard_history",
            "warn_interval",
            "warn_memory_percent",
            "memory_limit",
            "warn_cpu_percent",
            "warn_cpu_seconds",
            "warn_outbox_bytes",
            "warn_loop_lag",
        ),
        "Control plane and observability",
    ),
    **dict.fromkeys(
        (
            "unsupported_subprotocol",
            "compression",
            "compression_context_takeover",
            "compression_window_bits",
            "compression_memory_level",
            "compression_level",
            "compression_threshold",
        ),
        "Subprotocols and compression",
    ),
    **dict.fromkeys(
        (
            "tls_cert",
            "tls_key",
            "jwt_secret",
            "jwt_public_key",
            "jwks_url",
            "jwks_refresh",
            "jwt_audience",
            "jwt_issuer",
            "jwt_leeway",
            "jwt_roles_claim",
            "auth_cookie",
            "jwt_replay_protection",
            "auth_style",
            "allow_anonymous",
            "message_rate",
            "message_burst",
            "user_message_rate",
            "user_message_burst",
            "max_connections_per_user",
            "flood_strikes",
            "flood_window",
            "channel_create_rate",
            "channel_create_burst",
            "payload_keys",
            "payload_ttl",
            "max_connections_per_address",
            "connection_rate_per_address",
            "connection_burst_per_address",
            "ban_after",
            "ban_window",
            "ban_duration",
            "trusted_proxies",
            "allowed_origin",
            "require_origin",
        ),
        "Security",
    ),
}


class Settings(BaseSettings):
    """Every knob of a Switchboard node."""

    model_config = SettingsConfigDict(
        env_prefix="SWITCHBOARD_", extra="forbid", validate_default=True
    )

    host: str = Field("0.0.0.0", description="Address to listen on.")
    port: int = Field(8080, ge=0, le=65535, description="TCP port (0 picks a free one).")
    path: str = Field("/ws", pattern=r"^/", description="URL path of the WebSocket endpoint.")
    node_id: str = Field(
        default_factory=socket.gethostname, description="Name of this node in logs and welcome."
    )
    max_message_size: int = Field(
        1 * MiB,
        ge=125,
        le=64 * MiB,
        description="Largest message accepted, counted across fragments; larger closes 1009.",
    )
    ping_interval: float = Field(
        30.0, ge=0, description="Seconds between heartbeat pings; 0 disables heartbeats."
    )
    ping_timeout: float = Field(
        20.0, gt=0, description="Seconds a pong may take before the connection is closed 4002."
    )
    max_connections: int = Field(
        0,
        ge=0,
        description="Open connections above which handshakes get HTTP 503; 0: as many as "
        "the open-file limit allows (RLIMIT_NOFILE minus fd_reserve), never more.",
    )
    max_subscriptions: int = Field(
        1000, ge=1, description="Channels one connection may subscribe to at once."
    )
    history_max_bytes: int = Field(
        64 * MiB,
        ge=0,
        description="Bytes of channel history kept across all channels of the embedded "
        "broker; past it the oldest publications are evicted first. 0: no bound.",
    )
    fd_reserve: int = Field(
        2048,
        ge=64,
        description="File descriptors kept back from WebSocket connections, which are capped "
        "at RLIMIT_NOFILE minus this: half bound the admin port's connections, a quarter the "
        "handshakes in flight, the rest the broker and log files.",
    )
    drain_timeout: float = Field(
        10.0, ge=0, description="Seconds to wait for clients to close on shutdown."
    )
    handshake_timeout: float = Field(
        5.0, gt=0, description="Seconds a client has to complete the HTTP upgrade."
    )
    close_timeout: float = Field(
        5.0, gt=0, description="Seconds to wait for the client's close frame before dropping it."
    )
    max_header_size: int = Field(
        8 * 1024,
        ge=1024,
        le=PICOWS_MAX_HEADER_SIZE,
        description="Largest total size of request headers; larger gets HTTP 431.",
    )
    read_buffer_size: int = Field(
        2048, ge=256, description="Initial per-connection read buffer (grows on demand)."
    )
    send_queue_limit: int = Field(
        4 * MiB,
        ge=64 * 1024,
        description="Bytes that may wait for one slow client before the slow-consumer policy.",
    )
    write_high_water: int = Field(
        256 * 1024, ge=1024, description="Socket buffer size above which frames wait in the queue."
    )
    slow_consumer_policy: SlowConsumerPolicy = Field(
        SlowConsumerPolicy.DISCONNECT,
        description="disconnect (close 4008) or drop_oldest (discard the oldest queued frames).",
    )
    log_level: Literal["debug", "info", "warning", "error"] = Field(
        "info", description="Lowest level logged."
    )
    log_format: Literal["json", "console"] = Field("json", description="Log line format.")
    audit_log: Path | None = Field(
        None,
        description="Also write audit events (connections accepted and refused, "
        "authorisation failures, bans) to this file as JSON lines.",
    )
    log_file: Path | None = Field(
        None, description="Also write every log line to this file (JSON lines)."
    )
    error_log_file: Path | None = Field(
        None, description="Also write warnings and errors to this file (JSON lines)."
    )
    raw_echo: bool = Field(
        False, description="Conformance mode: echo every message unchanged, no envelope."
    )
    admin: bool = Field(
        True, description="Serve the control plane (probes, metrics, API, dashboard)."
    )
    admin_host: str = Field(
        "127.0.0.1", description="Address of the control plane; keep it private."
    )
    admin_port: int = Field(
        9090, ge=0, le=65535, description="Port of the control plane (0 picks a free one)."
    )
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
    metrics: bool = Field(
        True,
        description="Count and time every message (Prometheus histograms, per-connection "
        "counters); off saves the per-message cost.",
    )
    tracing: bool = Field(
        False,
        description="OpenTelemetry spans per connection and message (needs the `tracing` "
        "extra or an SDK configured by the application).",
    )
    otlp_endpoint: str | None = Field(
        None,
        description="Export spans over OTLP/HTTP to this URL (e.g. http://collector:4318/v1/"
        "traces); sets up the SDK when `tracing` is on.",
    )
    dashboard_history: float = Field(
        300.0, ge=10, le=3600, description="Seconds of one-per-second samples the dashboard keeps."
    )
    warn_interval: float = Field(
        60.0, gt=0, description="Each operator warning is logged at most once per this many s."
    )
    warn_memory_percent: float = Field(
        90.0, ge=0, le=100, description="Warn when resident memory passes this % of the limit."
    )
    memory_limit: int = Field(
        0, ge=0, description="Memory limit in bytes for that warning (0: cgroup, else RAM)."
    )
    warn_cpu_percent: float = Field(
        90.0, ge=0, description="Warn when CPU use stays above this % of one core ..."
    )
    warn_cpu_seconds: float = Field(30.0, ge=0, description="... for this many seconds.")
    warn_outbox_bytes: int = Field(
        64 * MiB, ge=0, description="Warn when bytes waiting for slow sockets pass this."
    )
    warn_loop_lag: float = Field(
        0.5, ge=0, description="Warn when the event loop runs a timer this many s late."
    )
    unsupported_subprotocol: Literal["reject", "close"] = Field(
        "reject",
        description="A client offering only unknown subprotocols: reject (HTTP 400) or close "
        "(accept, then close 1002).",
    )
    compression: Literal["on", "off"] = Field(
        "on", description="permessage-deflate, negotiated whenever the client offers it."
    )
    compression_context_takeover: bool = Field(
        False,
        description="Let both sides keep compression context between messages (zlib state "
        "per connection; no compress-once).",
    )
    compression_window_bits: int = Field(
        15, ge=9, le=15, description="The server's deflate window, 2^N bytes (9-15)."
    )
    compression_memory_level: int = Field(
        8, ge=1, le=9, description="zlib memory level of the compressor (1-9)."
    )
    compression_level: int = Field(6, ge=1, le=9, description="zlib compression level (1-9).")
    compression_threshold: int = Field(
        256, ge=0, description="Messages shorter than this many bytes are sent uncompressed."
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
    channel_defaults: NamespaceOptions = Field(
        default_factory=NamespaceOptions,
        description="Options of channels whose namespace has no entry in `namespaces`.",
    )
    namespaces: dict[str, NamespaceOptions] = Field(
        default_factory=dict, description="Per-namespace channel options, by namespace name."
    )

    def namespace(self, name: str) -> NamespaceOptions:
        """The options of namespace ``name`` (the defaults when it has no entry)."""
        return self.namespaces.get(name, self.channel_defaults)

    @model_validator(mode="after")
    def _origins(self) -> Settings:
        from .security.origin import OriginPolicy

        OriginPolicy(self.allowed_origin)  # raises ValueError naming a malformed entry
        return self

    @model_validator(mode="after")
    def _fernet_keys(self) -> Settings:
        from .security.crypto import validate_keys

        validate_keys(self.payload_keys)
        return self

    @model_validator(mode="after")
    def _files_exist(self) -> Settings:
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError("tls_cert and tls_key go together")
        for name in ("tls_cert", "tls_key", "jwt_public_key"):
            path = getattr(self, name)
            if path is not None and not path.is_file():
                raise ValueError(f"{name}: no such file: {path}")
        return self

    @model_validator(mode="after")
    def _queue_fits_a_message(self) -> Settings:
        if self.send_queue_limit < self.max_message_size + 16:
            raise ValueError("send_queue_limit must be larger than max_message_size")
        return self


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Build settings from a TOML file, the environment and explicit overrides (CLI flags)."""

    class _Layered(Settings):
        @classmethod
        def settings_customise_sources(
            cls,
            settings_cls: type[BaseSettings],
            init_settings: PydanticBaseSettingsSource,
            env_settings: PydanticBaseSettingsSource,
            dotenv_settings: PydanticBaseSettingsSource,
            file_secret_settings: PydanticBaseSettingsSource,
        ) -> tuple[PydanticBaseSettingsSource, ...]:
            sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
            if config_file is not None:
                sources.append(TomlConfigSettingsSource(settings_cls, toml_file=config_file))
            return tuple(sources)

    if config_file is not None and not config_file.is_file():
        raise FileNotFoundError(f"config file not found: {config_file}")
    layered = _Layered(**{k: v for k, v in overrides.items() if v is not None})
    return Settings.model_validate(layered.model_dump())
