"""Channels on one node: who is subscribed, exact resume, presence, join and leave.

The node keeps ``channel -> subscribed connections``; the broker carries publications,
history, presence and join/leave events. A publication is framed once and fanned out
through the outbox to every local subscriber.

Resume is exact. While a connection subscribes with ``recover_from``, publications that
arrive for the channel are held for it; once the broker has answered, the client gets the
``ack`` (with ``recovered``), then the missed publications, then the held ones it has not
seen (by offset), and only then joins the live set. Nothing is lost or repeated in between.

Creating channels is rate limited per connection (``create_rate`` per second, ``create_burst``
at once): a publish or subscribe that gives a channel its stream takes a token, and with no
token left only channels that already have a stream may be used (RATE_LIMIT_EXCEEDED).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

import msgspec

from ..broker.base import (
    Broker,
    Dispatch,
    DispatchKind,
    HistoryOptions,
    Publication,
    StreamPosition,
)
from ..errors import RequestError
from ..protocol.channels import is_valid_channel, namespace_of
from ..protocol.codecs import DataFormat
from ..protocol.codes import ErrorCode
from ..protocol.envelope import (
    Ack,
    ChannelMessage,
    Envelope,
    Join,
    Leave,
    Member,
    PresenceReply,
)
from .connection import Connection
from .hub import Hub, frame_for
from .ratelimit import bucket_of
from .stats import bump

#: Where a connection's channel-creation bucket lives in ``conn.state``.
_CREATE_BUCKET = "switchboard.channel_create"


class ChannelOptions(msgspec.Struct, frozen=True):
    """The per-namespace options the core needs (mirrors ``config.NamespaceOptions``)."""

    history: HistoryOptions
    publish: bool = True
    presence: bool = False
    join_leave: bool = False


class Channels:
    """Subscriptions of this node's connections, and the broker's handler."""

    def __init__(
        self,
        hub: Hub,
        broker: Broker,
        options_for: Callable[[str], ChannelOptions],
        max_subscriptions: int = 1000,
        create_rate: float = 0.0,
        create_burst: int = 0,
    ) -> None:
        self.hub = hub
        self.create_rate = create_rate
        self.create_burst = float(create_burst or max(1, round(create_rate)))
        self.max_subscriptions = max_subscriptions
        self.broker = broker
        self.options_for = options_for
        #: channel -> its live subscribers on this node, in subscription order (a dict used
        #: as an ordered set: fan-out writes to sockets in the order clients subscribed).
        self.subscribers: dict[str, dict[Connection, None]] = {}
        #: channel -> connections mid-subscribe -> publications held for them
        self._joining: dict[str, dict[Connection, list[Publication]]] = {}
        #: channel -> the broker subscription being made for it (later joiners wait for it:
        #: recovering before it is in place could miss what is published meanwhile).
        self._subscribing: dict[str, asyncio.Future[None]] = {}
        #: channel -> the last publication this node fanned out.
        self._seen: dict[str, StreamPosition] = {}
        #: channel -> subscribers that went live at a position the node's live stream has not
        #: reached yet (a cluster broker's reply and its live stream come on two connections):
        #: a late publication at or before that position was theirs already.
        self._fresh: dict[str, dict[Connection, StreamPosition]] = {}
        self.subscriptions_of: dict[Connection, set[str]] = {}
        #: Permission check ``(conn, channel, namespace, action, msg)`` that raises
        #: ``RequestError(FORBIDDEN)``; installed by the app when permissions are configured.
        self.access: Callable[[Connection, str, str, str, Envelope], None] | None = None

    # --- broker side ---------------------------------------------------------------------------

    def on_publication(self, publication: Publication) -> None:
        """Fan a publication out to this node's subscribers: framed once per wire."""
        channel = publication.channel
        self._seen[channel] = StreamPosition(publication.offset, publication.epoch)
        live = self.subscribers.get(channel)
        if live:
            fresh = self._fresh.get(channel)
            targets = list(live) if fresh is None else self._past(publication, live, fresh)
            if targets:
                self.hub.fan_out(targets, _message(publication), publication.data_format)
        joining = self._joining.get(channel)
        if joining:
            for held in joining.values():
                held.append(publication)

    def _past(
        self,
        publication: Publication,
        live: dict[Connection, None],
        fresh: dict[Connection, StreamPosition],
    ) -> list[Connection]:
        """The live subscribers ``publication`` is new to; fresh ones it passes stop being."""
        targets = []
        for conn in live:
            since = fresh.get(conn)
            newer = since is None or since.epoch != publication.epoch
            if newer or publication.offset > since.offset:  # type: ignore[union-attr]
                targets.append(conn)
            if since is not None and (newer or publication.offset >= since.offset):
                del fresh[conn]
        if not fresh:
            self._fresh.pop(publication.channel, None)
        return targets

    # --- requests ------------------------------------------------------------------------------

    def _check(self, conn: Connection, channel: str, action: str, msg: Envelope) -> None:
        if self.access is not None:
            self.access(conn, channel, namespace_of(channel), action, msg)

    def options(self, channel: str | None) -> tuple[str, ChannelOptions]:
        if not channel or not is_valid_channel(channel):
            raise RequestError(
                ErrorCode.INVALID_MESSAGE_FORMAT,
                "a valid 'channel' is required: 1-255 of A-Z a-z 0-9 _ - . : @ # = / ,",
            )
        return channel, self.options_for(namespace_of(channel))

    async def subscribe(self, conn: Connection, msg: Envelope) -> None:
        channel, options = self.options(msg.channel)
        self._check(conn, channel, "subscribe", msg)
        if conn in self.subscribers.get(channel, ()):
            # Already live: nothing was missed on this node; confirm where the channel is.
            position = await self.broker.position(channel)
            ack = Ack(msg.id, channel, position.offset, position.epoch, None)
            self.hub.send(conn, ack)
            return
        if len(self.subscriptions_of.get(conn, ())) >= self.max_subscriptions:
            raise RequestError(
                ErrorCode.FORBIDDEN,
                f"at most {self.max_subscriptions} subscriptions per connection",
            )
        await self._may_create(conn, channel)
        joining = self._joining.setdefault(channel, {})
        joining[conn] = []
        try:
            if len(joining) == 1 and not self.subscribers.get(channel):
                await self._subscribe_broker(channel)
            elif channel in self._subscribing:
                await asyncio.shield(self._subscribing[channel])
            if msg.recover_from is not None:
                since = StreamPosition(msg.recover_from.offset, msg.recover_from.epoch)
                recovery = await self.broker.recover(channel, since)
                recovered: bool | None = recovery.recovered
                position, missed = recovery.position, recovery.publications
            else:
                recovered, missed = None, []
                position = await self.broker.position(channel)
        except BaseException:
            self._forget_joining(channel, conn)
            raise
        held = self._forget_joining(channel, conn)
        if position.offset == 0:  # a new stream, or one nobody published to yet
            self._created(conn)
        if conn.closing:
            await self._release(channel)
            return
        ack = Ack(msg.id, channel, position.offset, position.epoch, recovered)
        self.hub.send(conn, ack)
        last = position.offset
        for pub in missed:
            self._replay(conn, pub)
        for pub in held:
            if pub.offset > last or pub.epoch != position.epoch:
                self._replay(conn, pub)
                last = pub.offset
        already = self.subscribers.setdefault(channel, {})
        if conn in already:
            return
        already[conn] = None
        seen = self._seen.get(channel)
        if seen is None or seen.epoch != position.epoch or seen.offset < last:
            self._fresh.setdefault(channel, {})[conn] = StreamPosition(last, position.epoch)
        self.subscriptions_of.setdefault(conn, set()).add(channel)
        if options.presence:
            member = Member(conn.id, conn.user)
            await self.broker.add_presence(channel, conn.id, {"user": conn.user})
            if options.join_leave:
                await self._membership(DispatchKind.JOIN, channel, member)

    async def _subscribe_broker(self, channel: str) -> None:
        """The node's subscription to ``channel``, which joiners meanwhile wait for."""
        made: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._subscribing[channel] = made
        try:
            await self.broker.subscribe(channel)
        except BaseException as exc:
            made.set_exception(exc if isinstance(exc, Exception) else asyncio.CancelledError())
            made.exception()  # retrieved: the joiners waiting (if any) raise it
            raise
        else:
            made.set_result(None)
        finally:
            self._subscribing.pop(channel, None)

    async def unsubscribe(self, conn: Connection, msg: Envelope) -> None:
        channel, _ = self.options(msg.channel)
        await self._leave(conn, channel)
        if msg.id is not None:
            self.hub.send(conn, Ack(msg.id, channel))

    async def publish(self, conn: Connection, msg: Envelope) -> None:
        channel, options = self.options(msg.channel)
        if not options.publish:
            raise RequestError(ErrorCode.FORBIDDEN, f"clients may not publish to {channel!r}")
        self._check(conn, channel, "publish", msg)
        data_format = conn.wire.codec.data_format
        await self._may_create(conn, channel)
        position = await self.broker.publish(channel, bytes(msg.data), options.history, data_format)
        if position.offset == 1:  # this publication started the channel's stream
            self._created(conn)
        if msg.id is not None:
            self.hub.send(conn, Ack(msg.id, channel, position.offset, position.epoch))

    def publish_pipelines(self, conn: Connection, msg: Envelope, ahead: int) -> bool:
        """Whether a publish may start while ``ahead`` of the connection's requests are in
        flight: its one broker call is the publish, unless the channel-creation limit has
        to be checked first (a history read); each request ahead might create a channel, so
        the bucket must hold a token for every one of them as well."""
        return not self.create_rate or self._create_tokens(conn)[0] >= ahead + 1.0

    async def publish_from_server(self, channel: str, data: bytes) -> StreamPosition:
        """``app.publish``: the server may publish (JSON ``data``) to any valid channel."""
        channel, options = self.options(channel)
        return await self.broker.publish(channel, data, options.history, DataFormat.JSON)

    async def presence(self, conn: Connection, msg: Envelope) -> None:
        channel, options = self.options(msg.channel)
        if not options.presence:
            raise RequestError(ErrorCode.FORBIDDEN, f"presence is off for {channel!r}")
        self._check(conn, channel, "presence", msg)
        members = await self.broker.presence(channel)
        reply = PresenceReply(
            channel=channel,
            members=[Member(cid, info.get("user")) for cid, info in sorted(members.items())],
            id=msg.id,
        )
        self.hub.send(conn, reply)

    # --- connection life -----------------------------------------------------------------------

    def gone(self, conn: Connection) -> Coroutine[Any, Any, None] | None:
        """A connection closed: drop it from every index now; the broker side (presence,
        leave events, releasing channels) is returned to await, or None when there is none."""
        channels = self.subscriptions_of.pop(conn, None)
        if not channels:
            return None
        for channel in channels:
            self.subscribers.get(channel, {}).pop(conn, None)
            self._forget_fresh(channel, conn)
        return self._after_leaving(conn, list(channels))

    # --- helpers -------------------------------------------------------------------------------

    def _create_tokens(self, conn: Connection) -> list[float]:
        """``conn``'s channel-creation bucket ``[tokens, stamp]``, refilled to now."""
        return bucket_of(conn, _CREATE_BUCKET, self.create_rate, self.create_burst)

    async def _may_create(self, conn: Connection, channel: str) -> None:
        """Refuse a channel with no stream yet when ``conn`` may create no more just now."""
        if not self.create_rate or self._create_tokens(conn)[0] >= 1.0:
            return
        position, _ = await self.broker.history(channel, 0)
        if not position.epoch:  # no stream: using it would create one
            bump(self.hub.stats.rate_limited, "channel_create")
            raise RequestError(
                ErrorCode.RATE_LIMIT_EXCEEDED,
                f"at most {self.create_rate:g} new channels per second per connection",
            )

    def _created(self, conn: Connection) -> None:
        if self.create_rate:
            bucket = self._create_tokens(conn)
            bucket[0] = max(0.0, bucket[0] - 1.0)

    def _forget_joining(self, channel: str, conn: Connection) -> list[Publication]:
        joining = self._joining.get(channel, {})
        held = joining.pop(conn, [])
        if not joining:
            self._joining.pop(channel, None)
        return held

    async def _leave(self, conn: Connection, channel: str) -> None:
        live = self.subscribers.get(channel)
        if live is None or conn not in live:
            return
        del live[conn]
        self._forget_fresh(channel, conn)
        mine = self.subscriptions_of.get(conn)
        if mine is not None:
            mine.discard(channel)
        await self._after_leaving(conn, [channel])

    def _forget_fresh(self, channel: str, conn: Connection) -> None:
        fresh = self._fresh.get(channel)
        if fresh is not None and fresh.pop(conn, None) is not None and not fresh:
            del self._fresh[channel]

    async def _after_leaving(self, conn: Connection, channels: list[str]) -> None:
        for channel in channels:
            options = self.options_for(namespace_of(channel))
            if options.presence:
                await self.broker.remove_presence(channel, conn.id)
                if options.join_leave:
                    member = Member(conn.id, conn.user)
                    await self._membership(DispatchKind.LEAVE, channel, member)
            await self._release(channel)

    async def _release(self, channel: str) -> None:
        """Stop taking a channel's publications once no local connection wants them."""
        if not self.subscribers.get(channel) and channel not in self._joining:
            self.subscribers.pop(channel, None)
            self._seen.pop(channel, None)
            await self.broker.unsubscribe(channel)

    async def _membership(self, kind: DispatchKind, channel: str, member: Member) -> None:
        """A join or leave event, through the broker to the channel's subscribers anywhere."""
        await self.broker.dispatch(
            Dispatch(kind, channel=channel, sender=member.connection, sender_user=member.user)
        )

    def tell_others(self, channel: str, member_id: str, event: Join | Leave) -> int:
        """A join or leave event of ``member_id`` for this node's other subscribers of
        ``channel``; returns how many."""
        others = [c for c in self.subscribers.get(channel, ()) if c.id != member_id]
        if others:
            self.hub.fan_out(others, event)
        return len(others)

    def _replay(self, conn: Connection, publication: Publication) -> None:
        """One publication for one (recovering) subscriber."""
        frame = frame_for(conn.wire, _message(publication), publication.data_format)
        self.hub.outbox.send(conn, frame)


def _message(publication: Publication) -> ChannelMessage:
    """The ``message`` a publication is delivered as (its data in the publisher's format)."""
    return ChannelMessage(
        channel=publication.channel,
        offset=publication.offset,
        data=msgspec.Raw(publication.data),
    )
