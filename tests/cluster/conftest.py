"""Real clusters on loopback: a redis-server of the test's own and Switchboard nodes as
``switchboard serve --broker redis://...`` subprocesses, all stopped when the test ends."""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator

import pytest

from ..conftest import ServerProcess, free_port, timeout


class RedisProcess:
    """A redis-server on a free port, without persistence, that a test may stop, pause,
    kill and start again on the same port (never the machine's own Redis)."""

    def __init__(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.fail("redis-server is not installed: run `make test`, which installs it")
        self.binary = binary
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        argv = [self.binary, "--bind", "127.0.0.1", "--port", str(self.port)]
        argv += ["--save", "", "--appendonly", "no"]
        self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout(10)
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                pass
            assert self.proc.poll() is None, "redis-server exited"
            assert time.monotonic() < deadline, "redis-server did not answer"
            time.sleep(0.05)  # the poll interval of a process starting up

    def kill(self) -> None:
        """SIGKILL: everything it held is gone (no persistence)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)  # a paused process dies on SIGKILL too
            self.proc.kill()
            self.proc.wait(timeout(10))

    def pause(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGCONT)


@pytest.fixture
def redis_server() -> Iterator[RedisProcess]:
    server = RedisProcess()
    try:
        yield server
    finally:
        server.kill()


StartNode = Callable[..., ServerProcess]


@pytest.fixture
def start_node(redis_server: RedisProcess) -> Iterator[StartNode]:
    """``start_node(*flags)``: one more node of the test's cluster (same Redis, same prefix,
    a 2 s registry TTL), with an admin port and an API key."""
    prefix = f"t{uuid.uuid4().hex[:10]}:"
    nodes: list[ServerProcess] = []

    def start(*flags: str) -> ServerProcess:
        admin_port = free_port()
        args = ["--broker", redis_server.url, "--broker-prefix", prefix, "--registry-ttl", "2"]
        args += ["--admin-port", str(admin_port), "--api-key", API_KEY, "--log-level", "warning"]
        args += ["--node-id", f"node-{len(nodes) + 1}"]
        node = ServerProcess([*args, *flags])
        node.admin_port = admin_port  # type: ignore[attr-defined]
        nodes.append(node)
        return node

    try:
        yield start
    finally:
        for node in nodes:
            node.stop()


API_KEY = "cluster-test-api-key-0123456789"
