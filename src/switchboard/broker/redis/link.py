"""The node's one PUB/SUB connection to Redis: every topic it reads, kept subscribed.

Redis forgets a subscription the moment its connection drops, and says nothing about what
was published meanwhile. So the link never reconnects behind the broker's back (the client
is built without retries): when a read fails it reports the loss, reconnects with full
jitter backoff, subscribes every topic again in one command, and once Redis confirmed all of
them calls ``on_restored`` so the broker can fetch what it missed from the streams.

A link can also die silently (a stopped Redis, a half-open TCP connection): a read then
waits forever without an error. When nothing arrived for ``probe_after`` seconds the link
publishes a probe to a topic it reads; if the probe does not come back within
``probe_timeout`` the connection is dropped and rebuilt as above.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import structlog

from ...errors import BrokerUnavailable
from ...tasks import cancelled
from .client import UNAVAILABLE

log = structlog.get_logger("switchboard.broker")

#: A message arrived: (topic, data).
OnMessage = Callable[[bytes, bytes], None]

#: The probe's payload; the broker ignores it wherever it arrives.
PROBE = b"\x00probe"


class Link:
    """One PUB/SUB connection multiplexing every topic; see the module docstring."""

    def __init__(
        self,
        client: Any,
        on_message: OnMessage,
        on_restored: Callable[[], Awaitable[None]],
        *,
        probe_topic: str,
        probe_after: float = 30.0,
        probe_timeout: float = 5.0,
        retry_max: float = 2.0,
        confirm_timeout: float = 5.0,
    ) -> None:
        self._client = client
        self._on_message = on_message
        self._on_restored = on_restored
        self.probe_topic = probe_topic
        self.probe_after = probe_after
        self.probe_timeout = probe_timeout
        self.retry_max = retry_max
        self.confirm_timeout = confirm_timeout
        #: Every topic the node reads, kept across reconnects.
        self.topics: set[str] = set()
        #: The same, as Redis names them in messages: a message of a topic no longer read
        #: (it was on its way when the UNSUBSCRIBE went out) is dropped.
        self._reading: set[bytes] = set()
        #: Whether Redis confirmed every topic on the current connection.
        self.up = False
        #: How many times the link was rebuilt after a loss.
        self.restores = 0
        self._started = False
        self._pubsub: Any = None
        self._connected_at = 0.0
        self._unconfirmed: set[bytes] = set()
        self._waiters: dict[bytes, asyncio.Future[None]] = {}
        self._silent = False
        self._heard_at = time.monotonic()
        self._heard = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    # --- the broker's side ---------------------------------------------------------------------

    async def start(self, topics: list[str]) -> None:
        """Subscribe ``topics`` and return once Redis confirmed them (or raise)."""
        self.topics.update(topics)
        self._reading.update(topic.encode() for topic in topics)
        waiters = self._expect(self.topics)
        await self._connect()
        self._tasks.append(asyncio.create_task(self._read(), name="redis-link"))
        await self._await(waiters)
        self._started = True
        self._tasks.append(asyncio.create_task(self._probe(), name="redis-link-probe"))

    async def close(self) -> None:
        await cancelled(*self._tasks)
        self._tasks.clear()
        await self._drop()

    async def add(self, topic: str) -> None:
        """Read ``topic`` too; returns once Redis confirmed it, so nothing published after
        that, by any node, is missed. Raises :class:`BrokerUnavailable` while the link is
        down (the topic is still subscribed when the link comes back)."""
        if topic in self.topics and self.up:
            return
        self.topics.add(topic)
        self._reading.add(topic.encode())
        if not self.up:
            raise BrokerUnavailable("redis subscribe failed: the pub/sub link is down")
        waiters = self._expect([topic])
        try:
            await self._pubsub.subscribe(topic)
        except UNAVAILABLE as exc:
            raise BrokerUnavailable(f"redis subscribe failed: {type(exc).__name__}") from None
        await self._await(waiters)

    async def remove(self, topic: str) -> None:
        self.topics.discard(topic)
        self._reading.discard(topic.encode())
        if self.up:
            with contextlib.suppress(*UNAVAILABLE):
                await self._pubsub.unsubscribe(topic)

    # --- connecting ----------------------------------------------------------------------------

    def _expect(self, topics: Iterable[str]) -> list[asyncio.Future[None]]:
        """Futures set when Redis confirms each topic (made before the SUBSCRIBE is sent)."""
        loop = asyncio.get_running_loop()
        waiters = []
        for topic in topics:
            waiter = self._waiters.get(topic.encode())
            if waiter is None or waiter.done():
                waiter = self._waiters[topic.encode()] = loop.create_future()
            waiters.append(waiter)
        return waiters

    async def _await(self, waiters: list[asyncio.Future[None]]) -> None:
        try:
            await asyncio.wait_for(asyncio.gather(*waiters), self.confirm_timeout)
        except TimeoutError:
            raise BrokerUnavailable("redis subscribe failed: not confirmed in time") from None

    async def _connect(self) -> None:
        """A new PUB/SUB connection asking for every topic (the reader sees the answers)."""
        pubsub = self._client.pubsub()
        topics = sorted(self.topics)
        self._unconfirmed = {topic.encode() for topic in topics}
        try:
            await pubsub.subscribe(*topics)
        except UNAVAILABLE as exc:
            with contextlib.suppress(*UNAVAILABLE):
                await pubsub.aclose()
            raise BrokerUnavailable(f"redis subscribe failed: {type(exc).__name__}") from None
        self._pubsub = pubsub
        self._silent = False
        self._connected_at = self._heard_at = time.monotonic()

    async def _drop(self) -> None:
        self.up = False
        pubsub, self._pubsub = self._pubsub, None
        if pubsub is not None:
            with contextlib.suppress(Exception):
                await pubsub.aclose()

    async def _rebuild(self, why: str) -> None:
        """Drop the connection and connect again, with backoff, until Redis answers."""
        if self.up:
            log.warning("broker_link_lost", reason=why)
        await self._drop()
        for waiter in self._waiters.values():
            if not waiter.done():
                waiter.set_exception(BrokerUnavailable("redis subscribe failed: link lost"))
        self._waiters.clear()
        delay = 0.05
        while True:
            try:
                await self._connect()
                return
            except BrokerUnavailable:
                await asyncio.sleep(random.uniform(0, delay))  # full jitter
                delay = min(self.retry_max, delay * 2)

    # --- reading -------------------------------------------------------------------------------

    async def _read(self) -> None:
        while True:
            pubsub = self._pubsub
            if pubsub is None or self._silent:
                await self._rebuild("silent" if self._silent else "closed")
                continue
            if not self.up and time.monotonic() - self._connected_at > self.confirm_timeout:
                await self._rebuild("subscribe not confirmed")
                continue
            try:
                message = await pubsub.get_message(timeout=1.0)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # any failure of the connection: rebuild it
                await self._rebuild(type(exc).__name__)
                continue
            if message is None:
                continue
            self._heard_at = time.monotonic()
            self._heard.set()
            # Everything already received is handled in this loop pass, so a burst of
            # publications is fanned out with one write per connection, not one each.
            while message is not None:
                self._handle(message)
                try:
                    message = await pubsub.get_message(timeout=0)
                except Exception:  # the next turn's read sees the failure again
                    break

    def _handle(self, message: dict[str, Any]) -> None:
        kind = message["type"]
        if kind in (b"message", "message"):
            if message["channel"] in self._reading:
                self._on_message(message["channel"], message["data"])
        elif kind in (b"subscribe", "subscribe"):
            self._confirm(message["channel"])

    def _confirm(self, topic: bytes) -> None:
        waiter = self._waiters.pop(topic, None)
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
        if topic in self._unconfirmed:
            self._unconfirmed.discard(topic)
            if not self._unconfirmed and not self.up:
                self.up = True
                if self._started:
                    self.restores += 1
                    log.info("broker_link_restored", topics=len(self.topics))
                    self._tasks.append(asyncio.create_task(self._restore(), name="redis-restore"))

    async def _restore(self) -> None:
        """Call ``on_restored`` until it succeeds, with backoff, while the link stays up (if
        it drops again, the next restore starts over)."""
        delay = 0.05
        try:
            while self.up:
                try:
                    await self._on_restored()
                    return
                except BrokerUnavailable as exc:
                    log.warning("broker_recovery_failed", error=str(exc))
                await asyncio.sleep(random.uniform(0, delay))  # full jitter
                delay = min(self.retry_max, delay * 2)
        finally:
            task = asyncio.current_task()
            if task in self._tasks:
                self._tasks.remove(task)

    # --- the silent-death probe ----------------------------------------------------------------

    async def _probe(self) -> None:
        while True:
            idle = time.monotonic() - self._heard_at
            if not self.up or idle < self.probe_after:
                await asyncio.sleep(max(0.05, self.probe_after - idle) if self.up else 0.5)
                continue
            sent_at = time.monotonic()
            self._heard.clear()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(
                    self._client.publish(self.probe_topic, PROBE), self.probe_timeout
                )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._heard.wait(), self.probe_timeout)
            if self._heard_at < sent_at and self.up:
                # Nothing came back: the connection is dead without saying so; the reader
                # rebuilds it at its next turn.
                log.warning("broker_link_silent", waited_s=round(time.monotonic() - sent_at, 1))
                self._silent = True
