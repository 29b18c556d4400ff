"""The node registry of a real cluster: `switchboard nodes` and `GET /api/v1/nodes`."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from typing import Any

import httpx

from ..conftest import timeout
from .conftest import API_KEY, RedisProcess, StartNode


def listed(redis: RedisProcess, prefix: str, *extra: str) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "switchboard", "nodes", "--broker", redis.url]
    return subprocess.run(
        [*argv, "--broker-prefix", prefix, *extra],
        capture_output=True,
        text=True,
        timeout=timeout(30),
        check=False,
    )


def nodes_json(redis: RedisProcess, prefix: str) -> list[dict[str, Any]]:
    answer = listed(redis, prefix, "--json")
    assert answer.returncode == 0, answer.stderr
    return list(json.loads(answer.stdout)["nodes"])


def wait_for_nodes(redis: RedisProcess, prefix: str, ids: set[str], within: float) -> None:
    deadline = time.monotonic() + timeout(within)
    while {n["node_id"] for n in nodes_json(redis, prefix)} != ids:
        assert time.monotonic() < deadline, f"nodes never became {ids}"
        time.sleep(0.2)  # the poll interval


def test_switchboard_nodes_lists_every_live_node_and_drops_a_killed_one(
    start_node: StartNode, redis_server: RedisProcess
) -> None:
    a, b = start_node(), start_node()
    prefix = start_node.prefix  # type: ignore[attr-defined]
    wait_for_nodes(redis_server, prefix, {"node-1", "node-2"}, within=5)
    entries = {n["node_id"]: n for n in nodes_json(redis_server, prefix)}
    assert entries["node-1"]["state"] == "ready"
    assert entries["node-2"]["url"].endswith(f":{b.port}/ws")
    assert entries["node-2"]["admin_url"].endswith(f":{b.admin_port}")  # type: ignore[attr-defined]
    table = listed(redis_server, prefix)
    assert table.returncode == 0 and "node-1" in table.stdout and "ready" in table.stdout
    b.proc.kill()  # SIGKILL: it cannot leave; its entry expires (a 2 s TTL here)
    wait_for_nodes(redis_server, prefix, {"node-1"}, within=2 + 3)
    a.proc.terminate()  # a clean stop leaves at once
    a.proc.wait(timeout(15))
    assert nodes_json(redis_server, prefix) == []


async def test_every_node_answers_the_whole_registry_on_its_admin_port(
    start_node: StartNode,
) -> None:
    a, _ = start_node(), start_node()
    url = f"http://127.0.0.1:{a.admin_port}/api/v1/nodes"  # type: ignore[attr-defined]
    async with httpx.AsyncClient(timeout=timeout(5)) as http:
        deadline = time.monotonic() + timeout(5)
        while True:
            answer = await http.get(url, headers={"X-API-Key": API_KEY})
            assert answer.status_code == 200, answer.text
            ids = [n["node_id"] for n in answer.json()["nodes"]]
            if ids == ["node-1", "node-2"]:
                break
            assert time.monotonic() < deadline, ids
            await asyncio.sleep(0.1)  # the poll interval


def test_nodes_without_a_reachable_redis_exits_1_without_the_password(
    redis_server: RedisProcess,
) -> None:
    redis_server.kill()
    broker = f"redis://:pw-hidden@127.0.0.1:{redis_server.port}/0"
    answer = subprocess.run(
        [sys.executable, "-m", "switchboard", "nodes", "--broker", broker],
        capture_output=True,
        text=True,
        timeout=timeout(30),
        check=False,
    )
    assert answer.returncode == 1
    assert "pw-hidden" not in answer.stdout + answer.stderr
