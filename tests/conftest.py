"""Shared fixtures: real Switchboard servers on 127.0.0.1 port 0, in-process or as a subprocess."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import uvloop

from switchboard import App, Settings

#: Every wait in the tests is a multiple of this unit; raise it on a slow machine.
UNIT = float(os.environ.get("SWITCHBOARD_TEST_TIMEOUT_UNIT", "1.0"))
ROOT = Path(__file__).resolve().parent.parent


#: Settings that make a client that stops reading a slow consumer after a few hundred KB.
SMALL_QUEUES: dict[str, Any] = {
    "send_queue_limit": 256 * 1024,
    "write_high_water": 64 * 1024,
    "max_message_size": 64 * 1024,
}


def timeout(seconds: float) -> float:
    return seconds * UNIT


def pytest_asyncio_loop_factories(config: pytest.Config, item: pytest.Item) -> dict[str, Any]:
    """Run async tests on uvloop, the loop Switchboard runs on in production."""
    return {"uvloop": uvloop.new_event_loop}


StartServer = Callable[..., Awaitable[App]]


@pytest.fixture
async def start_server() -> AsyncIterator[StartServer]:
    """Start in-process servers with the given settings; all are drained at teardown."""
    apps: list[App] = []

    async def start(app: App | None = None, **overrides: Any) -> App:
        """Start ``app`` (a plain one when None) on 127.0.0.1, port 0, with ``overrides``."""
        defaults = {"host": "127.0.0.1", "port": 0, "admin_port": 0, "drain_timeout": 1.0}
        settings = Settings(**{**defaults, **overrides})
        if app is None:
            app = App(settings)
        else:
            app.settings = settings
        await app.start()
        apps.append(app)
        return app

    yield start
    for app in apps:
        await app.shutdown()


def ws_url(app: App, path: str | None = None) -> str:
    return f"ws://127.0.0.1:{app.port}{path or app.settings.path}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_healthy(
    port: int,
    proc: subprocess.Popen[str],
    within: float,
    tls: ssl.SSLContext | None = None,
) -> None:
    """Poll ``GET /health`` until it answers 200 (the server logs nothing at warning level)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            out = proc.stdout.read() if proc.stdout else ""
            raise AssertionError(f"server exited with {proc.returncode}:\n{out}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as raw:
                sock = raw if tls is None else tls.wrap_socket(raw, server_hostname="localhost")
                sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
                if sock.recv(64).startswith(b"HTTP/1.1 200"):
                    return
        except OSError:
            pass
        time.sleep(0.05)
    raise AssertionError(f"server on port {port} not healthy within {within} s")


class ServerProcess:
    """``switchboard serve`` in a subprocess, with its JSON log lines collected."""

    def __init__(
        self,
        args: list[str],
        env: dict[str, str] | None = None,
        tls: ssl.SSLContext | None = None,
        port: int | None = None,
    ) -> None:
        #: ``port``: the one of the node this one replaces (a restart behind a balancer).
        self.port = port or free_port()
        cmd = [sys.executable, "-m", "switchboard", "serve", "--host", "127.0.0.1"]
        cmd += ["--port", str(self.port), "--admin-port", "0"]
        self.proc = subprocess.Popen(
            [*cmd, *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, **(env or {})},
        )
        self.lines: list[str] = []
        wait_until_healthy(self.port, self.proc, timeout(15), tls)

    def wait_for(self, event: str, within: float) -> dict[str, Any]:
        """Read log lines until one has ``event``; return it parsed."""
        deadline = time.monotonic() + within
        assert self.proc.stdout is not None
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            self.lines.append(line)
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if record.get("event") == event:
                return dict(record)
        raise AssertionError(f"no {event!r} log line; output so far:\n{''.join(self.lines)}")

    def records(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.lines if line.startswith("{")]

    def url(self, path: str = "/ws") -> str:
        return f"ws://127.0.0.1:{self.port}{path}"

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout(10))


@pytest.fixture
def server_process() -> Iterator[Callable[..., ServerProcess]]:
    procs: list[ServerProcess] = []

    def spawn(*args: str, env: dict[str, str] | None = None) -> ServerProcess:
        proc = ServerProcess(list(args), env)
        procs.append(proc)
        return proc

    yield spawn
    for proc in procs:
        proc.stop()


async def wait_until(condition: Callable[[], bool], within: float = 5.0) -> None:
    """Poll ``condition`` until it holds; fail after ``within`` (scaled) seconds."""
    deadline = asyncio.get_running_loop().time() + timeout(within)
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.01)


async def recv_json(ws: Any, within: float = 5.0) -> dict[str, Any]:
    """The next message of a ``websockets`` client, decoded."""
    raw = await asyncio.wait_for(ws.recv(), timeout(within))
    return dict(json.loads(raw))


class RedisProcess:
    """A redis-server of the tests' own on a free loopback port, without persistence, that a
    test may pause, kill and start again on the same port (never the machine's own Redis;
    `make test` installs redis-server when it is missing)."""

    def __init__(self, keep_in: Path | None = None) -> None:
        #: ``keep_in``: a directory for an append-only file written at every command, so a
        #: server stopped (:meth:`stop`) and started again has everything it acknowledged.
        self.keep_in = keep_in
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
        argv += ["--save", ""]
        if self.keep_in is None:
            argv += ["--appendonly", "no"]
        else:
            argv += ["--dir", str(self.keep_in), "--appendonly", "yes", "--appendfsync", "always"]
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

    def stop(self) -> None:
        """SIGTERM: a clean shutdown (what it kept on disk survives, see ``keep_in``)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout(10))

    def pause(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGCONT)


def _session_redis() -> Iterator[str]:
    server = RedisProcess()
    try:
        yield server.url
    finally:
        server.kill()


#: The session's Redis (each test uses a key prefix of its own).
redis_url = pytest.fixture(scope="session", name="redis_url")(_session_redis)
#: A second Redis for the session: channels sharded over two instances.
redis_url_2 = pytest.fixture(scope="session", name="redis_url_2")(_session_redis)
