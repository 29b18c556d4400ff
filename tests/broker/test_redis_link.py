"""The Redis broker's PUB/SUB link when its connection dies without an error: a TCP proxy
between the node and a real redis-server stops relaying, as a half-open connection or a
stalled network would. The probe finds it and the node catches up from the stream."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator

import pytest

from switchboard.broker import HistoryOptions
from switchboard.broker.redis import RedisBroker

from ..conftest import wait_until
from .recorder import Received

KEEP = HistoryOptions(size=100, ttl=60)


class FreezingProxy:
    """Relays TCP to ``target``; :meth:`freeze` stops every connection open at that moment
    (nothing relayed either way, nothing closed). Later connections relay as usual."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = 0
        self._generation = 0
        self._frozen_below = 0
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    def freeze(self) -> None:
        self._frozen_below = self._generation

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._generation += 1
        generation = self._generation
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        for source, sink in ((reader, up_writer), (up_reader, writer)):
            task = asyncio.create_task(self._relay(generation, source, sink))
            self._tasks.add(task)

    async def _relay(
        self, generation: int, source: asyncio.StreamReader, sink: asyncio.StreamWriter
    ) -> None:
        with contextlib.suppress(OSError):
            while data := await source.read(65536):
                if generation <= self._frozen_below:
                    await asyncio.Event().wait()  # silent from now on, never closed
                sink.write(data)
                await sink.drain()


@pytest.fixture
async def proxy(redis_url: str) -> AsyncIterator[FreezingProxy]:
    relay = FreezingProxy(int(redis_url.rsplit(":", 1)[1].split("/")[0]))
    await relay.start()
    yield relay
    await relay.stop()


async def test_a_silent_link_is_found_by_the_probe_and_nothing_is_missed(
    redis_url: str, proxy: FreezingProxy
) -> None:
    prefix = f"t{uuid.uuid4().hex[:12]}:"
    publisher = RedisBroker(redis_url, prefix=prefix)
    quiet = RedisBroker(
        f"redis://127.0.0.1:{proxy.port}/0",
        prefix=prefix,
        timeout=1.0,
        probe_after=0.5,
        probe_timeout=0.5,
    )
    received = Received()
    await publisher.start(Received())
    await quiet.start(received)
    try:
        await quiet.subscribe("room:1")
        await publisher.publish("room:1", b"0", KEEP)
        await wait_until(lambda: len(received.publications) == 1)
        proxy.freeze()  # the node's connections go silent; Redis and the publisher do not
        for n in range(1, 20):
            await publisher.publish("room:1", b"%d" % n, KEEP)
        await wait_until(lambda: len(received.publications) == 20, within=10)
        assert [p.data for p in received.publications] == [b"%d" % n for n in range(20)]
        assert quiet.link.restores == 1
    finally:
        await quiet.close()
        await publisher.close()
