"""The supervisor as real processes: one port for every worker, a dead worker started again,
a stop that drains them all, and the refusals at start."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from ..conftest import recv_json, timeout
from .conftest import Machine, StartMachine, clients_on_both, close_all

pytestmark = pytest.mark.timeout(60)


def running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


async def test_two_workers_serve_one_port(machine: Machine) -> None:
    by_node = await clients_on_both(machine)
    try:
        # The kernel spreads 20 connections over both listeners (all but never all on one).
        assert len(by_node) == 2, {node: len(c) for node, c in by_node.items()}
        assert all(node.endswith(("-w0", "-w1")) for node in by_node)
    finally:
        await close_all(by_node)


async def test_a_broadcast_from_one_worker_reaches_a_client_on_the_other(
    machine: Machine,
) -> None:
    by_node = await clients_on_both(machine)
    try:
        (node_a, on_a), (_, on_b) = sorted(by_node.items())
        await on_a[0].send(json.dumps({"type": "broadcast", "data": {"from": node_a}, "id": 1}))
        while (frame := await recv_json(on_b[0]))["type"] != "broadcast":
            pass
        assert frame["data"] == {"from": node_a}
    finally:
        await close_all(by_node)


async def test_a_killed_worker_is_started_again_and_logged(start_machine: StartMachine) -> None:
    machine = start_machine()
    first, second = machine.pids()
    os.kill(first, signal.SIGKILL)
    exited = await asyncio.to_thread(machine.server.wait_for, "worker_exited", timeout(10))
    assert exited["logger"] == "switchboard.workers"
    assert exited["level"] == "warning"
    assert (exited["worker"], exited["pid"], exited["signal"]) == (0, first, "SIGKILL")
    assert exited["restart_in"] == 0.5
    workers = await asyncio.to_thread(
        machine.wait_ready, 15, lambda ws: ws[0]["pid"] not in (None, first)
    )
    assert workers[1]["pid"] == second  # the other went on serving
    metrics = machine.admin("/metrics").text
    assert "switchboard_worker_restarts_total 1.0" in metrics


async def test_sigterm_drains_every_worker_and_exits_0(start_machine: StartMachine) -> None:
    machine = start_machine()
    pids = machine.pids()
    by_node = await clients_on_both(machine, 10)
    clients = [ws for on_node in by_node.values() for ws in on_node]
    started = time.monotonic()
    machine.proc.send_signal(signal.SIGTERM)
    for ws in clients:
        await asyncio.wait_for(ws.wait_closed(), timeout(10))
        assert ws.close_code == 1012  # each worker drained its own (1012: come back later)
    # drain_timeout 1 s: far within the supervisor's bound of 1 + 0 + 10 s.
    assert await asyncio.to_thread(machine.proc.wait, timeout(15)) == 0
    assert time.monotonic() - started < timeout(10)
    for pid in pids:
        assert not running(pid), f"worker {pid} outlived the supervisor"


async def test_the_workers_die_with_a_killed_supervisor(start_machine: StartMachine) -> None:
    machine = start_machine()
    pids = machine.pids()
    machine.proc.kill()  # no SIGTERM to forward: the kernel tells the workers (PDEATHSIG)
    deadline = time.monotonic() + timeout(10)
    while any(running(pid) for pid in pids):
        assert time.monotonic() < deadline, "workers outlived their supervisor"
        await asyncio.sleep(0.05)


def serve(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "switchboard", "serve", "--port", "0", "--admin-port", "0", *args],
        capture_output=True,
        text=True,
        timeout=timeout(20),
    )


def test_workers_with_the_memory_broker_exit_2_with_the_reason() -> None:
    result = serve("--workers", "2", "--broker", "memory")
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "switchboard: cannot start: --workers 2 needs a shared broker (--broker redis://...): "
        "workers that cannot see each other would split broadcasts"
    )


def test_a_worker_refused_at_its_first_start_stops_the_machine_with_2(redis_url: str) -> None:
    result = serve("--workers", "2", "--broker", redis_url, "no_such_module:app")
    assert result.returncode == 2
    assert "cannot load 'no_such_module:app'" in result.stderr
    assert '"event": "worker_refused"' in result.stdout
