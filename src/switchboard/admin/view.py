"""What the control plane reads of a node and asks it to do: ``NodeView``, which ``App`` meets.

The control plane is an adapter the composition root starts, so it takes this view, never
``App`` itself: the routes read settings, counters and this node's registry and channels, and
act (send, disconnect) through the view's coroutines, whose answers they trust. Those go
through the broker, so "gone" is the cluster's answer, not this node's registry's.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import TYPE_CHECKING, Any, Protocol

from .errors import ApiError

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

    from ..broker.base import Broker
    from ..config import Settings
    from ..core.channels import Channels
    from ..core.connection import Connection
    from ..core.lifecycle import NodeLifecycle
    from ..core.outbox import Outbox
    from ..core.registry import Registry
    from ..core.stats import Stats
    from ..observability.monitor import Monitor
    from ..observability.tracing import Tracing


class LocalNode(Protocol):
    """The running node as the control plane reads it: this node's connections, channels and
    counters (``core.node.Node`` has them)."""

    @property
    def node_id(self) -> str: ...
    @property
    def registry(self) -> Registry: ...
    @property
    def channels(self) -> Channels: ...
    @property
    def broker(self) -> Broker: ...
    @property
    def stats(self) -> Stats: ...
    @property
    def outbox(self) -> Outbox: ...
    @property
    def connections_total(self) -> int: ...
    def messages_in(self) -> int: ...
    def bytes_in(self) -> int: ...


class NodeView(Protocol):
    """Everything the control plane reads of a node and asks of it."""

    @property
    def settings(self) -> Settings:
        """Read on every request: the key and limits in force now."""
        ...

    @property
    def version(self) -> str: ...

    @property
    def node(self) -> LocalNode | None:
        """The running node; None before it starts serving."""
        ...

    @property
    def started_at(self) -> float:
        """Loop time the node started serving."""
        ...

    @property
    def draining(self) -> bool: ...

    @property
    def lifecycle(self) -> NodeLifecycle:
        """The node's state (STARTING, READY, DRAINING, STOPPED): what ``/ready`` reads."""
        ...

    @property
    def port(self) -> int:
        """The WebSocket port."""
        ...

    @property
    def tls(self) -> object | None:
        """What serves wss://, or None: the control plane only asks whether TLS is on."""
        ...

    @property
    def monitor(self) -> Monitor | None: ...

    @property
    def metrics_registry(self) -> CollectorRegistry | None: ...

    @property
    def tracing(self) -> Tracing | None: ...

    async def publish(self, channel: str, data: Any) -> int:
        """Publish ``data`` to ``channel``; its offset."""
        ...

    async def send_to_user(self, user: Any, data: Any) -> int:
        """A direct message to every connection of ``user``; how many got it."""
        ...

    async def send_to_connection(self, connection_id: str, data: Any) -> bool:
        """A direct message to one connection; False when it is gone."""
        ...

    async def disconnect(self, connection_id: str, code: int = 1000, reason: str = "") -> bool:
        """Close one connection; False when it is gone."""
        ...

    async def disconnect_user(self, user: Any, code: int = 1000, reason: str = "") -> int:
        """Close every connection of ``user`` on every node; how many."""
        ...

    async def subscribe(
        self, channel: str, *, connection: Connection | str | None = None, user: Any = None
    ) -> int:
        """Subscribe ``connection``, or every connection of ``user``, to ``channel`` (on
        every node); how many connections it reached."""
        ...

    async def unsubscribe(
        self, channel: str, *, connection: Connection | str | None = None, user: Any = None
    ) -> int:
        """Unsubscribe ``connection``, or every connection of ``user``, from ``channel``;
        how many connections it reached."""
        ...


def running(view: NodeView) -> LocalNode:
    """The view's running node, or 503."""
    node = view.node
    if node is None:
        raise ApiError(503, "the server is not running")
    return node


def user_index(node: LocalNode) -> Mapping[Any, Collection[Connection]]:
    """This node's connections by user: the one place the control plane reads that index."""
    return node.registry.users
