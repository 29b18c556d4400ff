"""``switchboard_edge_*`` on the edge's ``/metrics``: what it forwarded and refused."""

from __future__ import annotations

import json

import httpx
import websockets

from ..conftest import recv_json, wait_until, ws_url
from .conftest import StartCentral, StartEdge, edge_url


def sample(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith(f"{name} "):
            return float(line.split()[1])
    raise AssertionError(f"{name} not in /metrics")


async def test_the_edge_exports_what_it_forwarded_and_refused(
    start_central: StartCentral, start_edge: StartEdge
) -> None:
    central = await start_central()
    edge = await start_edge(ws_url(central), edge_buffer=0, edge_upstream_connections=1)
    async with websockets.connect(edge_url(edge)) as ws:
        await recv_json(ws)
        await ws.send(json.dumps({"type": "echo", "id": 1, "data": 1}))
        assert (await recv_json(ws))["type"] == "echo_reply"
        await central.shutdown()
        await wait_until(lambda: not edge.upstream.up())
        await ws.send(json.dumps({"type": "echo", "id": 2, "data": 2}))
        assert (await recv_json(ws))["code"] == "UNAVAILABLE"
    async with httpx.AsyncClient() as http:
        text = (await http.get(f"http://127.0.0.1:{edge.app.admin_port}/metrics")).text
    assert sample(text, "switchboard_edge_forwarded_total") == 2
    assert sample(text, "switchboard_edge_unavailable_total") == 1
    assert sample(text, "switchboard_edge_upstream_up") == 0
    assert sample(text, 'switchboard_errors_total{code="UNAVAILABLE"}') == 1
