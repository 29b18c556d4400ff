"""Building the node and its security, codec and compression parts from the settings."""

from __future__ import annotations

import asyncio
import resource
from collections.abc import Callable

import structlog

from .broker.base import Broker, HistoryOptions
from .broker.memory import MemoryBroker
from .config import Settings
from .core.channels import ChannelOptions
from .core.node import Node
from .core.pipeline import MessageTracer
from .core.stats import Stats
from .observability.monitor import Thresholds
from .protocol.codecs import Codec
from .protocol.deflate import Deflate, DeflateSettings
from .protocol.subprotocols import CODECS
from .security.auth import Authenticator, AuthSettings
from .security.crypto import fernet_codec
from .security.gate import HandshakeGate
from .security.limits import AddressLimits, AddressLimitSettings, trusted_proxies
from .security.origin import OriginPolicy

log = structlog.get_logger("switchboard.app")


def build_broker(s: Settings) -> Broker:
    """The broker ``s.broker`` names: the embedded one, or Redis (imported only then)."""
    if s.broker == "memory":
        return MemoryBroker(max_history_bytes=s.history_max_bytes)
    from .broker.redis import RedisBroker

    return RedisBroker(
        s.broker, prefix=s.broker_prefix, timeout=s.broker_timeout, registry_ttl=s.registry_ttl
    )


def has_channel_permissions(s: Settings) -> bool:
    """Whether any namespace restricts who may subscribe, publish or see presence."""
    return any(
        ns.subscribe_roles
        or ns.publish_roles
        or ns.presence_roles
        or ns.user_limited
        or ns.channel_token
        for ns in (s.channel_defaults, *s.namespaces.values())
    )


def handshake_gate(s: Settings) -> HandshakeGate:
    """Origins, authentication and per-address limits, as configured."""
    origins = OriginPolicy(s.allowed_origin, require=s.require_origin)
    public_key = None
    if s.jwt_public_key is not None:
        public_key = s.jwt_public_key.read_text()
    auth = AuthSettings(
        secret=s.jwt_secret,
        public_key=public_key,
        audience=s.jwt_audience,
        issuer=s.jwt_issuer,
        leeway=s.jwt_leeway,
        roles_claim=s.jwt_roles_claim,
        cookie=s.auth_cookie,
        anonymous=s.allow_anonymous,
        replay_protection=s.jwt_replay_protection,
        jwks=s.jwks_url,
        jwks_refresh=s.jwks_refresh,
    )
    authenticator = Authenticator(auth) if auth.enabled else None
    limit_settings = AddressLimitSettings(
        max_per_address=s.max_connections_per_address,
        rate=s.connection_rate_per_address,
        burst=s.connection_burst_per_address,
        ban_after=s.ban_after,
        ban_window=s.ban_window,
        ban_duration=s.ban_duration,
        trusted_proxies=trusted_proxies(s.trusted_proxies),
    )
    limits = AddressLimits(limit_settings) if limit_settings.enabled else None
    return HandshakeGate(origins, authenticator, limits, in_band=s.auth_style == "close")


def codecs(s: Settings) -> tuple[Codec, ...]:
    """The subprotocols to offer: the built-in three, plus v1.fernet when keys are set."""
    if not s.payload_keys:
        return CODECS
    return (*CODECS, fernet_codec(s.payload_keys, s.payload_ttl))


def deflate(s: Settings) -> Deflate | None:
    """The permessage-deflate policy, or None when compression is off."""
    if s.compression == "off":
        return None
    settings = DeflateSettings(
        context_takeover=s.compression_context_takeover,
        window_bits=s.compression_window_bits,
        memory_level=s.compression_memory_level,
        level=s.compression_level,
        threshold=s.compression_threshold,
    )
    return Deflate(settings, s.max_message_size)


def thresholds(s: Settings) -> Thresholds:
    """The operator warnings' thresholds."""
    return Thresholds(
        memory_percent=s.warn_memory_percent,
        memory_limit=s.memory_limit,
        cpu_percent=s.warn_cpu_percent,
        cpu_seconds=s.warn_cpu_seconds,
        outbox_bytes=s.warn_outbox_bytes,
        loop_lag=s.warn_loop_lag,
        interval=s.warn_interval,
    )


#: Connections at most when ``max_connections`` is 0 and the open-file limit is unlimited.
DEFAULT_MAX_CONNECTIONS = 1_000_000


def connection_capacity(s: Settings) -> tuple[int, int]:
    """(connections this process can hold, its open-file limit) from ``max_connections`` and
    ``RLIMIT_NOFILE`` less ``fd_reserve`` (the admin port, the broker, logs, handshakes in
    flight). The soft limit is raised to the hard one first, as far as the system lets.

    Past the file limit accept() fails and a client gets no answer at all, not even /health;
    capped below it, the 503 for a full server is always sent."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard > soft:
        target = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass
    wanted = s.max_connections or DEFAULT_MAX_CONNECTIONS
    if soft == resource.RLIM_INFINITY:
        return wanted, soft
    return max(1, min(wanted, soft - fd_reserve(s, soft))), soft


def channel_options_of(s: Settings) -> Callable[[str], ChannelOptions]:
    """A namespace's channel options, from ``s`` (its ``namespaces`` entry or the
    defaults), built once per namespace."""
    cache: dict[str, ChannelOptions] = {}

    def options(namespace: str) -> ChannelOptions:
        found = cache.get(namespace)
        if found is None:
            ns = s.namespace(namespace)
            found = cache[namespace] = ChannelOptions(
                history=HistoryOptions(ns.history_size, ns.history_ttl),
                publish=ns.publish,
                presence=ns.presence,
                join_leave=ns.join_leave,
            )
        return found

    return options


def checked_capacity(s: Settings) -> tuple[int, int]:
    """:func:`connection_capacity`, with a warning for each setting the open-file limit
    lowers."""
    capacity, open_files = connection_capacity(s)
    if fd_reserve(s, open_files) < s.fd_reserve:
        log.warning("fd_reserve_lowered", fd_reserve=s.fd_reserve, open_file_limit=open_files)
    if capacity < s.max_connections:  # set explicitly, above what the process can hold
        log.warning(
            "max_connections_lowered",
            max_connections=capacity,
            configured=s.max_connections,
            open_file_limit=open_files,
            fd_reserve=s.fd_reserve,
        )
    return capacity, open_files


def fd_reserve(s: Settings, open_files: int) -> int:
    """``fd_reserve`` as it applies: a value the user set, or the default, lowered to half
    the open-file limit where that is smaller (the default would leave no connection at all
    under a limit of 2,048)."""
    if "fd_reserve" in s.model_fields_set:
        return s.fd_reserve
    return min(s.fd_reserve, open_files // 2)


# The descriptors kept back from WebSocket connections (``fd_reserve``) are shared out here:
# half for the admin port's connections, a quarter for handshakes in flight, the rest for
# the broker and log files.


def admin_connections(s: Settings) -> int:
    """Open connections the admin port holds at most."""
    return max(16, s.fd_reserve // 2)


def handshakes_in_flight(s: Settings) -> int:
    """WebSocket handshakes under way at most (each holds a descriptor no count sees yet)."""
    return max(16, s.fd_reserve // 4)


def build_node(
    s: Settings,
    broker: Broker,
    channel_options: Callable[[str], ChannelOptions],
    stats: Stats,
    tracer: MessageTracer | None,
) -> Node:
    """The node on the running loop, with the settings that shape it."""
    return Node(
        asyncio.get_running_loop(),
        node_id=s.node_id,
        ping_interval=s.ping_interval,
        ping_timeout=s.ping_timeout,
        send_queue_limit=s.send_queue_limit,
        slow_consumer_policy=s.slow_consumer_policy,
        broker=broker,
        channel_options=channel_options,
        max_subscriptions=s.max_subscriptions,
        channel_create_rate=s.channel_create_rate,
        channel_create_burst=s.channel_create_burst,
        raw_echo=s.raw_echo,
        message_rate=s.message_rate,
        message_burst=s.message_burst,
        flood_strikes=s.flood_strikes,
        flood_window=s.flood_window,
        user_message_rate=s.user_message_rate,
        user_message_burst=s.user_message_burst,
        metrics=s.metrics,
        stats=stats,
        tracer=tracer,
    )
