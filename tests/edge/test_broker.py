"""The edge's broker: one upstream subscription per channel however many local clients
follow it, publications of the central fanned out on the edge, publish and broadcast
through the central, and a local resume answered from what the edge kept."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
import websockets

from switchboard.client import Client
from switchboard.errors import ErrorReply

from ..conftest import recv_json, wait_until, ws_url
from .conftest import API_KEY, StartCentral, StartEdge, edge_url


async def central_channels(admin_port: int) -> dict[str, int]:
    """What the central's management API lists: channel -> subscribers on it."""
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{admin_port}") as http:
        answer = await http.get("/api/v1/channels", headers={"X-API-Key": API_KEY})
    answer.raise_for_status()
    return {item["channel"]: item["subscribers"] for item in answer.json()["items"]}


async def test_a_hundred_local_subscribers_are_one_subscriber_at_the_central(
    start_central: StartCentral, start_edge: StartEdge
) -> None:
    central = await start_central()
    edge = await start_edge(ws_url(central))
    received: list[list[dict[str, Any]]] = [[] for _ in range(100)]
    clients = [Client(edge_url(edge), reconnect=False) for _ in range(100)]
    try:
        await asyncio.gather(*(client.connect() for client in clients))
        await asyncio.gather(
            *(
                client.subscribe("room:1", on_message=received[n].append)
                for n, client in enumerate(clients)
            )
        )
        assert await central_channels(central.admin_port) == {"room:1": 1}
        offset = await central.publish("room:1", {"text": "to everyone"})
        await wait_until(lambda: all(len(got) == 1 for got in received))
    finally:
        await asyncio.gather(*(client.close() for client in clients))
    assert {json.dumps(got[0], sort_keys=True) for got in received} == {
        json.dumps(
            {
                "type": "message",
                "channel": "room:1",
                "offset": offset,
                "data": {"text": "to everyone"},
            },
            sort_keys=True,
        )
    }
    # The last local subscriber gone, the edge leaves the channel upstream too.
    await wait_until(lambda: not edge.broker._followed)
    await wait_until(lambda: not central.node.channels.subscribers.get("room:1"))  # type: ignore[union-attr]


async def test_a_publish_on_the_edge_gets_the_centrals_offset_and_reaches_its_subscribers(
    start_central: StartCentral, start_edge: StartEdge
) -> None:
    central = await start_central()
    edge = await start_edge(ws_url(central))
    got: list[dict[str, Any]] = []
    async with Client(ws_url(central)) as at_central, Client(edge_url(edge)) as at_edge:
        await at_central.subscribe("news", on_message=got.append)
        first = await at_edge.publish("news", {"n": 1})
        second = await at_edge.publish("news", {"n": 2})
        await wait_until(lambda: len(got) == 2)
    assert (first["offset"], second["offset"]) == (1, 2)
    assert first["epoch"] == second["epoch"] != ""
    assert [m["data"] for m in got] == [{"n": 1}, {"n": 2}]


async def test_a_broadcast_from_the_edge_reaches_everyone_once(
    start_central: StartCentral, start_edge: StartEdge
) -> None:
    central = await start_central()
    edge = await start_edge(ws_url(central), edge_upstream_connections=3)
    at_central: list[Any] = []
    at_edge: list[Any] = []
    async with (
        Client(ws_url(central)) as c1,
        Client(edge_url(edge)) as c2,
        Client(edge_url(edge)) as c3,
    ):
        c1.on("broadcast", lambda f: at_central.append(f["data"]))
        c2.on("broadcast", lambda f: at_edge.append(f["data"]))
        c3.on("broadcast", lambda f: at_edge.append(f["data"]))
        await c2.broadcast({"hello": "all"})
        await wait_until(lambda: len(at_central) == 1 and len(at_edge) == 2)
        await c1.echo("a round trip: anything more would have come by now")
        await c2.echo("and here")
    assert at_central == [{"hello": "all"}]
    assert at_edge == [{"hello": "all"}, {"hello": "all"}]  # one each, not one per upstream


async def test_a_local_resume_is_answered_from_what_the_edge_kept(
    start_central: StartCentral, start_edge: StartEdge
) -> None:
    central = await start_central(channel_defaults={"history_size": 0})  # the central keeps none
    edge = await start_edge(ws_url(central))
    got: list[dict[str, Any]] = []
    async with Client(edge_url(edge)) as follower:
        await follower.subscribe("feed", on_message=got.append)
        for n in range(1, 6):
            await central.publish("feed", n)
        await wait_until(lambda: len(got) == 5)
        epoch = follower._subscriptions["feed"].epoch
        async with websockets.connect(edge_url(edge)) as late:
            await recv_json(late)
            since = {"offset": 2, "epoch": epoch}
            await late.send(
                json.dumps({"type": "subscribe", "channel": "feed", "id": 1, "recover_from": since})
            )
            ack = await recv_json(late)
            replayed = [await recv_json(late) for _ in range(3)]
    assert ack["recovered"] is True and ack["offset"] == 5
    assert [(m["offset"], m["data"]) for m in replayed] == [(3, 3), (4, 4), (5, 5)]


async def test_a_resume_from_further_back_than_the_edge_kept_is_read_from_the_central(
    start_central: StartCentral, start_edge: StartEdge
) -> None:
    central = await start_central(channel_defaults={"history_size": 100, "history_ttl": 60})
    edge = await start_edge(ws_url(central), edge_history=0)
    for n in range(1, 5):
        await central.publish("log", n)
    async with websockets.connect(edge_url(edge)) as ws:
        await recv_json(ws)
        position = await edge.broker.position("log")  # (not followed: asks the central)
        assert position.offset == 4
        since = {"offset": 1, "epoch": position.epoch}
        await ws.send(
            json.dumps({"type": "subscribe", "channel": "log", "id": 1, "recover_from": since})
        )
        ack = await recv_json(ws)
        replayed = [await recv_json(ws) for _ in range(3)]
        await central.publish("log", 5)
        live = await recv_json(ws)
    assert ack["recovered"] is True
    assert [(m["offset"], m["data"]) for m in replayed] == [(2, 2), (3, 3), (4, 4)]
    assert (live["offset"], live["data"]) == (5, 5)


async def test_presence_is_the_edges_own_clients(
    start_central: StartCentral, start_edge: StartEdge
) -> None:
    central = await start_central()
    edge = await start_edge(
        ws_url(central), channel_defaults={"presence": True, "history_size": 10, "history_ttl": 60}
    )
    async with Client(edge_url(edge)) as one, Client(edge_url(edge)) as two:
        await one.subscribe("lobby", on_message=lambda _: None)
        await two.subscribe("lobby", on_message=lambda _: None)
        answer = await one.request("presence", channel="lobby")
    members = {m["connection"] for m in answer["members"]}
    assert members == {one.welcome["connection_id"], two.welcome["connection_id"]}


async def test_a_send_reaches_a_client_on_the_edge_or_else_at_the_central(
    start_central: StartCentral, start_edge: StartEdge
) -> None:
    central = await start_central()
    edge = await start_edge(ws_url(central))
    here: list[Any] = []
    there: list[Any] = []
    async with (
        Client(edge_url(edge)) as sender,
        Client(edge_url(edge)) as neighbour,
        Client(ws_url(central)) as far,
    ):
        neighbour.on("direct", lambda f: here.append(f["data"]))
        far.on("direct", lambda f: there.append(f["data"]))
        await sender.send("next door", connection=neighbour.welcome["connection_id"])
        await sender.send("far away", connection=far.welcome["connection_id"])
        await wait_until(lambda: here and there)
        with pytest.raises(ErrorReply) as missing:
            await sender.send("nobody", connection="c-nobody")
    assert (here, there) == (["next door"], ["far away"])
    assert missing.value.code == "NOT_FOUND"
