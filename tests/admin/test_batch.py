"""``admin/batch.py`` over real HTTP: several commands in one request, each answered alone."""

from __future__ import annotations

import httpx

from switchboard import App

from ..conftest import recv_json
from .conftest import AUTH, assert_error, connect, request


async def test_a_batch_answers_each_command_in_order_and_one_failure_spares_the_others(
    running: tuple[App, httpx.AsyncClient],
) -> None:
    app, client = running
    ws, conn_id = await connect(app)
    commands = [
        {"method": "subscribe_connection", "params": {"connection": conn_id, "channel": "r:1"}},
        {"method": "publish", "params": {"channel": "r:1", "data": {"n": 1}}},
        {"method": "send_to_connection", "params": {"connection": "c-gone", "data": 1}},
        {"method": "publish", "params": {"channel": "bad channel", "data": 2}},
        {"method": "publish_many", "params": {"channels": ["r:1", "r:2"], "data": {"n": 2}}},
        {"method": "send_to_connection", "params": {"connection": conn_id, "data": "direct"}},
    ]
    answer = await client.post("/api/v1/batch", headers=AUTH, json={"commands": commands})
    assert answer.status_code == 200, answer.text
    results = answer.json()["results"]
    assert len(results) == len(commands)
    assert results[0] == {"result": {"channel": "r:1", "connections": 1}, "error": None}
    assert results[1]["result"]["offset"] == 1
    assert results[2]["result"] is None
    assert results[2]["error"]["status"] == 410 and results[2]["error"]["code"] == "GONE"
    assert results[3]["error"]["status"] == 422
    assert "params.channel" in results[3]["error"]["message"]
    many = results[4]["result"]["results"]
    assert [(r["channel"], r["offset"]) for r in many] == [("r:1", 2), ("r:2", 1)]
    assert results[5]["result"] == {"delivered": 1}
    # The client saw them in the order of the commands.
    assert (await recv_json(ws))["type"] == "subscribed"
    assert (await recv_json(ws))["data"] == {"n": 1}
    assert (await recv_json(ws))["data"] == {"n": 2}
    assert (await recv_json(ws))["data"] == "direct"
    await ws.close()


async def test_a_parallel_batch_runs_every_command(running: tuple[App, httpx.AsyncClient]) -> None:
    app, client = running
    ws, _ = await connect(app)
    await request(ws, {"type": "subscribe", "channel": "r:p", "id": "s"})
    commands = [{"method": "publish", "params": {"channel": "r:p", "data": n}} for n in range(5)]
    answer = await client.post(
        "/api/v1/batch", headers=AUTH, json={"commands": commands, "parallel": True}
    )
    offsets = [r["result"]["offset"] for r in answer.json()["results"]]
    assert sorted(offsets) == [1, 2, 3, 4, 5]
    got = [(await recv_json(ws))["data"] for _ in range(5)]
    assert sorted(got) == [0, 1, 2, 3, 4]
    await ws.close()


async def test_a_malformed_or_oversized_batch_is_refused_whole(
    running: tuple[App, httpx.AsyncClient],
) -> None:
    _, client = running
    for body in (
        {"commands": []},
        {"commands": [{"method": "drop_database", "params": {}}]},
        {"commands": [{"method": "publish", "params": {"channel": "a", "data": 1}}] * 101},
        {"commands": [{"method": "publish", "params": []}]},
        {"commands": [], "parallel": "yes"},
    ):
        assert_error(
            await client.post("/api/v1/batch", headers=AUTH, json=body), 422, "INVALID_REQUEST"
        )


async def test_batch_methods_are_the_operations_they_run(
    running: tuple[App, httpx.AsyncClient],
) -> None:
    _, client = running
    spec = (await client.get("/openapi.json")).json()
    ids = {op["operationId"] for methods in spec["paths"].values() for op in methods.values()}
    methods = spec["components"]["schemas"]["Command"]["properties"]["method"]["enum"]
    camel = {m.split("_")[0] + "".join(w.capitalize() for w in m.split("_")[1:]) for m in methods}
    assert len(methods) == 10 and camel <= ids
