"""Request and response bodies of the management API (they make its OpenAPI schema)."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from pydantic import BaseModel, Field

from .params import CHANNEL_PATTERN, CONNECTION_PATTERN, IDEMPOTENCY_KEY_PATTERN

#: Channels one ``POST /api/v1/publish`` reaches at most.
MAX_CHANNELS = 100

Channel = Annotated[str, Field(pattern=CHANNEL_PATTERN, description="A channel name.")]
ConnectionIdField = Annotated[
    str, Field(pattern=CONNECTION_PATTERN, description="A connection id (c-...).")
]
IdempotencyKey = Annotated[
    str | None,
    Field(
        pattern=IDEMPOTENCY_KEY_PATTERN,
        description="The same key within 5 minutes answers the first publication again "
        "instead of publishing twice (as the `Idempotency-Key` header; the header wins).",
    ),
]
Data = Annotated[Any, Field(description="Any JSON value.")]


class PublishRequest(BaseModel):
    data: Any = Field(description="Any JSON value; subscribers get it as the message's data.")
    idempotency_key: IdempotencyKey = None


class Published(BaseModel):
    channel: str
    offset: int = Field(description="The publication's offset in the channel's stream.")
    epoch: str


class PublishManyRequest(BaseModel):
    channels: list[Channel] = Field(
        min_length=1, max_length=MAX_CHANNELS, description=f"1 to {MAX_CHANNELS} channels."
    )
    data: Any = Field(description="Any JSON value, published to each channel.")
    idempotency_key: IdempotencyKey = None


class ChannelError(BaseModel):
    status: int = Field(description="The HTTP status a publish to this channel alone got.")
    code: str
    message: str


class ChannelPublished(BaseModel):
    channel: str
    offset: int | None = Field(description="Its offset; null when this channel failed.")
    epoch: str | None
    error: ChannelError | None = None


class PublishedMany(BaseModel):
    results: list[ChannelPublished] = Field(description="One per channel, in their order.")


class SendRequest(BaseModel):
    data: Any = Field(description="Any JSON value, delivered as a `direct` message's data.")


class SubscribeRequest(BaseModel):
    channel: Channel


class Reached(BaseModel):
    channel: str
    connections: int = Field(description="How many connections it reached, on every node.")


CloseCodeField = Annotated[
    int, Field(ge=1000, le=4999, description="1000, 1001, 1008, 1011, 1012, 1013 or 3000-4999.")
]
Reason = Annotated[str, Field(max_length=123, description="Cut at 123 bytes of UTF-8.")]


# The parameters of each command: what ``POST /api/v1/batch`` takes as ``params``, and what
# the single endpoint's path, query and body make.


class PublishParams(BaseModel):
    channel: Channel
    data: Data
    idempotency_key: IdempotencyKey = None


class SendToUserParams(BaseModel):
    user: str
    data: Data


class SendToConnectionParams(BaseModel):
    connection: ConnectionIdField
    data: Data


class DisconnectConnectionParams(BaseModel):
    connection: ConnectionIdField
    code: CloseCodeField = 1000
    reason: Reason = "closed by the operator"


class DisconnectUserParams(BaseModel):
    user: str
    code: CloseCodeField = 1000
    reason: Reason = "closed by the operator"


class UserChannelParams(BaseModel):
    user: str
    channel: Channel


class ConnectionChannelParams(BaseModel):
    connection: ConnectionIdField
    channel: Channel


class Disconnected(BaseModel):
    disconnected: int = Field(description="How many connections it closed, on every node.")
    code: int


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
    next_since: int | None = Field(
        default=None,
        description="Pass as `since` (with `epoch` and the same `reverse`) for the next "
        "page; null on the last one.",
    )


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
