"""The once-a-second monitor: warnings, loop lag, rates and channels (its quantiles are
``core/stats.py``'s, its throttle ``observability/throttle.py``: tested beside them)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import MutableMapping, Sequence
from pathlib import Path
from typing import Any

import websockets
from structlog.testing import capture_logs

from ..conftest import StartServer, recv_json, timeout, wait_until, ws_url

# --- warnings of a running server -------------------------------------------------------------


def events(logs: Sequence[MutableMapping[str, Any]], name: str) -> list[MutableMapping[str, Any]]:
    return [entry for entry in logs if entry["event"] == name]


async def test_memory_warning_is_logged_once_per_interval(start_server: StartServer) -> None:
    with capture_logs() as logs:
        app = await start_server(warn_memory_percent=0.0001, warn_interval=60)
        monitor = app.monitor
        assert monitor is not None
        monitor.sample()
        monitor.sample()
    (warning,) = events(logs, "memory_high")
    assert warning["log_level"] == "warning"
    assert warning["suppressed_since_last"] == 0
    assert warning["memory_bytes"] > 0
    assert warning["limit_bytes"] == monitor.memory_limit > 0
    assert warning["threshold_percent"] == 0.0001
    assert warning["percent"] >= 0.0001


async def test_no_memory_warning_under_the_default_threshold(start_server: StartServer) -> None:
    with capture_logs() as logs:
        app = await start_server()
        assert app.monitor is not None
        app.monitor.sample()
    assert events(logs, "memory_high") == []


async def test_a_blocked_event_loop_is_reported(start_server: StartServer) -> None:
    with capture_logs() as logs:
        app = await start_server(warn_loop_lag=0.05)
        monitor = app.monitor
        assert monitor is not None
        assert events(logs, "event_loop_lag") == []
        deadline = time.monotonic() + timeout(3)
        # Block in 0.3 s stretches, yielding briefly in between, so the monitor's 1 s timer
        # comes due while the loop is blocked and fires late.
        while not events(logs, "event_loop_lag") and time.monotonic() < deadline:
            time.sleep(0.3)  # noqa: ASYNC251 - blocking the loop is the point
            await asyncio.sleep(0.01)  # a gap for the late timer to run in, not a wait
        lag = monitor.loop_lag
    (warning,) = events(logs, "event_loop_lag")
    assert lag >= 0.05
    assert warning["lag_ms"] >= 50
    assert warning["threshold_ms"] == 50.0


async def test_an_idle_loop_is_not_reported(start_server: StartServer) -> None:
    with capture_logs() as logs:
        app = await start_server(warn_loop_lag=timeout(0.2))
        assert app.monitor is not None
        await app.monitor.next_sample()
        await app.monitor.next_sample()
    assert events(logs, "event_loop_lag") == []
    assert app.monitor.loop_lag < timeout(0.2)


# --- rates, gauges and channels -------------------------------------------------------------


async def test_sample_counts_the_traffic_since_the_previous_one(start_server: StartServer) -> None:
    app = await start_server()
    monitor = app.monitor
    assert monitor is not None
    await monitor.stop()  # only this test's samples, no background ones in between
    async with websockets.connect(ws_url(app)) as ws:
        await recv_json(ws)
        n = 50
        started = time.monotonic()
        idle = monitor.sample()
        for i in range(n):
            await ws.send(json.dumps({"type": "echo", "data": i}))
        for i in range(n):
            assert (await recv_json(ws))["data"] == i
        node = app.node
        assert node is not None
        # Bytes in are added up when a 100 ms sampling window ends.
        await wait_until(lambda: node.bytes_in() > 0)
        busy = monitor.sample()
        elapsed = time.monotonic() - started
        quiet = monitor.sample()

    assert idle["messages_in_per_s"] == 0
    assert idle["p50_ms"] is None and idle["p99_ms"] is None
    # At least n messages over at most the time measured around both samples.
    assert busy["messages_in_per_s"] >= n / elapsed * 0.99
    assert busy["messages_out_per_s"] > 0
    assert busy["bytes_in_per_s"] > 0
    assert busy["bytes_out_per_s"] > 0
    assert busy["p50_ms"] is not None and busy["p99_ms"] is not None
    assert 0 < busy["p50_ms"] <= busy["p99_ms"]
    assert quiet["messages_in_per_s"] == 0  # a rate of the window, not of all time
    assert quiet["p50_ms"] is None
    assert list(monitor.samples)[-3:] == [idle, busy, quiet]


async def test_sample_reports_open_connections_and_busiest_channels(
    start_server: StartServer,
) -> None:
    app = await start_server()
    monitor = app.monitor
    assert monitor is not None
    await monitor.stop()  # only this test's samples, no background ones in between
    assert monitor.sample()["connections"] == 0
    assert monitor.sample()["channels"] == []
    clients = [await websockets.connect(ws_url(app)) for _ in range(3)]
    try:
        for ws in clients:
            await recv_json(ws)
        for ws, channels in zip(
            clients, [["room:b"], ["room:a", "room:b"], ["room:b"]], strict=True
        ):
            for channel in channels:
                await ws.send(json.dumps({"type": "subscribe", "channel": channel, "id": "s"}))
                assert (await recv_json(ws))["type"] == "ack"
        sample = monitor.sample()
        assert sample["connections"] == 3
        assert sample["opened_per_s"] > 0
        assert sample["channels"] == [
            {"channel": "room:b", "subscribers": 3},
            {"channel": "room:a", "subscribers": 1},
        ]
        assert monitor.busiest_channels(1) == [{"channel": "room:b", "subscribers": 3}]

        await clients[1].close()
        await wait_until(lambda: app.node is not None and len(app.node.registry) == 2)
        sample = monitor.sample()
        assert sample["connections"] == 2
        assert sample["closed_per_s"] > 0
        assert sample["channels"] == [{"channel": "room:b", "subscribers": 2}]
    finally:
        for ws in clients:
            await ws.close()


async def test_sample_counts_refusals_by_code_as_totals_and_rates(
    start_server: StartServer,
) -> None:
    app = await start_server(max_connections=1)
    monitor = app.monitor
    assert monitor is not None
    await monitor.stop()  # only this test's samples, no background ones in between
    idle = monitor.sample()
    async with websockets.connect(ws_url(app)) as ws:
        await recv_json(ws)
        for _ in range(2):
            await ws.send("{not json")
            assert (await recv_json(ws))["code"] == "INVALID_JSON"
        await ws.send(json.dumps({"type": "no-such-type"}))
        assert (await recv_json(ws))["code"] == "UNKNOWN_MESSAGE_TYPE"
        # The node holds one connection at most: a second upgrade is refused.
        with contextlib.suppress(websockets.InvalidStatus):
            async with websockets.connect(ws_url(app)):
                raise AssertionError("a second connection was accepted")
        busy = monitor.sample()
        quiet = monitor.sample()

    assert idle["errors"] == {} and idle["errors_per_s"] == 0
    assert idle["handshake_rejected"] == {} and idle["rate_limited"] == {}
    errors = busy["errors"]
    assert list(errors) == ["INVALID_JSON", "UNKNOWN_MESSAGE_TYPE"]
    assert errors["INVALID_JSON"]["total"] == 2 and errors["INVALID_JSON"]["per_s"] > 0
    assert errors["UNKNOWN_MESSAGE_TYPE"]["total"] == 1
    assert busy["errors_per_s"] == round(sum(e["per_s"] for e in errors.values()), 3) > 0
    assert busy["handshake_rejected"]["max_connections"]["total"] == 1
    assert busy["handshake_rejected_per_s"] > 0
    assert busy["rate_limited_per_s"] == 0
    # The next second: the totals stay, the rates fall back to zero.
    assert quiet["errors"]["INVALID_JSON"] == {"total": 2, "per_s": 0.0}
    assert quiet["errors_per_s"] == 0 and quiet["handshake_rejected_per_s"] == 0


DASHBOARD_DOC = Path(__file__).resolve().parents[2] / "docs" / "dashboard.md"


async def test_every_field_of_a_sample_is_in_the_dashboard_doc(start_server: StartServer) -> None:
    app = await start_server()
    assert app.monitor is not None
    doc = DASHBOARD_DOC.read_text()
    missing = [key for key in app.monitor.sample() if f"`{key}`" not in doc]
    assert missing == [], f"sample fields not in docs/dashboard.md: {missing}"
