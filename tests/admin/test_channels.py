"""``admin/channels.py`` over real HTTP: channels, their presence (and the stats they feed)."""

from __future__ import annotations

import httpx

from switchboard import App

from .conftest import AUTH, connect, request


async def test_channels_presence_and_stats(running: tuple[App, httpx.AsyncClient]) -> None:
    app, client = running
    a, a_id = await connect(app)
    b, b_id = await connect(app)
    for ws in (a, b):
        await request(ws, {"type": "subscribe", "channel": "room:big", "id": "s"})
    await request(a, {"type": "subscribe", "channel": "room:small", "id": "s"})
    channels = (await client.get("/api/v1/channels", headers=AUTH)).json()
    assert channels["items"] == [
        {"channel": "room:big", "subscribers": 2},
        {"channel": "room:small", "subscribers": 1},
    ]
    page = (await client.get("/api/v1/channels?limit=1&prefix=room:", headers=AUTH)).json()
    assert page["next_cursor"] == "room:big"
    presence = (await client.get("/api/v1/channels/room:big/presence", headers=AUTH)).json()
    assert sorted(m["connection"] for m in presence["members"]) == sorted([a_id, b_id])
    await request(a, {"type": "nonsense"})
    stats = (await client.get("/api/v1/stats", headers=AUTH)).json()
    assert stats["connections"] == 2
    assert stats["subscriptions"] == 3
    assert stats["errors"] == {"UNKNOWN_MESSAGE_TYPE": 1}
    assert stats["busiest_channels"][0] == {"channel": "room:big", "subscribers": 2}
    assert stats["version"] == app.version
    await a.close()
    await b.close()
