"""The broker interface every implementation keeps (one contract test suite runs against each).

A broker carries publications between the nodes that have subscribers for a channel, keeps
each channel's bounded history with monotonically increasing offsets, and tracks presence.

Offsets and epochs make resume exact. Every publication to a channel gets the next offset
(1, 2, 3, ...). The channel's *epoch* names one unbroken run of offsets: when the broker
loses a channel's stream (its history expired, the broker restarted without it), the next
publication starts a new epoch, so a client holding ``(offset, epoch)`` can tell "I missed
messages 42-57, send them" from "the history I knew is gone, resync".

The broker calls the node back through :class:`BrokerHandler`; it never touches connections.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..protocol.codecs import DataFormat


class BrokerUnavailable(Exception):
    """The broker cannot be reached; what was asked did not happen."""


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


@dataclass(frozen=True, slots=True)
class HistoryUsage:
    """What a broker's history holds against its global bound (for metrics)."""

    bytes: int
    limit: int  # 0: no bound
    evicted: int  # publications dropped to keep the bound, since start


class BrokerHandler(Protocol):
    """The node side: what a broker calls when a publication arrives for this node."""

    def on_publication(self, publication: Publication) -> None: ...


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
