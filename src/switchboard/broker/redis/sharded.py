"""Channels spread over several independent Redis instances, by consistent hash.

``--broker redis://a:6379/0,redis://b:6379/0`` gives each node one :class:`RedisBroker` per
Redis. A channel lives on one of them, chosen by jump consistent hash of its name (Lamping and
Veach, 2014): every node picks the same one, and adding a Redis moves only about ``1/n`` of
the channels. Everything of a channel (offsets, stream, presence, its pub/sub topic) is on
its Redis, so its scripts stay atomic. Dispatches and the connection registry live on the
first one. Each shard has its own link and pipeline; losing one Redis affects its channels
only (and, for the first, what crosses the registry).
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from typing import Any

from ...protocol.codecs import DataFormat
from ..base import (
    Broker,
    BrokerHandler,
    Dispatch,
    HistoryOptions,
    NodeInfo,
    Publication,
    Recovery,
    StreamPosition,
)
from .broker import RedisBroker

#: Where one URL of a list ends: a comma followed by the next URL's scheme (a Sentinel URL
#: lists its hosts with commas too).
_NEXT_URL = re.compile(r",(?=(?:redis|rediss|redis\+sentinel)://)")


def split_urls(urls: str) -> list[str]:
    """``redis://a,redis://b`` -> both URLs (a Sentinel URL's host list stays whole)."""
    return [url.strip() for url in _NEXT_URL.split(urls) if url.strip()]


def jump_hash(key: int, buckets: int) -> int:
    """The bucket of ``key`` among ``buckets`` (jump consistent hash)."""
    chosen, candidate = -1, 0
    while candidate < buckets:
        chosen = candidate
        key = (key * 2862933555777941757 + 1) & 0xFFFFFFFFFFFFFFFF
        candidate = int((chosen + 1) * (float(1 << 31) / float((key >> 33) + 1)))
    return chosen


def _key_of(channel: str) -> int:
    return int.from_bytes(hashlib.blake2b(channel.encode(), digest_size=8).digest(), "big")


class ShardedRedisBroker(Broker):
    """One :class:`RedisBroker` per Redis; see the module docstring."""

    def __init__(self, urls: list[str], **options: Any) -> None:
        if len(urls) < 2:
            raise ValueError("sharding needs at least two Redis URLs")
        self.shards = [
            RedisBroker(url, control=index == 0, **options) for index, url in enumerate(urls)
        ]
        self._cache: dict[str, RedisBroker] = {}

    def shard(self, channel: str) -> RedisBroker:
        found = self._cache.get(channel)
        if found is None:
            found = self.shards[jump_hash(_key_of(channel), len(self.shards))]
            if len(self._cache) < 100_000:
                self._cache[channel] = found
        return found

    async def start(self, handler: BrokerHandler) -> None:
        started: list[RedisBroker] = []
        try:
            for shard in self.shards:
                await shard.start(handler)
                started.append(shard)
        except BaseException:
            for shard in started:
                await shard.close()
            raise

    async def close(self) -> None:
        await asyncio.gather(*(shard.close() for shard in self.shards))

    def healthy(self) -> bool:
        return all(shard.healthy() for shard in self.shards)

    async def publish(
        self,
        channel: str,
        data: bytes,
        history: HistoryOptions,
        data_format: DataFormat = DataFormat.JSON,
    ) -> StreamPosition:
        return await self.shard(channel).publish(channel, data, history, data_format)

    async def dispatch(self, dispatch: Dispatch) -> int:
        return await self.shards[0].dispatch(dispatch)

    async def subscribe(self, channel: str) -> None:
        await self.shard(channel).subscribe(channel)

    async def unsubscribe(self, channel: str) -> None:
        await self.shard(channel).unsubscribe(channel)

    async def position(self, channel: str) -> StreamPosition:
        return await self.shard(channel).position(channel)

    async def recover(self, channel: str, since: StreamPosition) -> Recovery:
        return await self.shard(channel).recover(channel, since)

    async def history(self, channel: str, limit: int) -> tuple[StreamPosition, list[Publication]]:
        return await self.shard(channel).history(channel, limit)

    async def history_page(
        self, channel: str, limit: int, *, since: int | None = None, reverse: bool = False
    ) -> tuple[StreamPosition, list[Publication]]:
        return await self.shard(channel).history_page(channel, limit, since=since, reverse=reverse)

    async def claim(self, key: str, value: bytes, ttl: float) -> bytes | None:
        return await self.shards[0].claim(key, value, ttl)

    async def settle(self, key: str, value: bytes | None, ttl: float) -> None:
        await self.shards[0].settle(key, value, ttl)

    async def add_presence(self, channel: str, client_id: str, info: dict[str, Any]) -> None:
        await self.shard(channel).add_presence(channel, client_id, info)

    async def remove_presence(self, channel: str, client_id: str) -> None:
        await self.shard(channel).remove_presence(channel, client_id)

    async def presence(self, channel: str) -> dict[str, dict[str, Any]]:
        return await self.shard(channel).presence(channel)

    def announce(self, info: NodeInfo) -> None:
        self.shards[0].announce(info)

    async def nodes(self) -> list[NodeInfo]:
        return await self.shards[0].nodes()

    def connected(self, conn_id: str, user: Any) -> None:
        self.shards[0].connected(conn_id, user)

    def disconnected(self, conn_id: str) -> None:
        self.shards[0].disconnected(conn_id)
