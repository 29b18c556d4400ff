"""Broker URLs: a Sentinel in front of a real redis-server, and what is refused."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from switchboard.broker import HistoryOptions, StreamPosition
from switchboard.broker.redis import RedisBroker, connect

from ..conftest import free_port, timeout
from .recorder import Received


@pytest.fixture
def sentinel_url(redis_url: str, tmp_path: Path) -> Iterator[str]:
    """A redis-server in Sentinel mode watching the tests' Redis as ``main``."""
    binary = shutil.which("redis-server")
    assert binary is not None
    port, redis_port = free_port(), redis_url.rsplit(":", 1)[1].split("/")[0]
    config = tmp_path / "sentinel.conf"  # Sentinel rewrites its file: one of its own
    config.write_text(
        f"port {port}\nbind 127.0.0.1\ndir {tmp_path}\n"
        f"sentinel monitor main 127.0.0.1 {redis_port} 1\n"
    )
    proc = subprocess.Popen(
        [binary, str(config), "--sentinel"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + timeout(10)
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
                    sock.sendall(b"SENTINEL get-master-addr-by-name main\r\n")
                    if redis_port.encode() in sock.recv(256):
                        break
            except OSError:
                pass
            assert proc.poll() is None, "the sentinel exited"
            assert time.monotonic() < deadline, "the sentinel did not answer"
            time.sleep(0.05)  # the poll interval of a process starting up
        yield f"redis+sentinel://127.0.0.1:{port}/main"
    finally:
        proc.terminate()
        proc.wait(timeout(10))


async def test_a_sentinel_url_reaches_the_master_it_names(sentinel_url: str) -> None:
    broker = RedisBroker(sentinel_url, prefix=f"t{uuid.uuid4().hex[:12]}:")
    received = Received()
    await broker.start(received)
    try:
        await broker.subscribe("room:1")
        keep = HistoryOptions(size=10, ttl=60)
        first = await broker.publish("room:1", b"1", keep)
        await broker.publish("room:1", b"2", keep)
        recovery = await broker.recover("room:1", StreamPosition(1, first.epoch))
        assert recovery.recovered and [p.data for p in recovery.publications] == [b"2"]
    finally:
        await broker.close()


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://127.0.0.1:6379", "starts with redis://, rediss:// or redis"),
        ("redis+sentinel://127.0.0.1:26379", "names the service"),
    ],
)
def test_a_url_that_is_not_a_redis_broker_is_refused(url: str, why: str) -> None:
    with pytest.raises(ValueError, match=why):
        connect(url)
