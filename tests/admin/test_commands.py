"""``admin/commands.py`` through its endpoints: publishing to several channels in one call,
and the shape of the errors each command answers."""

from __future__ import annotations

import httpx

from switchboard import App

from ..conftest import recv_json
from .conftest import AUTH, assert_error, connect, request


async def test_publish_to_several_channels_answers_each_offset_and_epoch(
    running: tuple[App, httpx.AsyncClient],
) -> None:
    app, client = running
    ws, _ = await connect(app)
    for channel in ("room:a", "room:b"):
        await request(ws, {"type": "subscribe", "channel": channel, "id": channel})
    await client.post("/api/v1/channels/room:b/publish", headers=AUTH, json={"data": 0})
    await recv_json(ws)
    answer = await client.post(
        "/api/v1/publish", headers=AUTH, json={"channels": ["room:a", "room:b"], "data": "x"}
    )
    assert answer.status_code == 200, answer.text
    results = answer.json()["results"]
    assert [(r["channel"], r["offset"], r["error"]) for r in results] == [
        ("room:a", 1, None),
        ("room:b", 2, None),
    ]
    for r in results:
        history = await client.get(f"/api/v1/channels/{r['channel']}/history", headers=AUTH)
        assert history.json()["epoch"] == r["epoch"]
    got = {(m["channel"], m["data"]) for m in [await recv_json(ws), await recv_json(ws)]}
    assert got == {("room:a", "x"), ("room:b", "x")}
    await ws.close()


async def test_publish_to_several_channels_is_bounded_and_validated(
    running: tuple[App, httpx.AsyncClient],
) -> None:
    app, client = running
    too_many = {"channels": [f"c{i}" for i in range(101)], "data": 1}
    assert_error(
        await client.post("/api/v1/publish", headers=AUTH, json=too_many), 422, "INVALID_REQUEST"
    )
    for body in ({"channels": [], "data": 1}, {"channels": ["ok", "not ok"], "data": 1}):
        assert_error(
            await client.post("/api/v1/publish", headers=AUTH, json=body), 422, "INVALID_REQUEST"
        )
    huge = {"channels": ["a"], "data": "x" * (app.settings.max_message_size + 1)}
    assert_error(
        await client.post("/api/v1/publish", headers=AUTH, json=huge), 413, "MESSAGE_TOO_LARGE"
    )
    nothing = await client.get("/api/v1/channels/ok/history", headers=AUTH)
    assert nothing.json()["offset"] == 0  # a refused request published to no channel
