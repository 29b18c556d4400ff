"""Real clusters on loopback: a redis-server of the test's own and Switchboard nodes as
``switchboard serve --broker redis://...`` subprocesses, all stopped when the test ends."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ..conftest import RedisProcess, ServerProcess, free_port, timeout


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

    def start(*flags: str, like: ServerProcess | None = None) -> ServerProcess:
        """``like``: a node that stopped, started again with its ports and name."""
        admin_port = free_port() if like is None else like.admin_port  # type: ignore[attr-defined]
        name = f"node-{len(nodes) + 1}" if like is None else like.name  # type: ignore[attr-defined]
        args = ["--broker", redis_server.url, "--broker-prefix", prefix, "--registry-ttl", "2"]
        args += ["--admin-port", str(admin_port), "--api-key", API_KEY, "--log-level", "warning"]
        args += ["--node-id", name]
        node = ServerProcess([*args, *flags], port=None if like is None else like.port)
        node.admin_port = admin_port  # type: ignore[attr-defined]
        node.name = name  # type: ignore[attr-defined]
        nodes.append(node)
        return node

    start.prefix = prefix  # type: ignore[attr-defined]
    try:
        yield start
    finally:
        for node in nodes:
            node.stop()


API_KEY = "cluster-test-api-key-0123456789"


class Balancer:
    """HAProxy of the test's own, run from ``deploy/haproxy.cfg`` in front of ``nodes``."""

    def __init__(self, nodes: list[ServerProcess], agent_ports: list[int] | None = None) -> None:
        haproxy = shutil.which("haproxy")
        if haproxy is None:
            pytest.fail("haproxy is not installed (make test installs it)")
        self.port = free_port()
        env = {**os.environ, "SB_BIND": f"127.0.0.1:{self.port}"}
        agents = agent_ports or [free_port() for _ in nodes]  # nothing there: checks only
        for index, (node, agent) in enumerate(zip(nodes, agents, strict=True), start=1):
            env[f"SB_NODE{index}"] = f"127.0.0.1:{node.port}"
            env[f"SB_AGENT{index}"] = str(agent)
        config = Path(__file__).resolve().parents[2] / "deploy" / "haproxy.cfg"
        self.proc = subprocess.Popen(
            [haproxy, "-f", str(config), "-db"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self._wait_listening("haproxy")

    def _wait_listening(self, name: str) -> None:
        deadline = time.monotonic() + timeout(10)
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    self.stop()
                    raise AssertionError(f"{name} did not start") from None
                time.sleep(0.05)  # the poll interval of a process starting up

    def url(self, path: str = "/ws") -> str:
        return f"ws://127.0.0.1:{self.port}{path}"

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
        self.proc.wait(timeout(10))


class Nginx(Balancer):
    """nginx of the test's own, run from ``deploy/nginx.conf`` (its ``${SB_...}`` filled in
    as envsubst would) in front of three nodes."""

    def __init__(self, nodes: list[ServerProcess], prefix: Path) -> None:
        nginx = shutil.which("nginx")
        if nginx is None:
            pytest.fail("nginx is not installed (make test installs it)")
        self.port = free_port()
        values = {"SB_LISTEN": f"127.0.0.1:{self.port}"}
        for index, node in enumerate(nodes, start=1):
            values[f"SB_NODE{index}"] = f"127.0.0.1:{node.port}"
        template = (Path(__file__).resolve().parents[2] / "deploy" / "nginx.conf").read_text()
        (prefix / "logs").mkdir(parents=True, exist_ok=True)
        config = prefix / "nginx.conf"
        config.write_text(re.sub(r"\$\{(SB_[A-Z0-9_]+)\}", lambda m: values[m[1]], template))
        run_here = f"daemon off; pid {prefix / 'nginx.pid'};"  # not the system's pid file
        self.proc = subprocess.Popen(
            [nginx, "-p", str(prefix), "-c", str(config), "-g", run_here],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self._wait_listening("nginx")


@pytest.fixture
def nginx(tmp_path: Path) -> Iterator[Callable[[list[ServerProcess]], Nginx]]:
    """``nginx(nodes)``: nginx in front of three ``nodes``, stopped at the end."""
    started: list[Nginx] = []

    def start(nodes: list[ServerProcess]) -> Nginx:
        started.append(Nginx(nodes, tmp_path / f"nginx{len(started)}"))
        return started[-1]

    try:
        yield start
    finally:
        for proxy in started:
            proxy.stop()


@pytest.fixture
def balancer() -> Iterator[Callable[..., Balancer]]:
    """``balancer(nodes, agent_ports=None)``: HAProxy in front of ``nodes``, stopped at the end."""
    started: list[Balancer] = []

    def start(nodes: list[ServerProcess], agent_ports: list[int] | None = None) -> Balancer:
        started.append(Balancer(nodes, agent_ports))
        return started[-1]

    try:
        yield start
    finally:
        for balancer in started:
            balancer.stop()
