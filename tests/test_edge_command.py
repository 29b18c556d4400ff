"""``switchboard edge``: the example's processors answer on the edge, the rest reaches the
central; without an upstream the command refuses to start."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys

import websockets

from switchboard import App

from .conftest import ROOT, free_port, recv_json, timeout, wait_until_healthy, ws_url

DOC = ROOT / "docs" / "edge.md"


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)


def test_the_edge_guide_shows_the_example_processors_as_they_are() -> None:
    example = (ROOT / "examples" / "edge_app.py").read_text()
    shown = python_blocks()[0]
    assert shown.strip() and shown in example


def test_the_edge_guide_runs_the_command_lines_it_shows() -> None:
    text = DOC.read_text()
    assert "switchboard edge examples.edge_app:app --upstream ws://127.0.0.1:8080/ws" in text
    assert (
        "switchboard edge examples.edge_app:app --upstream"
        in (ROOT / "examples" / "edge_app.py").read_text()
    )


def test_edge_without_an_upstream_exits_2_with_the_reason() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "switchboard", "edge", "--port", "0", "--no-admin"],
        capture_output=True,
        text=True,
        timeout=timeout(30),
        env={k: v for k, v in os.environ.items() if not k.startswith("SWITCHBOARD_")},
    )
    assert done.returncode == 2
    assert "needs an upstream" in done.stderr and "--upstream" in done.stderr


async def test_the_example_edge_processes_locally_and_forwards_the_rest(
    start_server: object,
) -> None:
    central: App = await start_server()  # type: ignore[operator]
    port = free_port()
    token = "edge-secret-token-never-in-logs-0001"
    cmd = [sys.executable, "-m", "switchboard", "edge", "examples.edge_app:app"]
    cmd += ["--upstream", ws_url(central), "--upstream-token", token]
    cmd += ["--host", "127.0.0.1", "--port", str(port), "--no-admin", "--log-format", "json"]
    proc = subprocess.Popen(  # noqa: ASYNC220  # starting it does not wait
        cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        # In a thread: the central answers on this test's loop meanwhile.
        await asyncio.to_thread(wait_until_healthy, port, proc, timeout(20))
        async with websockets.connect(f"ws://127.0.0.1:{port}/ws") as ws:
            await recv_json(ws)
            reading = {"sensor": "t-1", "celsius": 21.5}
            await ws.send(json.dumps({"type": "sensor_data", "id": 1, "data": reading}))
            assert await recv_json(ws) == {
                "type": "sensor_data_reply",
                "data": {"status": "processed", "sensor": "t-1", "fahrenheit": 70.7},
                "id": 1,
            }
            await ws.send(json.dumps({"type": "echo", "id": 2, "data": "via the central"}))
            assert await recv_json(ws) == {"type": "echo_reply", "data": "via the central", "id": 2}
        # The guide's client, as written but for the edge's port, prints what it says.
        client = python_blocks()[1].replace("ws://127.0.0.1:8081/ws", f"ws://127.0.0.1:{port}/ws")
        shown = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-c", client],
            capture_output=True,
            text=True,
            timeout=timeout(30),
        )
        assert shown.returncode == 0, shown.stderr
        lines = shown.stdout.splitlines()
        assert lines[0] == str(
            {
                "type": "sensor_data_reply",
                "data": {"status": "processed", "sensor": "t-1", "fahrenheit": 70.7},
                "id": 1,
            }
        )
        assert lines[1] == "via the central"
        assert lines[2].startswith("{'type': 'message', 'channel': 'alerts', 'offset': 1,")
    finally:
        proc.terminate()
        out, _ = await asyncio.to_thread(proc.communicate, timeout=timeout(20))
    assert proc.returncode == 0, out
    records = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    assert any(r.get("event") == "edge_started" for r in records)
    assert token not in out  # the upstream token is never logged
    assert central.node is not None and central.node.router.received is not None
    assert "sensor_data" not in central.node.router.received
