"""What server code may do to connections and channels: the server-side half of ``App``.

Every call goes through the broker (``core/dispatches.py``), so on a cluster it reaches the
connections of every node; a :class:`~switchboard.core.connection.Connection` object given
directly is this node's own and is acted on here.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .core.connection import Connection
from .core.node import Node
from .protocol.channels import is_valid_channel
from .protocol.envelope import encode


class ServerSide:
    """A mixin of :class:`~switchboard.App`: publish, send, subscribe and disconnect."""

    node: Node | None

    def _running(self) -> Node:
        if self.node is None:
            raise RuntimeError("the app is not running: call start() or run() first")
        return self.node

    async def publish(
        self, channel: str, data: Any, *, skip: Connection | str | None = None
    ) -> int:
        """Publish ``data`` (any JSON value) to ``channel``; returns its offset. ``skip``: a
        subscriber (its connection, or its id) not to get it, typically the one whose
        request caused it; it is skipped on this node (a connection of another node is not)."""
        node = self._running()
        skipped = node.registry.get(skip) if isinstance(skip, str) else skip
        position = await node.channels.publish_from_server(channel, encode(data), skipped)
        return position.offset

    def set_user(self, conn: Connection, user: Any, roles: Iterable[str] | None = None) -> None:
        """Make ``user`` who ``conn`` is from now on (a login message, a rename), and
        ``roles`` its roles when given: :meth:`send_to_user` and sends to a user on every node
        follow. After the ``welcome`` this is the way to change a user: assigning
        ``conn.user`` then leaves the connection indexed under its former user (or none)."""
        self._running().set_user(conn, user, None if roles is None else frozenset(roles))

    async def send_to_user(self, user: Any, data: Any) -> int:
        """Send ``{"type":"direct","from":{"connection":"server","user":null},"data":...}`` to
        every connection of ``user``; returns how many."""
        return await self._running().dispatches.direct(encode(data), user=user)

    async def send_to_connection(self, connection_id: str, data: Any) -> bool:
        """Send a direct message to one connection; False when it is not open."""
        node = self._running()
        return bool(await node.dispatches.direct(encode(data), connection=connection_id))

    async def disconnect(self, connection_id: str, code: int = 1000, reason: str = "") -> bool:
        """Close one connection with ``code``; False when it is not open."""
        node = self._running()
        return bool(await node.dispatches.disconnect(code, reason, connection=connection_id))

    async def disconnect_user(self, user: Any, code: int = 1000, reason: str = "") -> int:
        """Close every connection of ``user``, on every node, with ``code``; returns how many."""
        return await self._running().dispatches.disconnect(code, reason, user=user)

    async def subscribe(
        self, channel: str, *, connection: Connection | str | None = None, user: Any = None
    ) -> int:
        """Subscribe one connection (object or id), or every connection of ``user`` on every
        node, to ``channel``; returns how many were reached. Each gets
        ``{"type":"subscribed","channel":...,"offset":...,"epoch":...}``, then the channel's
        publications. No permission check (the server decides); the subscription limit
        counts. In an ``on_connect`` hook it takes effect right after the ``welcome``."""
        return await self._membership(channel, connection, user, join=True)

    async def unsubscribe(
        self, channel: str, *, connection: Connection | str | None = None, user: Any = None
    ) -> int:
        """End the subscription of one connection, or of every connection of ``user``, to
        ``channel``; each that had it gets ``{"type":"unsubscribed","channel":...}``.
        Returns how many connections were reached."""
        return await self._membership(channel, connection, user, join=False)

    async def _membership(
        self, channel: str, connection: Connection | str | None, user: Any, *, join: bool
    ) -> int:
        if (connection is None) == (user is None):
            raise TypeError("give exactly one of connection= or user=")
        if not isinstance(channel, str) or not is_valid_channel(channel):
            raise ValueError(f"not a valid channel name: {channel!r}")
        node = self._running()
        if isinstance(connection, Connection):  # this node's own: no dispatch needed
            joins = node.dispatches.joins
            reached = (
                joins.subscribe(connection, channel)
                if join
                else (joins.unsubscribe(connection, channel))
            )
            await joins.settled()
            return int(reached)
        return await node.dispatches.subscribe(channel, user=user, connection=connection, join=join)
