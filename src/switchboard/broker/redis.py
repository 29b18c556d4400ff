"""The Redis broker: publications, history, presence and dispatches shared by every node.

Keys, each channel's under one hash tag (so every script touches one Redis Cluster slot)::

    <prefix>{<channel>}:meta     HASH  e = epoch, s = last offset   (expires after the history
                                       TTL, at least IDLE_STREAM_TTL: then a new epoch)
    <prefix>{<channel>}:stream   STREAM id "<offset>-0": d = data, f = format, x = expiry (ms)
    <prefix>{<channel>}:members  HASH  client id -> presence info (MessagePack)

Pub/sub topics: ``<prefix>{<channel>}:pub`` carries the channel's publications (offset,
epoch, format, data), ``<prefix>dispatch`` every :class:`~switchboard.broker.base.Dispatch`;
each node reads both over one pub/sub connection, in the order Redis ran the PUBLISHes.

A publish is one Lua script (EVALSHA): the epoch from the meta hash (a new random one when
it is missing, which also drops a stream left from the old epoch), HINCRBY for the offset,
XADD with the offset as the stream id (trimmed to the history size), the TTLs, PUBLISH. So
the offset, the stored entry and the live message always agree, whichever node publishes.

Errors of the Redis client become :class:`~switchboard.errors.BrokerUnavailable` here,
with a message that never carries the URL (it may hold a password).
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import AsyncIterator
from typing import Any

import msgspec
import redis.asyncio as aioredis
import redis.exceptions
import structlog

from ..errors import BrokerUnavailable
from ..protocol.codecs import DataFormat
from .base import (
    Broker,
    BrokerHandler,
    Dispatch,
    HistoryOptions,
    Publication,
    Recovery,
    StreamPosition,
    recovery,
)
from .memory import IDLE_STREAM_TTL

log = structlog.get_logger("switchboard.broker")

_PUBLISH = """
local epoch = redis.call('HGET', KEYS[1], 'e')
if not epoch then
  epoch = ARGV[6]
  redis.call('HSET', KEYS[1], 'e', epoch)
  redis.call('DEL', KEYS[2])
end
local offset = redis.call('HINCRBY', KEYS[1], 's', 1)
redis.call('PEXPIRE', KEYS[1], ARGV[5])
local size = tonumber(ARGV[3])
if size > 0 then
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  redis.call('XADD', KEYS[2], 'MAXLEN', size, offset .. '-0',
             'd', ARGV[1], 'f', ARGV[2], 'x', now + tonumber(ARGV[4]))
  redis.call('PEXPIRE', KEYS[2], ARGV[4])
end
redis.call('PUBLISH', ARGV[7], offset .. '\\n' .. epoch .. '\\n' .. ARGV[2] .. '\\n' .. ARGV[1])
return {offset, epoch}
"""

#: The position (creating the epoch if the channel has none) and, from ARGV[3] on, the
#: entries after that offset, with Redis's clock for their expiry.
_RECOVER = """
local epoch = redis.call('HGET', KEYS[1], 'e')
if not epoch then
  epoch = ARGV[1]
  redis.call('HSET', KEYS[1], 'e', epoch, 's', 0)
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  redis.call('DEL', KEYS[2])
end
local top = tonumber(redis.call('HGET', KEYS[1], 's') or '0')
local entries = {}
if ARGV[3] ~= '' then
  entries = redis.call('XRANGE', KEYS[2], (tonumber(ARGV[3]) + 1) .. '-0', '+')
end
local t = redis.call('TIME')
return {top, epoch, tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000), entries}
"""

#: The last ARGV[1] entries, oldest first, without creating anything.
_HISTORY = """
local epoch = redis.call('HGET', KEYS[1], 'e')
if not epoch then return {0, '', 0, {}} end
local top = tonumber(redis.call('HGET', KEYS[1], 's') or '0')
local entries = {}
if tonumber(ARGV[1]) > 0 then
  entries = redis.call('XREVRANGE', KEYS[2], '+', '-', 'COUNT', ARGV[1])
end
local t = redis.call('TIME')
return {top, epoch, tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000), entries}
"""

_dispatch_encoder = msgspec.msgpack.Encoder()
_dispatch_decoder = msgspec.msgpack.Decoder(Dispatch)
_info_decoder = msgspec.msgpack.Decoder(dict[str, Any])
_UNAVAILABLE = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, OSError)


class RedisBroker(Broker):
    """Every node started with the same Redis (and prefix) shares these channels."""

    def __init__(
        self, url: str = "redis://127.0.0.1:6379/0", *, prefix: str = "sb:", client: Any = None
    ) -> None:
        #: A client passed in is the caller's: it is never closed here.
        self._own_client = client is None
        self._redis: Any = client if client is not None else aioredis.from_url(url)
        self.prefix = prefix
        self._dispatch_topic = f"{prefix}dispatch"
        self._handler: BrokerHandler | None = None
        self._pubsub: Any = None
        self._reader: asyncio.Task[None] | None = None
        self._confirmed: dict[bytes, asyncio.Future[None]] = {}
        self._scripts: dict[str, Any] = {}

    # --- keys ------------------------------------------------------------------------------------

    def _keys(self, channel: str) -> tuple[str, str]:
        base = f"{self.prefix}{{{channel}}}"
        return f"{base}:meta", f"{base}:stream"

    def _topic(self, channel: str) -> str:
        return f"{self.prefix}{{{channel}}}:pub"

    def _members(self, channel: str) -> str:
        return f"{self.prefix}{{{channel}}}:members"

    @contextlib.asynccontextmanager
    async def _reaching(self, operation: str) -> AsyncIterator[None]:
        """Translate the client's connection failures (never with the URL)."""
        try:
            yield
        except _UNAVAILABLE as exc:
            raise BrokerUnavailable(f"redis {operation} failed: {type(exc).__name__}") from None

    async def _script(self, name: str, source: str, keys: list[str], args: list[Any]) -> Any:
        script = self._scripts.get(name)
        if script is None:
            script = self._scripts[name] = self._redis.register_script(source)
        return await script(keys=keys, args=args)

    # --- lifecycle -------------------------------------------------------------------------------

    async def start(self, handler: BrokerHandler) -> None:
        self._handler = handler
        async with self._reaching("subscribe"):
            self._pubsub = self._redis.pubsub()
            await self._listen(self._dispatch_topic)

    async def close(self) -> None:
        self._handler = None
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
            self._reader = None
        if self._pubsub is not None:
            with contextlib.suppress(*_UNAVAILABLE):
                await self._pubsub.aclose()
            self._pubsub = None
        if self._own_client:
            with contextlib.suppress(*_UNAVAILABLE):
                await self._redis.aclose()

    async def _listen(self, topic: str) -> None:
        """SUBSCRIBE ``topic`` and return once Redis confirmed it (so nothing published
        afterwards, from any node, is missed)."""
        confirmed = self._confirmed[topic.encode()] = asyncio.get_running_loop().create_future()
        await self._pubsub.subscribe(topic)
        if self._reader is None:
            self._reader = asyncio.create_task(self._read())
        await confirmed

    async def _read(self) -> None:
        pubsub = self._pubsub
        while True:
            try:
                message = await pubsub.get_message(timeout=1.0)
            except asyncio.CancelledError:
                raise
            except _UNAVAILABLE as exc:
                log.warning("broker_read_failed", error=type(exc).__name__)
                await asyncio.sleep(0.3)
                continue
            if message is None:
                continue
            kind = message["type"]
            if kind in ("subscribe", b"subscribe"):
                waiter = self._confirmed.pop(message["channel"], None)
                if waiter is not None and not waiter.done():
                    waiter.set_result(None)
            elif kind in ("message", b"message"):
                self._deliver(message["channel"], message["data"])

    def _deliver(self, topic: bytes, data: bytes) -> None:
        handler = self._handler
        if handler is None:
            return
        if topic == self._dispatch_topic.encode():
            handler.on_dispatch(_dispatch_decoder.decode(data))
            return
        offset, epoch, data_format, payload = data.split(b"\n", 3)
        channel = topic.decode()[len(self.prefix) + 1 : -len("}:pub")]
        publication = Publication(
            channel, int(offset), epoch.decode(), payload, DataFormat(data_format.decode())
        )
        handler.on_publication(publication)

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
        args = [data, data_format.value, size, ttl_ms, meta_ttl, _new_epoch(), self._topic(channel)]
        async with self._reaching("publish"):
            offset, epoch = await self._script("publish", _PUBLISH, list(self._keys(channel)), args)
        return StreamPosition(int(offset), _text(epoch))

    async def dispatch(self, dispatch: Dispatch) -> int:
        async with self._reaching("dispatch"):
            # Until the cluster-wide connection registry: the nodes that received it.
            return int(
                await self._redis.publish(self._dispatch_topic, _dispatch_encoder.encode(dispatch))
            )

    async def subscribe(self, channel: str) -> None:
        async with self._reaching("subscribe"):
            await self._listen(self._topic(channel))

    async def unsubscribe(self, channel: str) -> None:
        async with self._reaching("unsubscribe"):
            await self._pubsub.unsubscribe(self._topic(channel))

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
        async with self._reaching("recover"):
            top, epoch, now, entries = await self._script(
                "recover", _RECOVER, list(self._keys(channel)), args
            )
        epoch = _text(epoch)
        return int(top), epoch, _kept(channel, epoch, entries, int(now))

    async def history(self, channel: str, limit: int) -> tuple[StreamPosition, list[Publication]]:
        async with self._reaching("history"):
            top, epoch, now, entries = await self._script(
                "history", _HISTORY, list(self._keys(channel)), [max(0, limit)]
            )
        epoch = _text(epoch)
        kept = _kept(channel, epoch, list(reversed(entries)), int(now))
        return StreamPosition(int(top), epoch), kept

    # --- presence --------------------------------------------------------------------------------

    async def add_presence(self, channel: str, client_id: str, info: dict[str, Any]) -> None:
        async with self._reaching("presence"):
            await self._redis.hset(self._members(channel), client_id, msgspec.msgpack.encode(info))

    async def remove_presence(self, channel: str, client_id: str) -> None:
        async with self._reaching("presence"):
            await self._redis.hdel(self._members(channel), client_id)

    async def presence(self, channel: str) -> dict[str, dict[str, Any]]:
        async with self._reaching("presence"):
            members = await self._redis.hgetall(self._members(channel))
        return {_text(cid): _info_decoder.decode(info) for cid, info in members.items()}


def _new_epoch() -> str:
    return secrets.token_urlsafe(6)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _kept(channel: str, epoch: str, entries: list[Any], now_ms: int) -> list[Publication]:
    """Stream entries as publications, those past their expiry left out."""
    kept = []
    for entry_id, fields in entries:
        values = dict(zip(fields[::2], fields[1::2], strict=True))
        if int(values[b"x"]) <= now_ms:
            continue
        offset = int(_text(entry_id).split("-", 1)[0])
        data_format = DataFormat(_text(values[b"f"]))
        kept.append(Publication(channel, offset, epoch, values[b"d"], data_format))
    return kept
