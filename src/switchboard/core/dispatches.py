"""Broadcasts, direct messages, disconnects, join/leave events and the server's subscribes,
sent through the broker.

Both sides live here. Sending: each becomes a :class:`~switchboard.broker.base.Dispatch`
handed to the broker, never a loop over this node's registry, so on a cluster it reaches
every node. Arriving: the broker calls :meth:`Dispatches.on_dispatch` on every node (this one
included) and each carries it out for the connections it holds, framed once per wire.

This class is the node's :class:`~switchboard.broker.base.BrokerHandler`: channel
publications are passed on to :class:`~switchboard.core.channels.Channels`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec

from ..broker.base import Broker, Dispatch, DispatchKind, Publication
from ..errors import RequestError
from ..protocol.codecs import DataFormat
from ..protocol.codes import ErrorCode
from ..protocol.envelope import Broadcast, Direct, Envelope, Join, Leave, Member
from .channels import Channels
from .connection import Connection
from .hub import Hub
from .joins import ServerJoins
from .registry import Registry

#: Who the server's own direct messages come from.
SERVER = "server"

Closer = Callable[[Connection, int, str], None]


class Dispatches:
    """The paths between connections that are not channel publications."""

    __slots__ = ("broker", "channels", "close", "hub", "joins", "on_publication", "registry")

    def __init__(
        self, hub: Hub, registry: Registry, broker: Broker, channels: Channels, close: Closer
    ) -> None:
        self.hub = hub
        self.registry = registry
        self.broker = broker
        self.channels = channels
        #: How a connection is closed here (the node's ``close``).
        self.close = close
        #: Channel publications go to the channels' fan-out directly (no frame of ours).
        self.on_publication: Callable[[Publication], None] = channels.on_publication
        #: The server's subscribes and unsubscribes of this node's connections.
        self.joins = ServerJoins(channels, hub)

    # --- sending -------------------------------------------------------------------------------

    async def broadcast(self, data: bytes, data_format: DataFormat = DataFormat.JSON) -> int:
        """``data`` to every connection of the cluster; returns how many."""
        return await self.broker.dispatch(
            Dispatch(DispatchKind.BROADCAST, data=data, data_format=data_format)
        )

    async def direct(
        self,
        data: bytes,
        *,
        user: Any = None,
        connection: str | None = None,
        sender: Member = Member(SERVER),  # noqa: B008 (a frozen value, never changed)
        data_format: DataFormat = DataFormat.JSON,
    ) -> int:
        """``data`` as a ``direct`` message to every connection of ``user``, or to one
        ``connection``; returns how many got it."""
        return await self.broker.dispatch(
            Dispatch(
                DispatchKind.DIRECT,
                user=user,
                connection=connection,
                sender=sender.connection,
                sender_user=sender.user,
                data=data,
                data_format=data_format,
            )
        )

    async def disconnect(
        self, code: int, reason: str, *, user: Any = None, connection: str | None = None
    ) -> int:
        """Close every connection of ``user``, or one ``connection``; returns how many."""
        return await self.broker.dispatch(
            Dispatch(
                DispatchKind.DISCONNECT, user=user, connection=connection, code=code, reason=reason
            )
        )

    async def subscribe(
        self, channel: str, *, user: Any = None, connection: str | None = None, join: bool = True
    ) -> int:
        """Subscribe (``join``) or unsubscribe every connection of ``user``, or one
        ``connection``, to ``channel`` (a valid name), on whichever nodes hold them; returns
        how many. The joins that reached this node are done when it returns."""
        kind = DispatchKind.SUBSCRIBE if join else DispatchKind.UNSUBSCRIBE
        dispatch = Dispatch(kind, user=user, connection=connection, channel=channel)
        reached = await self.broker.dispatch(dispatch)
        await self.joins.settled()
        return reached

    async def send(self, conn: Connection, msg: Envelope) -> None:
        """The ``send`` request: a direct message to a user's connections or to one."""
        target = msg.to
        if target is None or (target.user is None) == (target.connection is None):
            raise RequestError(
                ErrorCode.INVALID_MESSAGE_FORMAT,
                '\'to\' must be {"user": ...} or {"connection": ...}',
            )
        reached = await self.direct(
            bytes(msg.data),
            user=target.user,
            connection=target.connection,
            sender=Member(conn.id, conn.user),
            data_format=conn.wire.codec.data_format,
        )
        if not reached:
            if target.connection is not None:
                raise RequestError(ErrorCode.NOT_FOUND, f"no open connection {target.connection!r}")
            raise RequestError(ErrorCode.NOT_FOUND, f"no open user {target.user!r}")
        self.hub.ack(conn, msg.id)

    async def broadcast_request(self, conn: Connection, msg: Envelope) -> None:
        """The ``broadcast`` request: its ``data`` to everyone, in the sender's format."""
        await self.broadcast(bytes(msg.data), conn.wire.codec.data_format)
        self.hub.ack(conn, msg.id)

    # --- arriving (the broker handler) -----------------------------------------------------------

    def on_dispatch(self, dispatch: Dispatch) -> int:
        kind = dispatch.kind
        if kind is DispatchKind.BROADCAST:
            message = Broadcast(data=msgspec.Raw(dispatch.data))
            return self.hub.broadcast(message, dispatch.data_format)
        if kind is DispatchKind.DIRECT:
            conns = [c for c in self._targets(dispatch) if c.accepted and not c.closing]
            if conns:
                sender = Member(dispatch.sender, dispatch.sender_user)
                direct = Direct(sender=sender, data=msgspec.Raw(dispatch.data))
                self.hub.fan_out(conns, direct, dispatch.data_format)
            return len(conns)
        if kind is DispatchKind.DISCONNECT:
            conns = [c for c in self._targets(dispatch) if not c.closing]
            for conn in conns:
                self.close(conn, dispatch.code, dispatch.reason)
            return len(conns)
        if kind is DispatchKind.SUBSCRIBE or kind is DispatchKind.UNSUBSCRIBE:
            step = (
                self.joins.subscribe if kind is DispatchKind.SUBSCRIBE else self.joins.unsubscribe
            )
            return sum(step(conn, dispatch.channel) for conn in self._targets(dispatch))
        member = Member(dispatch.sender, dispatch.sender_user)
        channel = dispatch.channel
        event = Join(channel, member) if kind is DispatchKind.JOIN else Leave(channel, member)
        return self.channels.tell_others(channel, dispatch.sender, event)

    def _targets(self, dispatch: Dispatch) -> list[Connection]:
        """The connections of this node a DIRECT, DISCONNECT, SUBSCRIBE or UNSUBSCRIBE names."""
        if dispatch.connection is not None:
            found = self.registry.get(dispatch.connection)
            return [] if found is None else [found]
        if dispatch.user is not None:
            return self.registry.of_user(dispatch.user)
        return []
