"""``switchboard serve`` as a real process: signals, exit status, and its JSON log lines."""

from __future__ import annotations

import asyncio
import json
import signal
from collections.abc import Callable

import pytest
import websockets
from websockets.exceptions import InvalidStatus

from ..conftest import ServerProcess, recv_json, timeout

Spawn = Callable[..., ServerProcess]


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
async def test_signal_drains_with_1012_and_exits_0(server_process: Spawn, sig: int) -> None:
    server = server_process("--drain-timeout", "5")
    clients = [await websockets.connect(server.url()) for _ in range(3)]
    for ws in clients:
        await recv_json(ws)
    server.proc.send_signal(sig)
    for ws in clients:
        await asyncio.wait_for(ws.wait_closed(), timeout(5))
        assert ws.close_code == 1012
    assert await asyncio.to_thread(server.proc.wait, timeout(10)) == 0
    events = [r["event"] for r in server.records()] + [
        json.loads(line)["event"] for line in server.proc.stdout or [] if line.startswith("{")
    ]
    assert "drain_started" in events
    assert "server_stopped" in events


async def test_connection_log_lines_carry_id_address_duration_and_code(
    server_process: Spawn,
) -> None:
    server = server_process()
    async with websockets.connect(server.url()) as ws:
        conn_id = (await recv_json(ws))["connection_id"]
        await ws.send('{"type":"echo","data":"x"}')
        await recv_json(ws)
        await ws.close(code=4100, reason="done here")
    opened = await asyncio.to_thread(server.wait_for, "connection_opened", timeout(5))
    closed = await asyncio.to_thread(server.wait_for, "connection_closed", timeout(5))
    assert opened["connection_id"] == conn_id
    assert opened["remote"].startswith("127.0.0.1:")
    assert opened["level"] == "info"
    assert opened["node"]
    assert closed["connection_id"] == conn_id
    assert closed["close_code"] == 4100
    assert closed["close_reason"] == "done here"
    assert closed["closed_by"] == "client"
    assert closed["duration_s"] >= 0
    # Per-message logs only at debug: at info the echo left no line of its own.
    assert {r["event"] for r in server.records()} == {
        "admin_started",
        "server_started",
        "node_state",  # starting -> ready
        "connection_accepted",  # the audit event (its own file with --audit-log)
        "connection_opened",
        "connection_closed",
    }


async def test_max_connections_is_logged_with_the_count(server_process: Spawn) -> None:
    server = server_process("--max-connections", "2")
    clients = [await websockets.connect(server.url()) for _ in range(2)]
    with pytest.raises(InvalidStatus) as info:
        await websockets.connect(server.url())
    assert info.value.response.status_code == 503
    record = await asyncio.to_thread(
        server.wait_for, "Maximum connection limit reached", timeout(5)
    )
    assert record["level"] == "warning"
    assert record["connections"] == 2
    assert record["max_connections"] == 2
    for ws in clients:
        await ws.close()


def test_invalid_settings_exit_2_with_a_message() -> None:
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-m", "switchboard", "serve", "--port", "70000"],
        capture_output=True,
        text=True,
        timeout=timeout(20),
    )
    assert result.returncode == 2
    assert "port" in result.stderr


async def test_flags_reach_the_server(server_process: Spawn) -> None:
    server = server_process("--raw-echo", "--max-message-size", "2000", "--path", "/echo")
    async with websockets.connect(server.url("/echo")) as ws:
        await ws.send("raw, no envelope")
        assert await asyncio.wait_for(ws.recv(), timeout(5)) == "raw, no envelope"
        await ws.send("x" * 2001)
        await asyncio.wait_for(ws.wait_closed(), timeout(5))
    assert ws.close_code == 1009


async def test_serve_loads_an_app_by_module_and_attribute(server_process: Spawn) -> None:
    from ..conftest import ROOT

    server = server_process("examples.chat_app:app", env={"PYTHONPATH": str(ROOT)})
    async with websockets.connect(server.url()) as ws:
        await recv_json(ws)
        await ws.send('{"type":"chat.typing","id":1}')
        reply = await recv_json(ws)
        assert reply["type"] == "chat.typing_reply"
        assert reply["data"]["user"].startswith("guest-")
        await ws.send('{"type":"whoami"}')
        assert (await recv_json(ws))["data"]["online"] == 1


def test_serve_refuses_a_target_that_is_not_an_app() -> None:
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-m", "switchboard", "serve", "json:dumps", "--port", "0"],
        capture_output=True,
        text=True,
        timeout=timeout(20),
    )
    assert result.returncode == 2
    assert "not an App" in result.stderr
