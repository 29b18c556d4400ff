"""Channel publications from clients and from the server, with the skip of a subscriber.

A mixin of :class:`~switchboard.core.channels.Channels` (the requests that publish), kept
apart so each file holds one concern.
"""

from __future__ import annotations

from collections.abc import Callable

from ..broker.base import Broker, Publication, StreamPosition
from ..errors import RequestError
from ..protocol.codecs import DataFormat
from ..protocol.codes import ErrorCode
from ..protocol.envelope import Ack, Envelope
from .channel_options import ChannelOptions
from .connection import Connection
from .creation import CreationLimit
from .hub import Hub
from .skips import Skips


class Publishing:
    """``publish`` requests and ``app.publish``; what they need, :class:`Channels` has."""

    hub: Hub
    broker: Broker
    creation: CreationLimit
    skips: Skips
    subscribers: dict[str, dict[Connection, None]]
    options: Callable[[str | None], tuple[str, ChannelOptions]]
    _check: Callable[[Connection, str, str, Envelope], None]
    _replay: Callable[[Connection, Publication], None]

    async def publish(self, conn: Connection, msg: Envelope) -> None:
        channel, options = self.options(msg.channel)
        if not options.publish:
            raise RequestError(ErrorCode.FORBIDDEN, f"clients may not publish to {channel!r}")
        self._check(conn, channel, "publish", msg)
        data_format = conn.wire.codec.data_format
        await self.creation.check(conn, channel)
        data = bytes(msg.data)
        skip = conn if msg.skip_self else None
        position = await self.publish_skipping(channel, data, options, data_format, skip)
        if position.offset == 1:  # this publication started the channel's stream
            self.creation.created(conn)
        if msg.id is not None:
            self.hub.send(conn, Ack(msg.id, channel, position.offset, position.epoch))

    def publish_pipelines(self, conn: Connection, msg: Envelope, ahead: int) -> bool:
        """Whether a publish may start while ``ahead`` of the connection's requests are in
        flight: its one broker call is the publish, unless the channel-creation limit has
        to be checked first (a history read); each request ahead might create a channel, so
        the bucket must hold a token for every one of them as well."""
        return self.creation.allows_ahead(conn, ahead)

    async def publish_from_server(
        self, channel: str, data: bytes, skip: Connection | None = None
    ) -> StreamPosition:
        """``app.publish``: the server may publish (JSON ``data``) to any valid channel;
        ``skip``: a subscriber of this node not to get it."""
        channel, options = self.options(channel)
        return await self.publish_skipping(channel, data, options, DataFormat.JSON, skip)

    async def publish_skipping(
        self,
        channel: str,
        data: bytes,
        options: ChannelOptions,
        data_format: DataFormat,
        skip: Connection | None,
    ) -> StreamPosition:
        """Publish through the broker; ``skip``, when a live subscriber, does not get it."""
        history = options.history
        if skip is None or skip not in self.subscribers.get(channel, ()):
            return await self.broker.publish(channel, data, history, data_format)
        skips = self.skips
        skips.expect(skip, channel)
        position = None
        try:
            position = await self.broker.publish(channel, data, history, data_format)
        finally:
            for pub in skips.settle(skip, channel, position):
                if not skip.closing:
                    self._replay(skip, pub)
        return position
