"""The Redis broker: one cluster of every node started with the same Redis and prefix."""

from typing import Any

from ..base import Broker
from .broker import RedisBroker
from .client import SCHEMES, connect
from .sharded import ShardedRedisBroker, split_urls

__all__ = ["SCHEMES", "RedisBroker", "ShardedRedisBroker", "connect", "from_urls", "split_urls"]


def from_urls(urls: str, **options: Any) -> Broker:
    """The broker for ``urls``: one Redis, or channels sharded over several
    (``redis://a,redis://b``)."""
    each = split_urls(urls)
    if len(each) == 1:
        return RedisBroker(each[0], **options)
    return ShardedRedisBroker(each, **options)
