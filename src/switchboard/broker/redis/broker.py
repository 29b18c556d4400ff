"""The Redis broker: publications, history, presence and dispatches shared by every node.

Keys of a channel, under one hash tag (so every script touches one Redis Cluster slot)::

    <prefix>{<channel>}:meta      HASH  e = epoch, s = last offset   (expires after the history
                                        TTL, at least IDLE_STREAM_TTL: then a new epoch)
    <prefix>{<channel>}:stream    STREAM id "<offset>-0": d = data, f = format, x = expiry (ms)
    <prefix>{<channel>}:members   HASH  client id -> presence info (MessagePack)
    <prefix>{<channel>}:expiry    ZSET  client id -> until when its node vouches for it (ms)

Pub/sub topics, all read over the node's one :class:`~.link.Link`: ``<prefix>{<channel>}:pub``
carries a channel's publications (offset, epoch, format, data); ``<prefix>dispatch``
broadcasts and join/leave events, for every node; ``<prefix>node:<node>`` the direct messages
and disconnects for this node's connections (see :mod:`.registry`).

A publish is one Lua function (:mod:`.scripts`): the epoch from the meta hash (a new random
one when it is missing, which also drops a stream left from the old epoch), HINCRBY for the
offset, XADD with the offset as the stream id (trimmed to the history size), the TTLs,
PUBLISH. So the offset, the stored entry and the live message always agree, whichever node
publishes. The calls asked for in one loop pass go out in one script call, in one pipeline
(:mod:`.batch`).

When the PUB/SUB link comes back after a loss, every subscribed channel is read from the
stream after the last offset this node delivered, and the gap is delivered before the live
publications held meanwhile: subscribers miss nothing Redis accepted while the link was down.

Errors of the Redis client become :class:`~switchboard.errors.BrokerUnavailable` here, with
a message that never carries the URL (it may hold a password).
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import msgspec
import structlog

from ...errors import BrokerUnavailable
from ...protocol.codecs import DataFormat
from ...tasks import cancelled
from ..base import (
    Broker,
    BrokerHandler,
    Dispatch,
    DispatchKind,
    HistoryOptions,
    NodeInfo,
    Publication,
    Recovery,
    StreamPosition,
    recovery,
)
from ..memory import IDLE_STREAM_TTL
from .batch import Batch
from .client import UNAVAILABLE, connect
from .entries import _is_new, _kept, _new_epoch, _text
from .link import PROBE, Link
from .registry import ConnectionRegistry, user_key
from .scripts import (
    CLAIM,
    HISTORY,
    HISTORY_PAGE,
    NODES,
    PRESENCE,
    PRESENCE_ADD,
    PUBLISH,
    RECOVER,
    ROUTE,
)

log = structlog.get_logger("switchboard.broker")

#: Live publications held per channel while it catches up after a link loss.
HOLD_LIMIT = 10_000

_node_encoder = msgspec.msgpack.Encoder()
_node_decoder = msgspec.msgpack.Decoder(NodeInfo)
_dispatch_encoder = msgspec.msgpack.Encoder()
_dispatch_decoder = msgspec.msgpack.Decoder(Dispatch)
_info_decoder = msgspec.msgpack.Decoder(dict[str, Any])


class RedisBroker(Broker):
    """Every node started with the same Redis (and prefix) is one cluster."""

    def __init__(
        self,
        url: str = "redis://127.0.0.1:6379/0",
        *,
        prefix: str = "sb:",
        timeout: float = 5.0,
        registry_ttl: float = 10.0,
        probe_after: float = 30.0,
        probe_timeout: float = 5.0,
        control: bool = True,
    ) -> None:
        #: ``timeout``: seconds to wait for Redis to answer a command (then UNAVAILABLE).
        self._redis: Any = connect(url, command_timeout=timeout)
        self._reader_client: Any = connect(url, command_timeout=None)
        self.prefix = prefix
        self._dispatch_topic = f"{prefix}dispatch"
        self._batch = Batch(self._redis, timeout)
        self.registry = ConnectionRegistry(self._batch, prefix, ttl=registry_ttl)
        self._node_topic = f"{prefix}node:{self.registry.node}"
        self.link = Link(
            self._reader_client,
            self._on_message,
            self._restored,
            probe_topic=self._node_topic,
            probe_after=probe_after,
            probe_timeout=probe_timeout,
        )
        self._handler: BrokerHandler | None = None
        #: Channel -> the last position this node delivered (what a gap is measured from).
        self._last: dict[str, StreamPosition] = {}
        #: Channels being caught up after a link loss -> live publications held meanwhile.
        self._holding: dict[str, list[Publication]] = {}
        #: (channel, client id) -> presence info this node vouches for (refreshed).
        self._present: dict[tuple[str, str], bytes] = {}
        self._presence_refresher: asyncio.Task[None] | None = None
        #: Whether this Redis carries dispatches and the connection registry (a shard other
        #: than the first holds channels only: see :mod:`.sharded`).
        self.control = control
        self._announced_state = ""
        self._announcing: asyncio.Future[None] | None = None

    # --- keys ------------------------------------------------------------------------------------

    def _keys(self, channel: str) -> list[str]:
        base = f"{self.prefix}{{{channel}}}"
        return [f"{base}:meta", f"{base}:stream"]

    def _topic(self, channel: str) -> str:
        return f"{self.prefix}{{{channel}}}:pub"

    def _presence_keys(self, channel: str) -> list[str]:
        base = f"{self.prefix}{{{channel}}}"
        return [f"{base}:members", f"{base}:expiry"]

    # --- lifecycle -------------------------------------------------------------------------------

    async def start(self, handler: BrokerHandler) -> None:
        self._handler = handler
        topics = [self._dispatch_topic, self._node_topic] if self.control else [self._node_topic]
        await self.link.start(topics)
        if self.control:
            await self.registry.start()
        self._presence_refresher = asyncio.create_task(self._refresh_presence())

    async def close(self) -> None:
        self._handler = None
        await cancelled(self._presence_refresher)
        if self.control:
            await self.registry.stop()
        await self.link.close()
        for client in (self._redis, self._reader_client):
            with contextlib.suppress(*UNAVAILABLE):
                await client.aclose()

    def healthy(self) -> bool:
        return self.link.up and not self._batch.failing

    # --- arriving --------------------------------------------------------------------------------

    def _on_message(self, topic: bytes, data: bytes) -> None:
        handler = self._handler
        if handler is None or data == PROBE:
            return
        if not topic.endswith(b"}:pub"):
            handler.on_dispatch(_dispatch_decoder.decode(data))
            return
        offset, epoch, data_format, payload = data.split(b"\n", 3)
        channel = topic.decode()[len(self.prefix) + 1 : -len("}:pub")]
        publication = Publication(
            channel, int(offset), epoch.decode(), payload, DataFormat(data_format.decode())
        )
        held = self._holding.get(channel)
        if held is not None:
            held.append(publication)
            if len(held) >= HOLD_LIMIT:  # catching up takes too long: stop holding
                log.warning("broker_gap_lost", channel=channel, after=self._last[channel].offset)
                self._release(channel)
            return
        self._delivered(publication)
        handler.on_publication(publication)

    def _delivered(self, publication: Publication) -> None:
        if _is_new(self._last.get(publication.channel), publication):
            self._last[publication.channel] = StreamPosition(publication.offset, publication.epoch)

    async def _restored(self) -> None:
        """The link is back: deliver, channel by channel, what was published meanwhile.

        Live publications of a channel are held until it caught up, across attempts (the
        link retries this until it succeeds), up to :data:`HOLD_LIMIT` each."""
        channels = [ch for ch in self._last if self._topic(ch) in self.link.topics]
        for channel in channels:
            self._holding.setdefault(channel, [])
        for channel in channels:
            if channel in self._holding:
                await self._catch_up(channel)
                self._release(channel)

    async def _catch_up(self, channel: str) -> None:
        since = self._last[channel]
        top, epoch, kept = await self._recover_script(channel, since.offset)
        if epoch != since.epoch:
            # Redis lost the channel (restarted empty, or it expired): a new epoch. What it
            # holds now is all new; clients that resume learn it from `recovered: false`.
            log.warning("broker_channel_reset", channel=channel)
            _, _, kept = await self._recover_script(channel, 0)
        elif top > since.offset and (not kept or kept[0].offset != since.offset + 1):
            log.warning("broker_gap_lost", channel=channel, after=since.offset, top=top)
        self._deliver_caught_up(channel, kept)

    def _deliver_caught_up(self, channel: str, kept: list[Publication]) -> None:
        handler = self._handler
        for publication in kept:
            if _is_new(self._last.get(channel), publication):
                self._delivered(publication)
                if handler is not None:
                    handler.on_publication(publication)

    def _release(self, channel: str) -> None:
        held = self._holding.pop(channel, [])
        self._deliver_caught_up(channel, held)

    # --- publications ----------------------------------------------------------------------------

    async def publish(
        self,
        channel: str,
        data: bytes,
        history: HistoryOptions,
        data_format: DataFormat = DataFormat.JSON,
    ) -> StreamPosition:
        size = history.size if history.enabled else 0
        ttl_ms = max(1, round(history.ttl * 1000)) if history.enabled else 0
        meta_ttl = round(max(history.ttl, IDLE_STREAM_TTL) * 1000)
        args = [data, data_format.value, size, ttl_ms, meta_ttl, _new_epoch()]
        args.append(self._topic(channel))
        offset, epoch = await self._batch.run(PUBLISH, self._keys(channel), args)
        return StreamPosition(int(offset), _text(epoch))

    async def dispatch(self, dispatch: Dispatch) -> int:
        payload = _dispatch_encoder.encode(dispatch)
        kind = dispatch.kind
        target: str | bytes
        if kind in (DispatchKind.BROADCAST, DispatchKind.JOIN, DispatchKind.LEAVE):
            mode, target = "all", ""
        elif dispatch.connection is not None:
            mode, target = "conn", dispatch.connection
        elif dispatch.user is not None:
            mode, target = "user", user_key(dispatch.user)
        else:
            return 0
        args = [mode, target, self.registry.base, f"{self.prefix}node:", payload]
        args.append(self._dispatch_topic)
        return int(await self._batch.run(ROUTE, [self.registry.nodes_key], args))

    async def subscribe(self, channel: str) -> None:
        """The node reads ``channel`` from now on. What a catch-up after a link loss starts
        from is the position the node asks for next (its subscribers' ``position`` or
        ``recover``), or the first publication delivered, whichever comes first."""
        await self.link.add(self._topic(channel))

    async def unsubscribe(self, channel: str) -> None:
        self._last.pop(channel, None)
        await self.link.remove(self._topic(channel))

    async def position(self, channel: str) -> StreamPosition:
        top, epoch, _ = await self._recover_script(channel, None)
        return StreamPosition(top, epoch)

    async def recover(self, channel: str, since: StreamPosition) -> Recovery:
        top, epoch, kept = await self._recover_script(channel, since.offset)
        return recovery(since, StreamPosition(top, epoch), kept)

    async def _recover_script(
        self, channel: str, after: int | None
    ) -> tuple[int, str, list[Publication]]:
        meta_ttl = round(IDLE_STREAM_TTL * 1000)
        args = [_new_epoch(), meta_ttl, "" if after is None else after]
        top, epoch, now, entries = await self._batch.run(RECOVER, self._keys(channel), args)
        epoch = _text(epoch)
        if channel not in self._last and self._topic(channel) in self.link.topics:
            self._last[channel] = StreamPosition(int(top), epoch)  # just subscribed
        return int(top), epoch, _kept(channel, epoch, entries, int(now))

    async def history(self, channel: str, limit: int) -> tuple[StreamPosition, list[Publication]]:
        result = await self._batch.run(HISTORY, self._keys(channel), [max(0, limit)])
        top, epoch, now, entries = result
        epoch = _text(epoch)
        kept = _kept(channel, epoch, list(reversed(entries)), int(now))
        return StreamPosition(int(top), epoch), kept

    async def history_page(
        self, channel: str, limit: int, *, since: int | None = None, reverse: bool = False
    ) -> tuple[StreamPosition, list[Publication]]:
        newest = since is None and not reverse  # the newest, read back from the top
        back = reverse or newest
        args = [max(0, limit), "" if since is None else max(0, since), int(back)]
        top, epoch, now, entries = await self._batch.run(HISTORY_PAGE, self._keys(channel), args)
        epoch = _text(epoch)
        kept = _kept(channel, epoch, entries[::-1] if newest else entries, int(now))
        return StreamPosition(int(top), epoch), kept

    # --- claims ----------------------------------------------------------------------------------

    async def claim(self, key: str, value: bytes, ttl: float) -> bytes | None:
        held = await self._batch.run(CLAIM, [f"{self.prefix}claim:{key}"], [value, _ms(ttl)])
        return None if held is None else bytes(held)

    async def settle(self, key: str, value: bytes | None, ttl: float) -> None:
        name = f"{self.prefix}claim:{key}"
        if value is None:
            await self._batch.command("DEL", name)
        else:
            await self._batch.command("SET", name, value, "PX", _ms(ttl))

    # --- the connection registry -----------------------------------------------------------------

    def connected(self, conn_id: str, user: Any) -> None:
        self.registry.connected(conn_id, user)

    def disconnected(self, conn_id: str) -> None:
        self.registry.disconnected(conn_id)

    # --- the node registry -----------------------------------------------------------------------

    def announce(self, info: NodeInfo) -> None:
        """Shared with the cluster at once (with a refresh when the state changed)."""
        encoded = _node_encoder.encode(info)
        changed = self._announced_state != info.state
        self._announced_state = info.state
        self.registry.info = encoded
        if self.control and self.registry.started:
            if changed:  # at once, with the refresh (a new state: ready, draining)
                self._announcing = asyncio.ensure_future(self.registry.refresh())
                self._announcing.add_done_callback(_ignore_failure)
            else:
                self.registry.write_info()

    async def nodes(self) -> list[NodeInfo]:
        infos = await self._batch.run(NODES, [self.registry.nodes_key], [self.registry.base])
        return sorted((_node_decoder.decode(info) for info in infos), key=_by_id)

    # --- presence --------------------------------------------------------------------------------

    async def add_presence(self, channel: str, client_id: str, info: dict[str, Any]) -> None:
        encoded = msgspec.msgpack.encode(info)
        self._present[(channel, client_id)] = encoded
        args = [self.registry.ttl_ms, client_id, encoded]
        await self._batch.run(PRESENCE_ADD, self._presence_keys(channel), args)

    async def remove_presence(self, channel: str, client_id: str) -> None:
        self._present.pop((channel, client_id), None)
        members, expiry = self._presence_keys(channel)
        batch = self._batch
        await asyncio.gather(
            batch.command("HDEL", members, client_id), batch.command("ZREM", expiry, client_id)
        )

    async def presence(self, channel: str) -> dict[str, dict[str, Any]]:
        flat = await self._batch.run(PRESENCE, self._presence_keys(channel), [])
        pairs = zip(flat[::2], flat[1::2], strict=True)
        return {_text(cid): _info_decoder.decode(info) for cid, info in pairs}

    async def _refresh_presence(self) -> None:
        """Vouch again for this node's members, channel by channel, every TTL / 3."""
        while True:
            await asyncio.sleep(self.registry.ttl / 3)
            by_channel: dict[str, list[Any]] = {}
            for (channel, client_id), info in self._present.items():
                by_channel.setdefault(channel, [self.registry.ttl_ms]).extend((client_id, info))
            waits = [
                self._batch.run(PRESENCE_ADD, self._presence_keys(channel), args)
                for channel, args in by_channel.items()
            ]
            results = await asyncio.gather(*waits, return_exceptions=True)
            if any(isinstance(r, BrokerUnavailable) for r in results):
                log.warning("broker_presence_refresh_failed", channels=len(by_channel))


def _ms(seconds: float) -> int:
    return max(1, round(seconds * 1000))


def _by_id(info: NodeInfo) -> str:
    return info.node_id


def _ignore_failure(future: asyncio.Future[None]) -> None:
    if not future.cancelled():
        future.exception()  # retrieved: the next periodic refresh tries again
