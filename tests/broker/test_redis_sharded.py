"""Channels sharded over two real redis-servers by jump consistent hash."""

from __future__ import annotations

import uuid

import redis.asyncio as aioredis

from switchboard.broker import HistoryOptions
from switchboard.broker.redis import ShardedRedisBroker, split_urls
from switchboard.broker.redis.sharded import jump_hash

from .recorder import Received

KEEP = HistoryOptions(size=10, ttl=60)


def test_a_url_list_splits_at_each_scheme_but_keeps_a_sentinel_host_list() -> None:
    urls = "redis://a:1/0,redis+sentinel://s1:2,s2:3/main,rediss://:pw@b:4/1"
    assert split_urls(urls) == [
        "redis://a:1/0",
        "redis+sentinel://s1:2,s2:3/main",
        "rediss://:pw@b:4/1",
    ]


def test_jump_hash_moves_only_the_share_a_new_bucket_takes() -> None:
    keys = range(10_000)
    before = [jump_hash(key * 7919, 2) for key in keys]
    after = [jump_hash(key * 7919, 3) for key in keys]
    moved = sum(1 for b, a in zip(before, after, strict=True) if b != a)
    assert all(a == 2 for b, a in zip(before, after, strict=True) if b != a)  # only to the new
    assert 2_900 < moved < 3_800  # about a third
    assert 4_500 < before.count(0) < 5_500  # an even split


async def test_every_node_puts_a_channel_on_the_same_redis_and_both_are_used(
    redis_url: str, redis_url_2: str
) -> None:
    prefix = f"t{uuid.uuid4().hex[:12]}:"
    a = ShardedRedisBroker([redis_url, redis_url_2], prefix=prefix)
    b = ShardedRedisBroker([redis_url, redis_url_2], prefix=prefix)
    channels = [f"room:{n}" for n in range(40)]
    assert [a.shards.index(a.shard(ch)) for ch in channels] == [
        b.shards.index(b.shard(ch)) for ch in channels
    ]
    await a.start(Received())
    try:
        for channel in channels:
            await a.publish(channel, b"1", KEEP)
        counts = []
        for url in (redis_url, redis_url_2):
            client = aioredis.from_url(url)
            try:
                counts.append(len([k async for k in client.scan_iter(f"{prefix}*:stream")]))
            finally:
                await client.aclose()
        assert sum(counts) == 40 and min(counts) >= 10  # every channel once, on both
    finally:
        await a.close()
