"""The Redis broker's batch: the calls of one loop pass run in one script call, in order;
one that fails fails alone; a Redis that lost the script (a restart, SCRIPT FLUSH) gets it
again without the caller noticing."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from switchboard.broker import HistoryOptions
from switchboard.broker.redis import RedisBroker
from switchboard.errors import BrokerUnavailable

from .recorder import Received

KEEP = HistoryOptions(size=100, ttl=60)


@pytest.fixture
async def node(redis_url: str) -> AsyncIterator[RedisBroker]:
    broker = RedisBroker(redis_url, prefix=f"t{uuid.uuid4().hex[:12]}:")
    await broker.start(Received())
    yield broker
    await broker.close()


async def test_a_call_that_fails_fails_alone_and_the_rest_of_its_pass_runs(
    node: RedisBroker, redis_url: str
) -> None:
    raw = aioredis.from_url(redis_url)
    await raw.set(f"{node.prefix}{{room:bad}}:meta", "not a hash")  # WRONGTYPE for HGET
    results = await asyncio.gather(
        node.publish("room:1", b"1", KEEP),
        node.publish("room:bad", b"2", KEEP),
        node.publish("room:1", b"3", KEEP),
        return_exceptions=True,
    )
    await raw.aclose()
    assert [getattr(r, "offset", None) for r in results] == [1, None, 2]
    assert isinstance(results[1], BrokerUnavailable)
    assert "not a hash" not in str(results[1])


async def test_a_redis_that_lost_the_script_is_given_it_again(
    node: RedisBroker, redis_url: str
) -> None:
    await node.publish("room:1", b"1", KEEP)
    raw = aioredis.from_url(redis_url)
    await raw.script_flush()
    await raw.aclose()
    positions = await asyncio.gather(*(node.publish("room:1", b"%d" % n, KEEP) for n in range(5)))
    assert [p.offset for p in positions] == [2, 3, 4, 5, 6]
    _, kept = await node.history("room:1", 10)
    assert [p.data for p in kept] == [b"1", b"0", b"1", b"2", b"3", b"4"]


async def test_a_long_pass_is_split_over_several_script_calls_in_order(
    node: RedisBroker,
) -> None:
    positions = await asyncio.gather(*(node.publish("room:1", b"%d" % n, KEEP) for n in range(600)))
    assert [p.offset for p in positions] == list(range(1, 601))
