"""``admin/channels.py`` over real HTTP: channels, their presence (and the stats they feed)."""

from __future__ import annotations

from typing import Any

import httpx

from switchboard import App

from .conftest import AUTH, assert_error, connect, request


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


async def publish(client: httpx.AsyncClient, channel: str, n: int) -> dict[str, Any]:
    response = await client.post(
        f"/api/v1/channels/{channel}/publish", headers=AUTH, json={"data": n}
    )
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


async def pages(client: httpx.AsyncClient, url: str, **params: Any) -> list[list[int]]:
    """Every page's offsets, following ``next_since``."""
    found = []
    while True:
        answer = (await client.get(url, headers=AUTH, params=params)).json()
        found.append([p["offset"] for p in answer["publications"]])
        assert [p["data"] for p in answer["publications"]] == found[-1]
        if answer["next_since"] is None:
            return found
        params = {**params, "since": answer["next_since"], "epoch": answer["epoch"]}


async def test_history_pages_forward_and_back_with_since(
    running: tuple[App, httpx.AsyncClient],
) -> None:
    _, client = running
    for n in range(1, 13):  # the channel keeps 10: offsets 3-12
        epoch = (await publish(client, "room:h", n))["epoch"]
    url = "/api/v1/channels/room:h/history"
    assert await pages(client, url, since=0, limit=4) == [[3, 4, 5, 6], [7, 8, 9, 10], [11, 12]]
    assert await pages(client, url, reverse="true", limit=4) == [
        [12, 11, 10, 9],
        [8, 7, 6, 5],
        [4, 3],
    ]
    assert await pages(client, url, since=10, epoch=epoch, reverse="true", limit=3) == [
        [9, 8, 7],
        [6, 5, 4],
        [3],
    ]
    newest = (await client.get(url, headers=AUTH, params={"limit": 2})).json()
    assert [p["offset"] for p in newest["publications"]] == [11, 12]
    assert newest["next_since"] is None and newest["offset"] == 12
    exact = (await client.get(url, headers=AUTH, params={"since": 8, "limit": 4})).json()
    assert [p["offset"] for p in exact["publications"]] == [9, 10, 11, 12]
    assert exact["next_since"] is None  # nothing after 12: no empty last page


async def test_history_of_another_epoch_is_a_conflict(
    running: tuple[App, httpx.AsyncClient],
) -> None:
    _, client = running
    epoch = (await publish(client, "room:e", 1))["epoch"]
    url = "/api/v1/channels/room:e/history"
    same = await client.get(url, headers=AUTH, params={"since": 0, "epoch": epoch})
    assert [p["offset"] for p in same.json()["publications"]] == [1]
    stale = await client.get(url, headers=AUTH, params={"since": 0, "epoch": "gone-epoch"})
    assert_error(stale, 409, "EPOCH_MISMATCH")
    assert epoch in stale.json()["error"]["message"]
    negative = await client.get(url, headers=AUTH, params={"since": -1})
    assert_error(negative, 422, "INVALID_REQUEST")
