"""The cluster-wide connection registry: which node holds which connection and user.

Keys, all under the ``{registry}`` hash tag::

    <prefix>{registry}:nodes           ZSET  node -> until when it counts as alive (ms)
    <prefix>{registry}:conns:<node>    HASH  connection id -> user key ('' when anonymous)
    <prefix>{registry}:users:<node>    HASH  user key -> how many of its connections

A node refreshes its entry and both hashes' TTL every ``ttl / 3`` seconds; a node that
crashed stops, so its entries are gone within ``ttl``. Changes are written in one pipeline
per loop pass, in order with the node's dispatches (:mod:`.batch`). When the refresh finds
the node missing (Redis restarted, or the node was paused past its TTL) the node writes
everything again from what it holds.

Routing a direct message or a disconnect is one script (``scripts.ROUTE``): it counts the
target's connections on live nodes and PUBLISHes only to the nodes that hold some.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from typing import Any

import msgspec
import structlog

from ...errors import BrokerUnavailable
from ...tasks import cancelled
from .batch import Batch
from .scripts import LEAVE, REFRESH

log = structlog.get_logger("switchboard.broker")

_encode = msgspec.msgpack.Encoder().encode


def user_key(user: Any) -> bytes:
    """The registry's key of a user (its MessagePack encoding: 5 and "5" differ)."""
    return _encode(user)


class ConnectionRegistry:
    """This node's share of the registry; see the module docstring."""

    def __init__(self, batch: Batch, prefix: str, *, ttl: float = 10.0) -> None:
        self._batch = batch
        #: This node's name in the registry (unique per process, whatever its node id).
        self.node = secrets.token_hex(6)
        self.base = f"{prefix}{{registry}}:"
        self.nodes_key = f"{self.base}nodes"
        self._conns_key = f"{self.base}conns:{self.node}"
        self._users_key = f"{self.base}users:{self.node}"
        self._info_key = f"{self.base}info:{self.node}"
        #: This node's latest info (MessagePack), written with every refresh.
        self.info = b""
        self.ttl = ttl
        #: What this node holds: connection id -> user key, user key -> count.
        self._conns: dict[str, bytes] = {}
        self._users: dict[bytes, int] = {}
        #: Whether a write failed since the last full rewrite.
        self.lost = False
        self._expiry_queued = False
        self._refresher: asyncio.Task[None] | None = None

    # --- what the node tells it ----------------------------------------------------------------

    def connected(self, conn_id: str, user: Any) -> None:
        key = b"" if user is None else user_key(user)
        self._conns[conn_id] = key
        self._write("HSET", self._conns_key, conn_id, key)
        if key:
            count = self._users[key] = self._users.get(key, 0) + 1
            self._write("HSET", self._users_key, key, count)
        self._queue_expiry()

    def disconnected(self, conn_id: str) -> None:
        key = self._conns.pop(conn_id, None)
        if key is None:
            return
        self._write("HDEL", self._conns_key, conn_id)
        if key:
            left = self._users.get(key, 0) - 1
            if left > 0:
                self._users[key] = left
                self._write("HSET", self._users_key, key, left)
            else:
                self._users.pop(key, None)
                self._write("HDEL", self._users_key, key)

    # --- writing -------------------------------------------------------------------------------

    def _write(self, *command: Any) -> None:
        """Queue ``command`` in the node's batch: it runs before any dispatch asked later, so a
        connection is reachable from every node once the next pipeline is through."""
        self._batch.command(*command).add_done_callback(self._written)

    def write_info(self) -> None:
        """This node's latest info, written now (between refreshes, which also write it):
        the load figures ``/route`` and ``switchboard nodes`` read stay a second fresh."""
        if self.info:
            command = ("SET", self._info_key, self.info, "PX", self.ttl_ms)
            self._batch.command(*command).add_done_callback(_retrieved)

    def _written(self, future: asyncio.Future[Any]) -> None:
        if not future.cancelled() and future.exception() is not None:
            self.lost = True  # the refresh after Redis returns writes everything again

    def _queue_expiry(self) -> None:
        """Once per loop pass with new entries: their hashes get the node's TTL (a node that
        dies before its next refresh leaves nothing behind for longer)."""
        if not self._expiry_queued:
            self._expiry_queued = True
            asyncio.get_running_loop().call_soon(self._expire)

    def _expire(self) -> None:
        self._expiry_queued = False
        self._write("PEXPIRE", self._conns_key, self.ttl_ms)
        self._write("PEXPIRE", self._users_key, self.ttl_ms)

    @property
    def ttl_ms(self) -> int:
        """The TTL of this node's entries (and of the presence it vouches for), in ms."""
        return max(1, round(self.ttl * 1000))

    async def rewrite(self) -> None:
        """Everything this node holds, written again from scratch (queued in the batch at
        once, so writes asked for later land after it)."""
        batch = self._batch
        waits = [batch.command("DEL", self._conns_key, self._users_key)]
        if self._conns:
            flat: list[Any] = [item for pair in self._conns.items() for item in pair]
            waits.append(batch.command("HSET", self._conns_key, *flat))
        if self._users:
            flat = [item for pair in self._users.items() for item in pair]
            waits.append(batch.command("HSET", self._users_key, *flat))
        waits.append(batch.command("PEXPIRE", self._conns_key, self.ttl_ms))
        waits.append(batch.command("PEXPIRE", self._users_key, self.ttl_ms))
        self.lost = False
        try:
            await asyncio.gather(*waits)
        except BrokerUnavailable:
            self.lost = True  # written again at the next refresh that reaches Redis
            raise

    async def refresh(self) -> None:
        """Mark this node alive for another TTL; rewrite its entries if Redis lost them."""
        keys = [self.nodes_key, self._conns_key, self._users_key, self._info_key]
        sent = time.time()
        args = [self.node, self.ttl_ms, self.info]
        added, redis_now = await self._batch.run(REFRESH, keys, args)
        middle = (sent + time.time()) / 2  # when Redis ran it, as well as this side can tell
        self._batch.clock_offset_ms = int(redis_now) - round(middle * 1000)
        if int(added) or self.lost:
            if int(added) and self._refresher is not None:
                log.info("broker_registry_rewritten", connections=len(self._conns))
            await self.rewrite()

    # --- lifecycle -----------------------------------------------------------------------------

    #: Whether :meth:`start` ran (refreshes happen from then on).
    started = False

    async def start(self) -> None:
        await self.refresh()
        self.started = True
        self._refresher = asyncio.create_task(self._refresh_forever(), name="redis-registry")

    async def _refresh_forever(self) -> None:
        while True:
            await asyncio.sleep(self.ttl / 3)
            try:
                await self.refresh()
            except BrokerUnavailable as exc:
                log.warning("broker_registry_refresh_failed", error=str(exc))

    async def stop(self) -> None:
        """Leave the registry at once (the other nodes stop routing here); a registry that
        never started (a broker opened only to read, as ``switchboard nodes`` does) writes
        nothing."""
        if not self.started:
            return
        await cancelled(self._refresher)
        self._refresher = None
        with contextlib.suppress(BrokerUnavailable):
            await asyncio.gather(
                self._batch.run(LEAVE, [self.nodes_key, self._info_key], [self.node]),
                self._batch.command("DEL", self._conns_key, self._users_key),
            )


def _retrieved(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()  # a failed write: the next refresh writes the info again
