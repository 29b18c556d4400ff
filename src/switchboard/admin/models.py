"""Request and response bodies of the management API (they make its OpenAPI schema)."""

from __future__ import annotations

from typing import Any

import msgspec
from pydantic import BaseModel, Field


class PublishRequest(BaseModel):
    data: Any = Field(description="Any JSON value; subscribers get it as the message's data.")


class Published(BaseModel):
    channel: str
    offset: int = Field(description="The publication's offset in the channel's stream.")
    epoch: str


class SendRequest(BaseModel):
    data: Any = Field(description="Any JSON value, delivered as a `direct` message's data.")


class Delivered(BaseModel):
    delivered: int = Field(description="How many connections it was queued for.")


class ConnectionInfo(BaseModel):
    id: str
    node: str
    user: Any = None
    address: str
    connected_at: float = Field(description="Unix time of the upgrade.")
    subprotocol: str
    compression: bool
    subscriptions: list[str]
    messages_in: int = Field(description="Messages received (counted when metrics are on).")
    messages_out: int = Field(description="Frames written to the socket.")
    bytes_in: int | None = Field(
        description="Bytes the socket received, as the kernel counts them (the handshake and "
        "frame headers included); null where the system does not say (Linux TCP_INFO)."
    )
    bytes_out: int = Field(description="Bytes written to the socket (frames, after compression).")


class ConnectionPage(BaseModel):
    items: list[ConnectionInfo]
    total: int = Field(description="Connections matching the filters.")
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page.")


class Count(BaseModel):
    count: int


class Closed(BaseModel):
    closed: bool
    code: int


class ChannelInfo(BaseModel):
    channel: str
    subscribers: int = Field(description="Subscribers on this node.")


class ChannelPage(BaseModel):
    items: list[ChannelInfo]
    total: int
    next_cursor: str | None


class PresenceMember(BaseModel):
    connection: str
    user: Any = None


class Presence(BaseModel):
    channel: str
    members: list[PresenceMember]


class HistoryItem(BaseModel):
    offset: int
    data: Any


class History(BaseModel):
    channel: str
    offset: int = Field(description="The channel's newest offset (0: nothing published).")
    epoch: str
    publications: list[HistoryItem]


class NodeEntry(BaseModel):
    """One node of the cluster, as the node registry holds it (times are Unix seconds)."""

    node_id: str
    url: str
    admin_url: str | None
    version: str
    state: str
    connections: int
    max_connections: int = Field(description="Its connection cap; 0: not announced.")
    subscriptions: int
    messages_per_s: float
    cpu_percent: float
    loop_lag_ms: float
    started_at: float
    updated_at: float


class Nodes(BaseModel):
    nodes: list[NodeEntry]


class Route(BaseModel):
    """Where a new client should connect: the least-loaded ready node of the cluster."""

    url: str = Field(description="The node's public WebSocket URL.")
    node_id: str
    score: float = Field(
        description="Its load score, lower is better: connections / max_connections + "
        "cpu_percent / 100 + loop_lag_ms / 100 (the last two at most 1 each)."
    )


class Stats(BaseModel):
    node: str
    version: str
    uptime_s: float
    draining: bool
    connections: int
    connections_total: int
    channels: int
    subscriptions: int
    messages_in: int
    messages_out: int
    bytes_in: int
    bytes_out: int
    errors: dict[str, int]
    rate_limited: dict[str, int]
    handshake_rejections: dict[str, int]
    slow_consumers: int
    dropped_frames: int
    busiest_channels: list[ChannelInfo]
    latest_sample: dict[str, Any] | None = Field(
        description="The monitor's last one-second sample (rates, memory, CPU, loop lag)."
    )


class LoopLag(BaseModel):
    now_ms: float = Field(description="One trip around the event loop, measured now.")
    last_sample_ms: float = Field(description="How late the monitor's 1 s timer last fired.")
    max_recent_ms: float = Field(description="The worst of the last minute's samples.")


class AllocationSite(BaseModel):
    where: str
    size_bytes: int
    count: int


class Allocations(BaseModel):
    traced_seconds: float
    total_bytes: int
    top: list[AllocationSite]


def jsonable(user: Any) -> Any:
    """A user as JSON: a hook may set any object; what JSON cannot carry becomes its str()."""
    if user is None or isinstance(user, str | int | float | bool):
        return user
    try:
        msgspec.json.encode(user)
    except (msgspec.EncodeError, TypeError, OverflowError):
        return str(user)
    return user
