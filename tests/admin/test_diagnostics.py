"""``admin/diagnostics.py`` over real HTTP: loop lag and allocation reports."""

from __future__ import annotations

import time
import tracemalloc

import httpx

from switchboard import App

from ..conftest import wait_until
from .conftest import AUTH


async def test_diagnostics_report_loop_lag_and_allocations(
    running: tuple[App, httpx.AsyncClient],
) -> None:
    app, client = running
    assert app.monitor is not None
    # Hold the loop past the monitor's next 1 s tick: that tick fires at least 0.2 s late.
    time.sleep(1.2)  # noqa: ASYNC251 (blocking the loop is the thing under test)
    monitor = app.monitor
    await wait_until(lambda: any(s["loop_lag_ms"] >= 150 for s in monitor.samples))
    lag = (await client.get("/api/v1/diagnostics/loop-lag", headers=AUTH)).json()
    assert lag["max_recent_ms"] >= 150, lag
    assert 0 <= lag["now_ms"] < 150
    report = await client.get(
        "/api/v1/diagnostics/allocations", headers=AUTH, params={"seconds": 0.2, "top": 5}
    )
    body = report.json()
    assert report.status_code == 200, body
    assert body["traced_seconds"] == 0.2
    assert 0 < len(body["top"]) <= 5
    assert all(":" in site["where"] and site["size_bytes"] > 0 for site in body["top"])
    assert not tracemalloc.is_tracing()  # switched off again after the window


async def test_nodes_on_the_embedded_broker_is_this_node_alone(
    running: tuple[App, httpx.AsyncClient],
) -> None:
    app, client = running
    answer = await client.get("/api/v1/nodes", headers=AUTH)
    assert answer.status_code == 200, answer.text
    (entry,) = answer.json()["nodes"]
    assert entry["node_id"] == app.settings.node_id
    assert entry["state"] == "ready"
    assert entry["url"].endswith(f":{app.port}{app.settings.path}")
    assert entry["admin_url"].endswith(f":{app.admin_port}")
