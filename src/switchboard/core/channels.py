"""Channels on one node: who is subscribed, exact resume, presence, join and leave.

The node keeps ``channel -> subscribed connections``; the broker carries publications,
history, presence and join/leave events. A publication is framed once and fanned out
through the outbox to every local subscriber.

Resume is exact. While a connection subscribes with ``recover_from``, publications that
arrive for the channel are held for it; once the broker has answered, the client gets the
``ack`` (with ``recovered``), then the missed publications, then the held ones it has not
seen (by offset), and only then joins the live set. Nothing is lost or repeated in between.

Creating channels is rate limited per connection (``core/creation.py``). A publish may skip
a subscriber, its sender (``core/skips.py``). The server may subscribe a connection itself
(:meth:`Channels.join`, used by ``core/joins.py``).
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
    Publication,
    StreamPosition,
)
from ..errors import RequestError
from ..protocol.channels import is_valid_channel, namespace_of
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
from .channel_options import ChannelOptions as ChannelOptions  # re-exported: its first home
from .connection import Connection
from .creation import CreationLimit
from .hub import Hub, frame_for
from .publishing import Publishing
from .skips import Skips


class Channels(Publishing):
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
        #: How many channels a connection may create (``core/creation.py``).
        self.creation = CreationLimit(broker, hub.stats, create_rate, create_burst)
        #: Publications held back from, or dropped for, the subscriber that published them.
        self.skips = Skips()
        self.max_subscriptions = max_subscriptions
        self.broker = broker
        self.options_for = options_for
        #: channel -> its live subscribers on this node, in subscription order (a dict used
        #: as an ordered set: fan-out writes to sockets in the order clients subscribed).
        self.subscribers: dict[str, dict[Connection, None]] = {}
        #: channel -> connections mid-subscribe -> publications held for them
        self._joining: dict[str, dict[Connection, list[Publication]]] = {}
        #: (channel, connection) -> done when that join ends: a second join of the same
        #: connection (its own subscribe beside one the server makes) waits for the first.
        self._join_ends: dict[tuple[str, Connection], asyncio.Future[None]] = {}
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
            skipping = self.skips.by_channel.get(channel)
            if skipping is not None:
                targets = self.skips.sift(publication, targets, live, skipping)
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
        request_id = msg.id

        def answer(position: StreamPosition, recovered: bool | None) -> Ack:
            return Ack(request_id, channel, position.offset, position.epoch, recovered)

        if conn in self.subscribers.get(channel, ()):
            await self._confirm(conn, channel, answer)
            return
        self.check_limit(conn)
        await self.creation.check(conn, channel)
        since = msg.recover_from
        start = None if since is None else StreamPosition(since.offset, since.epoch)
        joined = await self.join(conn, channel, options, answer, start)
        if joined is not None and joined.offset == 0:  # a new stream, or an unused one
            self.creation.created(conn)

    def check_limit(self, conn: Connection, pending: int = 0) -> None:
        """Refuse one more subscription past ``max_subscriptions`` (``pending``: joins of
        ``conn`` under way that count already)."""
        if len(self.subscriptions_of.get(conn, ())) + pending >= self.max_subscriptions:
            raise RequestError(
                ErrorCode.FORBIDDEN,
                f"at most {self.max_subscriptions} subscriptions per connection",
            )

    async def join(
        self,
        conn: Connection,
        channel: str,
        options: ChannelOptions,
        answer: Callable[[StreamPosition, bool | None], Any],
        since: StreamPosition | None = None,
    ) -> StreamPosition | None:
        """Make ``conn`` a live subscriber of ``channel`` with exact resume from ``since``:
        ``answer(position, recovered)`` is the message it gets first (its ``ack``, or the
        ``subscribed`` of a subscription the server made). Returns the position it joined
        at, None when ``conn`` closed meanwhile."""
        key = (channel, conn)
        while (first := self._join_ends.get(key)) is not None:
            await asyncio.shield(first)
        if conn in self.subscribers.get(channel, ()):  # the other join made it live
            return await self._confirm(conn, channel, answer)
        ends = self._join_ends[key] = asyncio.get_running_loop().create_future()
        try:
            return await self._join(conn, channel, options, answer, since)
        finally:
            del self._join_ends[key]
            ends.set_result(None)

    async def _confirm(
        self, conn: Connection, channel: str, answer: Callable[[StreamPosition, None], Any]
    ) -> StreamPosition:
        """``conn`` is live on ``channel`` already: nothing was missed on this node, so its
        answer says where the channel is (``recovered`` None)."""
        position = await self.broker.position(channel)
        self.hub.send(conn, answer(position, None))
        return position

    async def _join(
        self,
        conn: Connection,
        channel: str,
        options: ChannelOptions,
        answer: Callable[[StreamPosition, bool | None], Any],
        since: StreamPosition | None,
    ) -> StreamPosition | None:
        joining = self._joining.setdefault(channel, {})
        joining[conn] = []
        try:
            if len(joining) == 1 and not self.subscribers.get(channel):
                await self._subscribe_broker(channel)
            elif channel in self._subscribing:
                await asyncio.shield(self._subscribing[channel])
            if since is not None:
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
        if conn.closing:
            await self._release(channel)
            return None
        self.hub.send(conn, answer(position, recovered))
        last = position.offset
        for pub in missed:
            self._replay(conn, pub)
        for pub in held:
            if pub.offset > last or pub.epoch != position.epoch:
                self._replay(conn, pub)
                last = pub.offset
        already = self.subscribers.setdefault(channel, {})
        if conn in already:
            return position
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
        return position

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
        await self.leave(conn, channel)
        if msg.id is not None:
            self.hub.send(conn, Ack(msg.id, channel))

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

    def _forget_joining(self, channel: str, conn: Connection) -> list[Publication]:
        joining = self._joining.get(channel, {})
        held = joining.pop(conn, [])
        if not joining:
            self._joining.pop(channel, None)
        return held

    async def leave(self, conn: Connection, channel: str) -> bool:
        """``conn`` stops following ``channel``; False when it did not."""
        live = self.subscribers.get(channel)
        if live is None or conn not in live:
            return False
        del live[conn]
        self._forget_fresh(channel, conn)
        mine = self.subscriptions_of.get(conn)
        if mine is not None:
            mine.discard(channel)
        await self._after_leaving(conn, [channel])
        return True

    def _forget_fresh(self, channel: str, conn: Connection) -> None:
        self.skips.forget(conn, channel)
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
