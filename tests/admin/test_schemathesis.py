"""Schemathesis fuzzes the served OpenAPI spec: no server errors, responses match the schema."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import websockets

from ..conftest import StartServer, recv_json, timeout, ws_url

CONFIG = Path(__file__).with_name("schemathesis.toml")
ST = Path(sys.executable).with_name("st")


async def test_schemathesis_finds_no_failures(start_server: StartServer) -> None:
    app = await start_server(api_key="schemathesis-key-0123", channel_defaults={"presence": True})
    async with websockets.connect(ws_url(app)) as ws:  # a live connection to poke at
        await recv_json(ws)
        proc = await asyncio.create_subprocess_exec(
            str(ST),
            "--config-file",
            str(CONFIG),
            "run",
            f"http://127.0.0.1:{app.admin_port}/openapi.json",
            "--header",
            "X-API-Key: schemathesis-key-0123",
            "--checks",
            "all",
            "--max-examples",
            "25",
            "--seed",
            "20261126",
            "--workers",
            "1",
            # Traces allocations for up to 60 s per call; covered by the API tests instead.
            "--exclude-path-regex",
            "allocations",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        out, _ = await asyncio.wait_for(proc.communicate(), timeout(110))
    report = out.decode(errors="replace")
    assert proc.returncode == 0, report[-6000:]
    assert " passed" in report
    assert app.node is not None and len(app.node.registry) == 0
