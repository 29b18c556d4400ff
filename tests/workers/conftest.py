"""``switchboard serve --workers 2`` on loopback over the session's redis-server: a machine
(supervisor and workers) of the test's own, or one the package's tests share, always
stopped (supervisor and every worker it started) when they end."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from websockets.asyncio.client import ClientConnection

from ..conftest import ServerProcess, free_port, recv_json, timeout

API_KEY = "workers-test-api-key-0123456789"


class Machine:
    """A supervisor (``ServerProcess``: its WebSocket port, its log lines) and its admin port."""

    def __init__(self, redis_url: str, *flags: str) -> None:
        self.prefix = f"w{uuid.uuid4().hex[:10]}:"
        self.admin_port = free_port()
        args = ["--workers", "2", "--broker", redis_url, "--broker-prefix", self.prefix]
        args += ["--admin-port", str(self.admin_port), "--api-key", API_KEY]
        args += ["--drain-timeout", "1", "--log-level", "warning", *flags]
        try:
            self.server = ServerProcess(args)  # waits for the WebSocket port's /health
        except BaseException:
            _kill_all(self.prefix)
            raise
        self.proc = self.server.proc

    def admin(self, path: str, **kwargs: Any) -> httpx.Response:
        url = f"http://127.0.0.1:{self.admin_port}{path}"
        return httpx.request(kwargs.pop("method", "GET"), url, timeout=timeout(5), **kwargs)

    def readiness(self) -> httpx.Response:
        return self.admin("/ready")

    def wait_ready(
        self, within: float = 15, where: Callable[[list[dict[str, Any]]], bool] | None = None
    ) -> list[dict[str, Any]]:
        """Poll the machine's ``/ready`` until 200 (and ``where(workers)``); its workers."""
        deadline = time.monotonic() + timeout(within)
        while True:
            with contextlib.suppress(httpx.HTTPError):
                answer = self.readiness()
                workers: list[dict[str, Any]] = answer.json()["workers"]
                if answer.status_code == 200 and (where is None or where(workers)):
                    return workers
            assert self.proc.poll() is None, f"the supervisor exited: {self.proc.returncode}"
            assert time.monotonic() < deadline, "the machine did not get ready in time"
            time.sleep(0.05)

    def pids(self) -> list[int]:
        return [w["pid"] for w in self.wait_ready()]

    def stop(self) -> None:
        """SIGTERM (then SIGKILL) to the supervisor, SIGKILL to any worker of ours left."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout(15))
            except subprocess.TimeoutExpired:
                self.server.stop()
        _kill_all(self.prefix)


def _kill_all(marker: str) -> None:
    for pid in _processes_with(marker):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGCONT)  # a stopped process dies on SIGKILL too, but later
            os.kill(pid, signal.SIGKILL)


def _processes_with(marker: str) -> list[int]:
    """Processes whose command line holds ``marker`` (a machine's unique broker prefix)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if marker.encode() in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
    return found


StartMachine = Callable[..., Machine]


@pytest.fixture
def start_machine(redis_url: str) -> Iterator[StartMachine]:
    """``start_machine(*flags)``: a machine of the test's own, ready."""
    machines: list[Machine] = []

    def start(*flags: str) -> Machine:
        machine = Machine(redis_url, *flags)
        machines.append(machine)
        machine.wait_ready()
        return machine

    try:
        yield start
    finally:
        for machine in machines:
            machine.stop()


@pytest.fixture(scope="package")
def machine(redis_url: str) -> Iterator[Machine]:
    """A machine the package's tests share; a test that stops a worker brings it back."""
    shared = Machine(redis_url)
    try:
        shared.wait_ready()
        yield shared
    finally:
        shared.stop()


async def clients_on_both(machine: Machine, count: int = 20) -> dict[str, list[ClientConnection]]:
    """``count`` clients of the machine's one port, by the node (worker) each welcome names."""
    by_node: dict[str, list[ClientConnection]] = {}
    for _ in range(count):
        ws = await websockets.connect(machine.server.url())
        welcome = await recv_json(ws)
        by_node.setdefault(welcome["node"], []).append(ws)
    return by_node


async def close_all(by_node: dict[str, list[ClientConnection]]) -> None:
    for clients in by_node.values():
        for ws in clients:
            await ws.close()
