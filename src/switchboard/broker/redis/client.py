"""Redis clients from a broker URL, and the errors that mean "Redis cannot be reached".

``redis://host:port/db`` and ``rediss://`` (TLS) as redis-py reads them;
``redis+sentinel://[user:password@]host:port[,host:port...]/service[/db]`` asks the Sentinels
for the master of ``service`` (and again after a failover).

Every client is built without redis-py's retries: a command the broker sends is sent once
(a publish retried behind its back could be stored twice), and a dropped PUB/SUB connection
is the link's to rebuild, so it knows to fetch what it missed.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote, urlsplit

import redis.asyncio as aioredis
import redis.exceptions
from redis.asyncio.retry import Retry
from redis.asyncio.sentinel import Sentinel
from redis.backoff import NoBackoff

#: What the client raises when Redis is not there (down, unreachable, too slow).
UNAVAILABLE: tuple[type[Exception], ...] = (
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    OSError,
)

SCHEMES = ("redis", "rediss", "redis+sentinel")


def _options(command_timeout: float | None) -> dict[str, Any]:
    return {
        "retry": Retry(NoBackoff(), 0),
        "socket_connect_timeout": 3.0,
        "socket_timeout": command_timeout,
        "health_check_interval": 0,
    }


def connect(url: str, *, command_timeout: float | None = 5.0) -> Any:
    """A client for ``url``; ``command_timeout`` bounds each reply (None: wait, for the
    PUB/SUB connection, whose reads have their own timeout)."""
    scheme = urlsplit(url).scheme
    if scheme == "redis+sentinel":
        return _sentinel(url, _options(command_timeout))
    if scheme not in SCHEMES:
        raise ValueError("a Redis broker URL starts with redis://, rediss:// or redis+sentinel://")
    return aioredis.from_url(url, **_options(command_timeout))


def _sentinel(url: str, options: dict[str, Any]) -> Any:
    parts = urlsplit(url)
    _, _, hosts = parts.netloc.rpartition("@")
    sentinels = []
    for host in hosts.split(","):
        name, _, port = host.rpartition(":")
        sentinels.append((name or port, int(port) if name else 26379))
    path = [p for p in parts.path.split("/") if p]
    if not path:
        raise ValueError("a Sentinel broker URL names the service: redis+sentinel://host:port/name")
    auth: dict[str, Any] = {}
    if parts.password is not None:
        auth["password"] = unquote(parts.password)
    if parts.username:
        auth["username"] = unquote(parts.username)
    db = int(path[1]) if len(path) > 1 else 0
    sentinel = Sentinel(  # type: ignore[no-untyped-call]
        sentinels, sentinel_kwargs=dict(auth), **options, **auth
    )
    return sentinel.master_for(path[0], db=db)
