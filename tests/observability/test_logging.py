"""Log sinks of a real ``switchboard serve``: combined file, error file, node on every line."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import websockets
from websockets.exceptions import InvalidStatus

from ..conftest import ServerProcess, recv_json, wait_until

Spawn = Callable[..., ServerProcess]


def read_lines(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


async def wait_for_file_event(path: Path, event: str) -> list[dict[str, Any]]:
    await wait_until(lambda: any(line["event"] == event for line in read_lines(path)))
    return read_lines(path)


async def test_log_file_and_error_file_get_their_lines(
    server_process: Spawn, tmp_path: Path
) -> None:
    combined, errors = tmp_path / "switchboard.log", tmp_path / "errors.log"
    server = server_process(
        "--max-connections",
        "1",
        "--node-id",
        "node-7",
        "--log-format",
        "console",
        "--log-file",
        str(combined),
        "--error-log-file",
        str(errors),
    )
    async with websockets.connect(server.url()) as ws:
        conn_id = (await recv_json(ws))["connection_id"]
        with pytest.raises(InvalidStatus):
            await websockets.connect(server.url())  # over max_connections: a warning
    lines = await wait_for_file_event(combined, "connection_closed")
    assert all(line["node"] == "node-7" for line in lines)
    opened = next(line for line in lines if line["event"] == "connection_opened")
    closed = next(line for line in lines if line["event"] == "connection_closed")
    assert opened["connection_id"] == closed["connection_id"] == conn_id
    assert "user" in closed
    assert any(line["event"] == "Maximum connection limit reached" for line in lines)
    # The error file: warnings and errors only, JSON even though stdout is console format.
    warnings = await wait_for_file_event(errors, "Maximum connection limit reached")
    assert {line["level"] for line in warnings} <= {"warning", "error", "critical"}
    assert all(line["node"] == "node-7" for line in warnings)
    # Stdout kept the console format.
    line = await asyncio.to_thread(first_line_with, server, "connection_closed")
    assert "connection_closed" in line
    assert not line.lstrip().startswith("{")


def first_line_with(server: ServerProcess, text: str) -> str:
    assert server.proc.stdout is not None
    for _ in range(1000):
        line = server.proc.stdout.readline()
        if not line or text in line:
            return line
    return ""
