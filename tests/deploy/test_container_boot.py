"""The containers' exact command line, environment and settings file, booted as local
processes: Redis, one node as deploy/kubernetes/deployment.yaml runs its container, one as
deploy/compose.yaml runs sb2, and HAProxy from deploy/haproxy.cfg with compose's environment
for it. Then the probes (the kubelet's, the image's HEALTHCHECK, compose's healthcheck), a
client session through HAProxy, the HPA's metric, and SIGTERM: /ready 503, 1012, exit 0
within the kill deadline.

What is substituted, and nothing else: addresses and ports, since every process shares one
machine's loopback (``host``, ``admin_host``, ``port``, ``admin_port``, ``agent_port`` in the
settings file; the Redis URL's host and port; HAProxy's ``SB_*`` addresses, the third
replica's pointing at a port where nothing listens; the port in the healthcheck commands);
the settings file's mount point (a temporary directory for /etc/switchboard); the image's
``switchboard`` and PATH (this environment's). The pod name is made up, and compose's two
secrets (its operator's shell variables) are the Kubernetes Secret's placeholders, so that the
two nodes form one cluster.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import tomllib
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import dockerfile
import httpx
import jwt
import pytest
import websockets
from prometheus_client.parser import text_string_to_metric_families
from websockets.exceptions import ConnectionClosed, InvalidStatus

from ..cluster.conftest import Balancer
from ..conftest import RedisProcess, free_port, timeout
from .files import DEPLOY, ROOT, compose, manifests

POD_NAME = "switchboard-6c9f7d5b8-x2k4q"
CONFIG_MOUNT = "/etc/switchboard/"
#: The settings keys that hold an address or a port.
ADDRESSES = ("host", "admin_host")
PORTS = ("port", "admin_port", "agent_port")


class Node:
    """One container's process: its argv, environment and settings file, loopback ports."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], toml: str, home: Path):
        self.name = name
        self.ports = {key: free_port() for key in PORTS}
        config = home / f"{name}.toml"
        config.write_text(on_loopback(toml, self.ports))
        assert_only_addresses_differ(toml, config.read_text())
        argv = [str(config) if arg.startswith(CONFIG_MOUNT) else arg for arg in argv]
        self.log = home / f"{name}.log"
        with self.log.open("w") as out:
            self.proc = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT)

    @property
    def admin(self) -> str:
        return f"http://127.0.0.1:{self.ports['admin_port']}"

    def output(self) -> str:
        return self.log.read_text()

    def wait_ready(self, within: float) -> None:
        deadline = time.monotonic() + timeout(within)
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, f"{self.name} exited:\n{self.output()}"
            try:
                if httpx.get(f"{self.admin}/ready", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.05)  # the poll interval of a process starting up
        raise AssertionError(f"{self.name} not ready:\n{self.output()}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout(10))


def on_loopback(toml: str, ports: dict[str, int]) -> str:
    for key in ADDRESSES:
        toml = re.sub(rf'^{key} = ".*"$', f'{key} = "127.0.0.1"', toml, flags=re.M)
    for key, port in ports.items():
        toml = re.sub(rf"^{key} = \d+$", f"{key} = {port}", toml, flags=re.M)
    return toml


def assert_only_addresses_differ(original: str, rewritten: str) -> None:
    before, after = tomllib.loads(original), tomllib.loads(rewritten)
    changed = {key for key in before.keys() | after.keys() if before.get(key) != after.get(key)}
    assert changed == set(ADDRESSES + PORTS), changed


def image() -> dict[str, Any]:
    """The runtime stage's ENTRYPOINT, ENV and HEALTHCHECK."""
    commands = dockerfile.parse_file(str(ROOT / "Dockerfile"))
    last_from = max(i for i, c in enumerate(commands) if c.cmd == "FROM")
    stage = commands[last_from:]
    env: dict[str, str] = {}
    for command in (c for c in stage if c.cmd == "ENV"):
        pairs = command.value
        env |= dict(zip(pairs[::2], pairs[1::2], strict=True))
    [entrypoint] = [c.value for c in stage if c.cmd == "ENTRYPOINT"]
    [check] = [c.value for c in stage if c.cmd == "HEALTHCHECK"]
    return {"entrypoint": list(entrypoint), "env": env, "healthcheck": list(check[1:])}


def argv(args: list[str]) -> list[str]:
    """ENTRYPOINT + args, the image's console script replaced by this environment's."""
    entrypoint = image()["entrypoint"]
    assert entrypoint == ["switchboard"]
    return [str(Path(sys.executable).with_name("switchboard")), *args]


def base_env() -> dict[str, str]:
    """The image's ENV (PATH for this environment) on a clean environment of this machine."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("SWITCHBOARD_")}
    return env | {key: value for key, value in image()["env"].items() if key != "PATH"}


def on_this_redis(url: str, redis: RedisProcess) -> str:
    parts = urlsplit(url)
    assert parts.hostname == "redis" and parts.port == 6379, url  # the Service, compose's name
    return parts._replace(netloc=f"127.0.0.1:{redis.port}").geturl()


def kubernetes_node(redis: RedisProcess, home: Path) -> Node:
    objects = manifests()
    [container] = objects["Deployment/switchboard"]["spec"]["template"]["spec"]["containers"]
    env = base_env()
    for var in container["env"]:
        source = var["valueFrom"]
        if "fieldRef" in source:
            assert source["fieldRef"]["fieldPath"] == "metadata.name"
            env[var["name"]] = POD_NAME
        else:
            ref = source["secretKeyRef"]
            env[var["name"]] = objects[f"Secret/{ref['name']}"]["stringData"][ref["key"]]
    env["SWITCHBOARD_BROKER"] = on_this_redis(env["SWITCHBOARD_BROKER"], redis)
    toml = objects["ConfigMap/switchboard"]["data"]["switchboard.toml"]
    return Node("kubernetes", argv(container["args"]), env, toml, home)


def compose_file() -> dict[str, Any]:
    secret = manifests()["Secret/switchboard"]["stringData"]
    shell = {
        "SWITCHBOARD_API_KEY": secret["api-key"],
        "SWITCHBOARD_JWT_SECRET": secret["jwt-secret"],
    }
    return compose(shell)


def compose_node(redis: RedisProcess, home: Path) -> Node:
    project = compose_file()
    service = project["services"]["sb2"]
    env = base_env() | {key: str(value) for key, value in service["environment"].items()}
    env["SWITCHBOARD_BROKER"] = on_this_redis(env["SWITCHBOARD_BROKER"], redis)
    toml = project["configs"]["switchboard-toml"]["content"]
    return Node("sb2", argv(service["command"]), env, toml, home)


class ComposeBalancer(Balancer):
    """HAProxy from deploy/haproxy.cfg with compose's haproxy environment, the replicas'
    addresses on loopback (sb3 is not booted: its slot points where nothing listens)."""

    def __init__(self, nodes: dict[str, Node]) -> None:
        haproxy = shutil.which("haproxy")
        if haproxy is None:
            pytest.fail("haproxy is not installed (make test installs it)")
        self.port = free_port()
        env = dict(compose_file()["services"]["haproxy"]["environment"])
        env["SB_BIND"] = f"127.0.0.1:{self.port}"
        for index in (1, 2, 3):
            name = env[f"SB_NODE{index}"].split(":")[0]
            node = nodes.get(name)
            env[f"SB_NODE{index}"] = f"127.0.0.1:{node.ports['port'] if node else free_port()}"
            env[f"SB_AGENT{index}"] = str(node.ports["agent_port"] if node else free_port())
        config = DEPLOY / "haproxy.cfg"
        self.proc = subprocess.Popen(
            [haproxy, "-f", str(config), "-db"],
            env={**os.environ, **env},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self._wait_listening("haproxy")


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[dict[str, Node]]:
    redis = RedisProcess()
    nodes: list[Node] = []
    try:
        nodes.append(kubernetes_node(redis, tmp_path))
        nodes.append(compose_node(redis, tmp_path))
        for node in nodes:
            node.wait_ready(15)
        yield {"kubernetes": nodes[0], "sb1": nodes[0], "sb2": nodes[1]}
    finally:
        for node in nodes:
            node.stop()
        redis.kill()


def token() -> str:
    secret = manifests()["Secret/switchboard"]["stringData"]["jwt-secret"]
    return jwt.encode({"sub": "ann", "exp": int(time.time()) + 600}, secret, algorithm="HS256")


async def client_through(front: Balancer) -> tuple[Any, dict[str, Any]]:
    """A client with a token through HAProxy, and its welcome. Until HAProxy's checks mark
    the missing third replica down (2 s), a try may land there and get 503: try again."""
    deadline = asyncio.get_running_loop().time() + timeout(10)
    headers = {"Authorization": f"Bearer {token()}"}
    while True:
        try:
            ws = await websockets.connect(front.url(), additional_headers=headers)
            return ws, json.loads(await asyncio.wait_for(ws.recv(), timeout(5)))
        except (InvalidStatus, OSError, ConnectionClosed):
            assert asyncio.get_running_loop().time() < deadline, "no node took the client"
            await asyncio.sleep(0.1)


async def reply(ws: Any, request: dict[str, Any]) -> dict[str, Any]:
    await ws.send(json.dumps(request))
    while True:
        frame = json.loads(await asyncio.wait_for(ws.recv(), timeout(5)))
        if frame.get("id") == request["id"]:
            return dict(frame)


def healthcheck(command: list[str], node: Node) -> int:
    """A healthcheck's exec form run against ``node`` (its admin port substituted)."""
    program, *rest = command
    assert program == "python"
    args = [arg.replace("127.0.0.1:9090", f"127.0.0.1:{node.ports['admin_port']}") for arg in rest]
    return subprocess.run([sys.executable, *args], capture_output=True, check=False).returncode


async def connections(http: httpx.AsyncClient, node: Node) -> float:
    """The HPA's metric, as the ServiceMonitor scrapes it from the node's admin port."""
    text = (await http.get(f"{node.admin}/metrics")).text
    families = {family.name: family for family in text_string_to_metric_families(text)}
    [sample] = families["switchboard_connections_active"].samples
    return float(sample.value)


async def eventually(check: Callable[[], Awaitable[bool]], within: float) -> None:
    deadline = asyncio.get_running_loop().time() + timeout(within)
    while not await check():
        assert asyncio.get_running_loop().time() < deadline, "not reached in time"
        await asyncio.sleep(0.05)


async def test_the_containers_boot_serve_and_drain(cluster: dict[str, Node]) -> None:
    k8s, sb2 = cluster["kubernetes"], cluster["sb2"]
    deployment = manifests()["Deployment/switchboard"]
    [container] = deployment["spec"]["template"]["spec"]["containers"]
    ports = {port["name"]: port["containerPort"] for port in container["ports"]}
    assert ports["admin"] == 9090  # what the healthchecks ask; substituted below
    http = httpx.AsyncClient(timeout=timeout(5))
    front = await asyncio.to_thread(ComposeBalancer, cluster)
    try:
        # The kubelet's probes, the image's HEALTHCHECK and compose's healthcheck.
        for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
            get = container[probe]["httpGet"]
            assert ports[get["port"]] == 9090
            assert (await http.get(f"{k8s.admin}{get['path']}")).status_code == 200, probe
        compose_check = compose_file()["services"]["sb2"]["healthcheck"]["test"]
        assert compose_check[0] == "CMD"
        for command, node in ((image()["healthcheck"], k8s), (image()["healthcheck"], sb2)):
            assert await asyncio.to_thread(healthcheck, command, node) == 0
        assert await asyncio.to_thread(healthcheck, compose_check[1:], sb2) == 0

        # A session through HAProxy: welcome, subscribe, publish, the message.
        reader, welcome = await client_through(front)
        writer, other = await client_through(front)
        assert welcome["type"] == other["type"] == "welcome"
        # leastconn gives the second client the other node: the publication crosses Redis.
        assert {welcome["node"], other["node"]} == {POD_NAME, "sb2"}  # fieldRef, compose's name
        ack = await reply(reader, {"type": "subscribe", "channel": "room:deploy", "id": 1})
        assert ack["type"] == "ack"
        ack = await reply(
            writer, {"type": "publish", "channel": "room:deploy", "data": "hi", "id": 2}
        )
        assert ack["type"] == "ack"
        message = json.loads(await asyncio.wait_for(reader.recv(), timeout(5)))
        assert (message["type"], message["data"]) == ("message", "hi")

        # The HPA's metric, per pod: both clients counted.
        async def both_counted() -> bool:
            return await connections(http, k8s) + await connections(http, sb2) == 2

        await eventually(both_counted, 5)

        # SIGTERM: /ready 503 at once, 1012 after drain_grace, exit 0 before the kill.
        started = time.monotonic()
        for node in (k8s, sb2):
            node.proc.send_signal(signal.SIGTERM)
        for node in (k8s, sb2):

            async def draining(node: Node = node) -> bool:
                return (await http.get(f"{node.admin}/ready")).status_code == 503

            await eventually(draining, 2)
        for ws in (reader, writer):
            with pytest.raises(ConnectionClosed):
                while True:
                    await asyncio.wait_for(ws.recv(), timeout(15))
            assert ws.close_code == 1012
            assert json.loads(ws.close_reason)["reconnect_after_ms"] >= 0
        settings = tomllib.loads(manifests()["ConfigMap/switchboard"]["data"]["switchboard.toml"])
        assert time.monotonic() - started >= settings["drain_grace"]  # kept them through it
        deadline = deployment["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
        for node in (k8s, sb2):
            left = max(0.1, started + deadline - time.monotonic())
            assert await asyncio.to_thread(node.proc.wait, left) == 0, node.output()
    finally:
        await http.aclose()
        await asyncio.to_thread(front.stop)
