"""The broker interface every implementation keeps (one contract test suite runs against each).

A broker carries publications between the nodes that have subscribers for a channel, keeps
each channel's bounded history with monotonically increasing offsets, and tracks presence.

Offsets and epochs make resume exact. Every publication to a channel gets the next offset
(1, 2, 3, ...). The channel's *epoch* names one unbroken run of offsets: when the broker
loses a channel's stream (its history expired, the broker restarted without it), the next
publication starts a new epoch, so a client holding ``(offset, epoch)`` can tell "I missed
messages 42-57, send them" from "the history I knew is gone, resync".

Everything else that goes from one connection to others is a :class:`Dispatch`: a broadcast,
a direct message to a user or a connection, a disconnect, a join or leave event. It has no
offset and no history; the broker carries it to every node (this one included), where the
node's handler carries it out for the connections it holds. Even on one node it takes that
path, so the day a second node exists nothing reaches only the local clients.

The broker calls the node back through :class:`BrokerHandler`; it never touches connections.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any, Protocol

import msgspec

from ..protocol.codecs import DataFormat


@dataclass(frozen=True, slots=True)
class StreamPosition:
    """Where a channel's stream stands: the last offset and the epoch it belongs to."""

    offset: int
    epoch: str


@dataclass(frozen=True, slots=True)
class Publication:
    """One message published to a channel; ``data`` is the encoded value, in ``data_format``
    (the publisher's: raw JSON or raw MessagePack)."""

    channel: str
    offset: int
    epoch: str
    data: bytes
    data_format: DataFormat = DataFormat.JSON


@dataclass(frozen=True, slots=True)
class HistoryOptions:
    """How much of a channel's past to keep: at most ``size`` publications for ``ttl`` s."""

    size: int = 0
    ttl: float = 0.0

    @property
    def enabled(self) -> bool:
        return self.size > 0 and self.ttl > 0


@dataclass(frozen=True, slots=True)
class Recovery:
    """The answer to "what did I miss since ``position``?".

    ``recovered`` is True when ``publications`` are exactly the messages after the asked
    offset in the same epoch (possibly none); False when the gap is older than the history
    or the epoch changed, in which case ``publications`` is empty and the client must resync
    from ``position``.
    """

    recovered: bool
    position: StreamPosition
    publications: list[Publication] = field(default_factory=list)


def recovery(since: StreamPosition, position: StreamPosition, kept: list[Publication]) -> Recovery:
    """The rule every broker keeps: recovered only when ``kept`` (the channel's history, oldest
    first) holds every offset after ``since`` up to ``position``, in the same epoch."""
    if since.epoch != position.epoch or since.offset > position.offset:
        return Recovery(False, position)
    missed = [pub for pub in kept if since.offset < pub.offset <= position.offset]
    first_needed = since.offset + 1
    if first_needed <= position.offset and (not missed or missed[0].offset != first_needed):
        return Recovery(False, position)
    return Recovery(True, position, missed)


def history_page_of(
    kept: list[Publication], limit: int, since: int | None, reverse: bool
) -> list[Publication]:
    """The page :meth:`Broker.history_page` answers, out of ``kept`` (oldest first)."""
    if limit <= 0:
        return []
    if reverse:
        older = kept if since is None else [p for p in kept if p.offset < since]
        return older[::-1][:limit]
    if since is None:
        return kept[-limit:]
    return [p for p in kept if p.offset > since][:limit]


@dataclass(frozen=True, slots=True)
class HistoryUsage:
    """What a broker's history holds against its global bound (for metrics)."""

    bytes: int
    limit: int  # 0: no bound
    evicted: int  # publications dropped to keep the bound, since start


#: ``history(channel, ALL_KEPT)``: every kept publication of the channel.
ALL_KEPT = 2**31 - 1


class DispatchKind(IntEnum):
    """What a :class:`Dispatch` asks of the nodes that hold its connections."""

    #: ``data`` to every connection, as a ``broadcast`` message.
    BROADCAST = 1
    #: ``data`` to every connection of ``user``, or to ``connection``, as a ``direct`` message
    #: from ``sender``.
    DIRECT = 2
    #: Close every connection of ``user``, or ``connection``, with ``code`` and ``reason``.
    DISCONNECT = 3
    #: Tell the other subscribers of ``channel`` that ``sender`` joined it.
    JOIN = 4
    #: Tell the other subscribers of ``channel`` that ``sender`` left it.
    LEAVE = 5
    #: Subscribe every connection of ``user``, or ``connection``, to ``channel`` (the server
    #: does: no permission check, the subscription limit still counts).
    SUBSCRIBE = 6
    #: Unsubscribe every connection of ``user``, or ``connection``, from ``channel``.
    UNSUBSCRIBE = 7


class Dispatch(msgspec.Struct, frozen=True, array_like=True):
    """A message for connections that is not a channel publication (no offset, no history).

    ``user`` or ``connection`` name the target of DIRECT and DISCONNECT; ``sender`` and
    ``sender_user`` the connection it comes from (``"server"`` for the server), or the member
    that joined or left; ``data`` is encoded in ``data_format``. A msgspec struct, so a
    cluster broker encodes it in one call.
    """

    kind: DispatchKind
    user: Any = None
    connection: str | None = None
    channel: str = ""
    sender: str = ""
    sender_user: Any = None
    data: bytes = b""
    data_format: DataFormat = DataFormat.JSON
    code: int = 0
    reason: str = ""


class NodeInfo(msgspec.Struct, frozen=True, kw_only=True):
    """What a node tells the cluster about itself (the node registry: ``switchboard nodes``,
    ``GET /api/v1/nodes``, load-aware routing). Times are Unix seconds."""

    node_id: str
    url: str
    admin_url: str | None = None
    version: str = ""
    state: str = "starting"
    connections: int = 0
    #: The connections it holds at most (its effective ``max_connections``); 0: not told.
    max_connections: int = 0
    subscriptions: int = 0
    messages_per_s: float = 0.0
    cpu_percent: float = 0.0
    loop_lag_ms: float = 0.0
    started_at: float = 0.0
    updated_at: float = 0.0


class BrokerHandler(Protocol):
    """The node side: what a broker calls when something arrives for this node."""

    def on_publication(self, publication: Publication) -> None:
        """A publication of a channel this node subscribed to."""

    def on_dispatch(self, dispatch: Dispatch) -> int:
        """Carry out ``dispatch`` for this node's connections; returns how many it was for."""


class Broker(ABC):
    """Publish/subscribe across nodes, channel history with offsets, presence."""

    @abstractmethod
    async def start(self, handler: BrokerHandler) -> None:
        """Begin delivering publications for subscribed channels to ``handler``."""

    @abstractmethod
    async def close(self) -> None:
        """Stop delivering and release resources the broker owns."""

    @abstractmethod
    async def publish(
        self,
        channel: str,
        data: bytes,
        history: HistoryOptions,
        data_format: DataFormat = DataFormat.JSON,
    ) -> StreamPosition:
        """Publish ``data``; returns the position it got (its offset and epoch)."""

    @abstractmethod
    async def dispatch(self, dispatch: Dispatch) -> int:
        """Carry ``dispatch`` to every node's handler, this node's included, in the order
        this node dispatches; returns how many connections it was for (the embedded broker:
        those its handler reached; a cluster broker: what its connection registry counts)."""

    @abstractmethod
    async def subscribe(self, channel: str) -> None:
        """This node wants ``channel``'s publications (idempotent)."""

    @abstractmethod
    async def unsubscribe(self, channel: str) -> None:
        """This node no longer wants ``channel``'s publications (idempotent)."""

    @abstractmethod
    async def position(self, channel: str) -> StreamPosition:
        """The channel's current top offset and epoch (offset 0 when nothing is kept)."""

    @abstractmethod
    async def recover(self, channel: str, since: StreamPosition) -> Recovery:
        """The publications after ``since``, when the history still holds all of them."""

    @abstractmethod
    async def history(self, channel: str, limit: int) -> tuple[StreamPosition, list[Publication]]:
        """The channel's position and its last ``limit`` kept publications, oldest first."""

    async def history_page(
        self, channel: str, limit: int, *, since: int | None = None, reverse: bool = False
    ) -> tuple[StreamPosition, list[Publication]]:
        """The channel's position and up to ``limit`` kept publications: after offset
        ``since``, oldest first, or with ``reverse`` before it, newest first (without
        ``since``: the newest ``limit``, in that order). The publications are in the position's
        epoch: a caller paging an older epoch compares it. This default reads the whole
        history; a broker that can read a range overrides it."""
        position, kept = await self.history(channel, ALL_KEPT)
        return position, history_page_of(kept, limit, since, reverse)

    async def claim(self, key: str, value: bytes, ttl: float) -> bytes | None:
        """Store ``value`` under ``key`` for ``ttl`` s unless ``key`` holds a value already;
        returns that value, or None when this call stored it. A cluster broker shares the
        keys between nodes (idempotency keys of the management API)."""
        raise NotImplementedError(f"{type(self).__name__} keeps no claims")

    async def settle(self, key: str, value: bytes | None, ttl: float) -> None:
        """Replace what a claimed ``key`` holds with ``value`` for ``ttl`` s; None forgets
        ``key``, so that the next :meth:`claim` of it stores."""
        raise NotImplementedError(f"{type(self).__name__} keeps no claims")

    @abstractmethod
    async def add_presence(self, channel: str, client_id: str, info: dict[str, Any]) -> None:
        """Record that ``client_id`` is in ``channel``, with ``info`` (user, connection)."""

    @abstractmethod
    async def remove_presence(self, channel: str, client_id: str) -> None:
        """``client_id`` left ``channel`` (idempotent)."""

    @abstractmethod
    async def presence(self, channel: str) -> dict[str, dict[str, Any]]:
        """Everyone in ``channel``: client id -> info."""

    def history_usage(self) -> HistoryUsage | None:
        """The history's memory against its global bound, where this broker keeps it."""
        return None

    def connected(self, conn_id: str, user: Any) -> None:  # noqa: B027 (optional hook)
        """A connection of this node was accepted (``user`` None when anonymous): a cluster
        broker records it, so a dispatch from any node can count and reach it."""

    def disconnected(self, conn_id: str) -> None:  # noqa: B027 (optional hook)
        """A connection this node reported as :meth:`connected` is gone."""

    def announce(self, info: NodeInfo) -> None:  # noqa: B027 (optional hook)
        """This node's latest :class:`NodeInfo`; a cluster broker shares it with a TTL (a
        broker that keeps no node registry ignores it)."""

    async def nodes(self) -> list[NodeInfo]:
        """Every live node of the cluster, this one included (none, for a broker that keeps
        no node registry)."""
        return []

    def healthy(self) -> bool:
        """Whether the broker reaches what it needs (always, for the embedded one); a node
        whose broker is not healthy serves its own connections and says so on ``/ready``."""
        return True
