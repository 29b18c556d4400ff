"""``/metrics`` after known traffic: the counters' exact values, scraped over real HTTP."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import websockets
from prometheus_client.parser import text_string_to_metric_families
from websockets.exceptions import InvalidStatus

from switchboard import App

from ..conftest import StartServer, recv_json, timeout, ws_url


async def scrape(app: App) -> dict[str, float]:
    """Every sample as ``name{label="value",...}`` -> value."""
    async with httpx.AsyncClient(timeout=timeout(5)) as client:
        text = (await client.get(f"http://127.0.0.1:{app.admin_port}/metrics")).text
    samples: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = ",".join(f'{k}="{v}"' for k, v in sorted(sample.labels.items()))
            samples[f"{sample.name}{{{labels}}}" if labels else sample.name] = sample.value
    return samples


async def send(ws: Any, message: dict[str, Any]) -> dict[str, Any]:
    await ws.send(json.dumps(message))
    return await recv_json(ws)


async def wait_for(app: App, name: str, value: float, within: float = 5.0) -> dict[str, float]:
    """Scrape until ``name`` reaches ``value`` (closes are counted when the socket is gone)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout(within)
    while True:
        samples = await scrape(app)
        if samples.get(name) == value:
            return samples
        if loop.time() > deadline:
            raise AssertionError(f"{name} never reached {value}: {samples.get(name)}")
        await asyncio.sleep(0.02)  # the poll interval of this wait on a condition


async def test_counters_after_known_traffic(start_server: StartServer) -> None:
    app = await start_server(allowed_origin=["https://ok.example"], max_message_size=1024)
    before = await scrape(app)
    assert before["switchboard_connections_active"] == 0
    assert before["switchboard_connections_opened_total"] == 0
    refused = websockets.connect(ws_url(app), origin="https://evil.example")  # type: ignore[arg-type]
    try:
        await refused
    except InvalidStatus as exc:
        assert exc.response.status_code == 403
    a = await websockets.connect(ws_url(app), origin="https://ok.example")  # type: ignore[arg-type]
    b = await websockets.connect(ws_url(app), origin="https://ok.example")  # type: ignore[arg-type]
    for ws in (a, b):
        await recv_json(ws)  # welcome
    echo = {"type": "echo", "data": "x" * 10}
    for _ in range(3):
        await send(a, echo)
    await send(a, {"type": "subscribe", "channel": "room:1", "id": "s"})
    await send(b, {"type": "nonsense"})
    await b.send("{not json")
    await recv_json(b)
    await a.send(json.dumps({"type": "broadcast", "data": 1}))
    for ws in (a, b):
        assert (await recv_json(ws))["type"] == "broadcast"
    await b.close(code=4100)
    samples = await wait_for(app, 'switchboard_connections_closed_total{code="4xxx"}', 1)

    assert samples["switchboard_connections_active"] == 1
    assert samples["switchboard_connections_opened_total"] == 2
    assert samples["switchboard_connection_duration_seconds_count"] == 1
    assert samples['switchboard_handshake_rejections_total{reason="origin"}'] == 1
    # Received, by type: 3 echo, 1 subscribe, 1 broadcast from a; 1 unknown, 1 invalid from b.
    assert samples['switchboard_messages_received_total{type="echo"}'] == 3
    assert samples['switchboard_messages_received_total{type="subscribe"}'] == 1
    assert samples['switchboard_messages_received_total{type="broadcast"}'] == 1
    assert samples['switchboard_messages_received_total{type="unknown"}'] == 1
    assert samples['switchboard_messages_received_total{type="invalid"}'] == 1
    assert samples["switchboard_message_processing_seconds_count"] == 7
    assert samples["switchboard_message_size_bytes_count"] == 7
    sizes = [len(json.dumps(echo))] * 3 + [
        len(json.dumps({"type": "subscribe", "channel": "room:1", "id": "s"})),
        len(json.dumps({"type": "nonsense"})),
        len("{not json"),
        len(json.dumps({"type": "broadcast", "data": 1})),
    ]
    assert samples["switchboard_message_size_bytes_sum"] == sum(sizes)
    # Exact at this rate (every message sized); added up at the end of each 100 ms window.
    await wait_for(app, "switchboard_received_bytes_total", sum(sizes))
    assert samples['switchboard_message_size_bytes_bucket{le="64.0"}'] == 7
    # Sent, by type: 2 welcomes, 3 echo replies, 1 ack, 2 errors, a broadcast to both.
    assert samples['switchboard_messages_sent_total{type="welcome"}'] == 2
    assert samples['switchboard_messages_sent_total{type="echo_reply"}'] == 3
    assert samples['switchboard_messages_sent_total{type="ack"}'] == 1
    assert samples['switchboard_messages_sent_total{type="error"}'] == 2
    assert samples['switchboard_messages_sent_total{type="broadcast"}'] == 2
    assert samples["switchboard_sent_frames_total"] == 10
    assert samples['switchboard_errors_total{code="UNKNOWN_MESSAGE_TYPE"}'] == 1
    assert samples['switchboard_errors_total{code="INVALID_JSON"}'] == 1
    assert samples["switchboard_channels_active"] == 1
    assert samples["switchboard_subscriptions_active"] == 1
    assert samples["switchboard_slow_consumers_total"] == 0
    assert samples["switchboard_outbox_backlog_bytes"] == 0
    assert samples["switchboard_broker_publish_seconds_count"] == 0
    info = f'switchboard_info{{node="{app.settings.node_id}",version="{app.version}"}}'
    assert samples[info] == 1
    assert samples["switchboard_process_resident_memory_bytes"] > 0
    await a.close()


async def test_rate_limit_rejections_are_counted_by_scope(start_server: StartServer) -> None:
    app = App()

    @app.route("slow", rate=0.01, burst=1)
    def slow(conn: Any, msg: Any) -> str:
        return "ok"

    app = await start_server(app, message_rate=1000, message_burst=3, flood_strikes=1000)
    async with websockets.connect(ws_url(app)) as ws:
        await recv_json(ws)
        assert (await send(ws, {"type": "slow"}))["type"] == "slow_reply"
        assert (await send(ws, {"type": "slow"}))["code"] == "RATE_LIMIT_EXCEEDED"
        for _ in range(10):
            await ws.send(json.dumps({"type": "ping"}))
        replies = [await recv_json(ws) for _ in range(10)]
    refused = sum(1 for r in replies if r.get("code") == "RATE_LIMIT_EXCEEDED")
    assert refused > 0
    samples = await scrape(app)
    assert samples['switchboard_rate_limited_total{scope="route"}'] == 1
    assert samples['switchboard_rate_limited_total{scope="connection"}'] == refused
    assert samples['switchboard_errors_total{code="RATE_LIMIT_EXCEEDED"}'] == refused + 1


async def test_server_publishes_are_timed_as_broker_publications(
    start_server: StartServer,
) -> None:
    app = await start_server()
    for n in range(4):
        await app.publish("room:1", n)
    samples = await scrape(app)
    assert samples["switchboard_broker_publish_seconds_count"] == 4


async def test_no_metrics_keeps_totals_but_drops_per_message_ones(
    start_server: StartServer,
) -> None:
    app = await start_server(metrics=False)
    async with websockets.connect(ws_url(app)) as ws:
        await recv_json(ws)
        await send(ws, {"type": "echo", "data": 1})
        await send(ws, {"type": "nonsense"})
    samples = await wait_for(app, "switchboard_connections_active", 0)
    assert samples["switchboard_connections_opened_total"] == 1
    assert samples['switchboard_errors_total{code="UNKNOWN_MESSAGE_TYPE"}'] == 1
    assert samples["switchboard_sent_frames_total"] == 3
    assert samples["switchboard_message_processing_seconds_count"] == 0
    assert not any(name.startswith("switchboard_messages_received") for name in samples)


async def test_replacing_the_echo_route_keeps_the_reply_count(start_server: StartServer) -> None:
    app = await start_server()
    async with websockets.connect(ws_url(app)) as ws:
        await recv_json(ws)
        for _ in range(3):
            await send(ws, {"type": "echo", "data": 1})
        before = await scrape(app)
        assert before['switchboard_messages_sent_total{type="echo_reply"}'] == 3

        @app.route("echo")
        def shout(conn: Any, msg: Any) -> str:
            return "ECHO"

        assert (await send(ws, {"type": "echo", "data": 1}))["data"] == "ECHO"
        after = await scrape(app)
    # The built-in echo's three replies stay counted; the new route's reply is a "reply".
    assert after['switchboard_messages_sent_total{type="echo_reply"}'] == 3
    assert after['switchboard_messages_sent_total{type="reply"}'] == 1
    assert after['switchboard_messages_received_total{type="echo"}'] == 4


async def test_an_upgrade_refused_twice_over_is_counted_once(start_server: StartServer) -> None:
    app = await start_server(
        jwt_secret="s" * 32, auth_style="close", unsupported_subprotocol="close"
    )
    ws = await websockets.connect(ws_url(app), subprotocols=["v9.nothing"])  # type: ignore[list-item]
    await ws.wait_closed()
    samples = await scrape(app)
    rejections = {k: v for k, v in samples.items() if "handshake_rejections" in k}
    assert sum(rejections.values()) == 1, rejections
