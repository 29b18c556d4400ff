"""The machine admin port of a real ``--workers 2``: probes, summed metrics, and the
management API passed through to a worker."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time

import httpx
import pytest
import websockets
from prometheus_client.parser import text_string_to_metric_families

from ..conftest import recv_json, timeout
from .conftest import API_KEY, Machine, clients_on_both, close_all

pytestmark = pytest.mark.timeout(60)


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def worker_metrics(worker: dict[str, object]) -> str:
    url = f"http://127.0.0.1:{worker['admin_port']}/metrics"
    return httpx.get(url, timeout=timeout(5)).text


async def test_metrics_add_up_both_workers(machine: Machine) -> None:
    by_node = await clients_on_both(machine)
    try:
        assert len(by_node) == 2
        merged = samples(machine.admin("/metrics").text)
        assert merged[("switchboard_connections_active", ())] == 20
        own = [samples(worker_metrics(w)) for w in machine.wait_ready()]
        per_worker = [s[("switchboard_connections_active", ())] for s in own]
        assert sorted(per_worker) == sorted(len(c) for c in by_node.values())
        opened = ("switchboard_connections_opened_total", ())
        assert merged[opened] == sum(s[opened] for s in own)
        # Not summed: each worker's own info series, and the latest start time.
        assert {dict(k[1])["node"] for k in merged if k[0] == "switchboard_info"} == set(by_node)
        start = ("switchboard_process_start_time_seconds", ())
        assert merged[start] == max(s[start] for s in own)
        assert merged[("switchboard_workers_scraped", ())] == 2
    finally:
        await close_all(by_node)


async def test_ready_is_503_while_a_worker_does_not_answer(machine: Machine) -> None:
    assert machine.readiness().status_code == 200
    stuck = machine.pids()[1]
    os.kill(stuck, signal.SIGSTOP)
    try:
        answer = machine.readiness()  # the probe of a worker waits 1 s at most
        assert answer.status_code == 503
        body = answer.json()
        assert body["status"] == "not_ready"
        assert [(w["ready"], w["status"]) for w in body["workers"]] == [
            (True, "ready"),
            (False, "unreachable"),
        ]
        assert machine.admin("/health").status_code == 200  # alive all the same
    finally:
        os.kill(stuck, signal.SIGCONT)
    await asyncio.to_thread(machine.wait_ready)


async def test_the_management_api_is_passed_to_a_worker(machine: Machine) -> None:
    key = {"X-API-Key": API_KEY}
    refused = machine.admin("/api/v1/stats")
    assert refused.status_code == 401  # the worker's own check: the key did not come
    answer = machine.admin("/api/v1/stats", headers=key, params={"unused": "1"})
    assert answer.status_code == 200
    assert answer.headers["x-switchboard-worker"] == "0"
    assert machine.admin("/docs").status_code == 200  # the worker's OpenAPI page
    # A body goes through too: a publication from the API reaches both workers' clients.
    by_node = await clients_on_both(machine, 10)
    try:
        subscribers = [clients[0] for clients in by_node.values()]
        for ws in subscribers:
            await ws.send(json.dumps({"type": "subscribe", "channel": "room:1", "id": "s"}))
            assert (await recv_json(ws))["type"] == "ack"
        published = machine.admin(
            "/api/v1/channels/room:1/publish", method="POST", headers=key, json={"data": 7}
        )
        assert published.status_code == 200, published.text
        for ws in subscribers:
            while (frame := await recv_json(ws))["type"] != "message":
                pass
            assert frame["data"] == 7
    finally:
        await close_all(by_node)


def test_another_host_is_refused_before_any_worker(machine: Machine) -> None:
    answer = machine.admin("/api/v1/stats", headers={"Host": "evil.example"})
    assert answer.status_code == 421
    assert "x-switchboard-worker" not in answer.headers
    assert machine.admin("/ready", headers={"Host": "evil.example"}).status_code == 200


async def test_with_worker_0_stopped_worker_1_answers_within_the_probe(machine: Machine) -> None:
    stuck = machine.pids()[0]
    os.kill(stuck, signal.SIGSTOP)
    try:
        started = time.monotonic()
        answer = machine.admin("/api/v1/stats", headers={"X-API-Key": API_KEY})
        assert answer.status_code == 200
        assert answer.headers["x-switchboard-worker"] == "1"
        assert time.monotonic() - started < timeout(3)
    finally:
        os.kill(stuck, signal.SIGCONT)
    await asyncio.to_thread(machine.wait_ready)
    async with websockets.connect(machine.server.url()) as ws:  # it serves again
        assert (await recv_json(ws))["type"] == "welcome"


def test_the_dashboard_stream_flows_through(machine: Machine) -> None:
    url = f"http://127.0.0.1:{machine.admin_port}/dashboard/stream?key={API_KEY}"
    with httpx.stream("GET", url, timeout=timeout(5)) as answer:
        assert answer.status_code == 200
        assert answer.headers["content-type"].startswith("text/event-stream")
        first = next(answer.iter_raw())
    assert first.startswith(b"event: history\n")  # streamed: the answer has no end yet
