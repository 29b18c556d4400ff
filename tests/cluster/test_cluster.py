"""Two or three `switchboard serve --broker redis://...` nodes on one real redis-server, with
real WebSocket clients: what reaches whom across nodes, exactly once, and what a client gets
back when it resumes on another node."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import websockets
from websockets.asyncio.client import ClientConnection

from ..conftest import ServerProcess, timeout
from ..security.keys import SECRET, token
from .conftest import API_KEY, StartNode

AUTH = ("--jwt-secret", SECRET)


async def connect(node: ServerProcess, user: str | None = None) -> tuple[ClientConnection, str]:
    """A client on ``node`` (as ``user``, with a token); returns it and its connection id."""
    url = node.url() if user is None else f"{node.url()}?token={token(user)}"
    ws = await websockets.connect(url)
    welcome = json.loads(await asyncio.wait_for(ws.recv(), timeout(5)))
    assert welcome["type"] == "welcome"
    return ws, welcome["connection_id"]


async def request(
    ws: ClientConnection,
    skipped: list[dict[str, Any]] | None = None,
    within: float = 5.0,
    **message: Any,
) -> dict[str, Any]:
    """Send ``message`` and return the answer to its id; other frames go to ``skipped``."""
    await ws.send(json.dumps(message))
    while True:
        frame = json.loads(await asyncio.wait_for(ws.recv(), timeout(within)))
        if frame.get("id") == message.get("id"):
            return dict(frame)
        if skipped is not None:
            skipped.append(frame)


async def publish_all(ws: ClientConnection, channel: str, values: range) -> None:
    """Publish each of ``values`` to ``channel`` in turn; each must be acknowledged."""
    for n in values:
        answer = await request(ws, type="publish", channel=channel, data=n, id=n)
        assert answer["type"] == "ack", answer


async def frames(ws: ClientConnection, count: int, kind: str) -> list[dict[str, Any]]:
    """The next ``count`` frames of type ``kind`` (others skipped)."""
    got: list[dict[str, Any]] = []
    while len(got) < count:
        frame = json.loads(await asyncio.wait_for(ws.recv(), timeout(5)))
        if frame["type"] == kind:
            got.append(frame)
    return got


async def nothing_more(ws: ClientConnection, kind: str, within: float = 0.3) -> bool:
    """Whether no frame of type ``kind`` arrives for ``within`` seconds."""
    try:
        while True:
            frame = json.loads(await asyncio.wait_for(ws.recv(), timeout(within)))
            if frame["type"] == kind:
                return False
    except TimeoutError:
        return True


async def test_a_broadcast_reaches_every_client_on_every_node_exactly_once(
    start_node: StartNode,
) -> None:
    a, b = start_node(), start_node()
    clients = [(await connect(node))[0] for node in (a, b, b)]
    try:
        early: list[dict[str, Any]] = []  # the sender's own copy may come before the ack
        ack = await request(clients[0], early, type="broadcast", data={"n": 1}, id="1")
        assert ack["type"] == "ack"
        for ws in clients:
            got = early if ws is clients[0] and early else await frames(ws, 1, "broadcast")
            assert [f["data"] for f in got] == [{"n": 1}]
        for ws in clients:
            assert await nothing_more(ws, "broadcast")
    finally:
        for ws in clients:
            await ws.close()


async def test_a_client_resumes_on_another_node_with_the_100_it_missed(
    start_node: StartNode,
) -> None:
    a, b = start_node(), start_node()
    publisher, _ = await connect(a)
    subscriber, _ = await connect(b)
    ack = await request(subscriber, type="subscribe", channel="room:1", id="s")
    assert ack["type"] == "ack"
    await request(publisher, type="publish", channel="room:1", data=0, id="p0")
    seen = (await frames(subscriber, 1, "message"))[0]
    assert seen["data"] == 0
    await subscriber.close()  # offline while 100 are published on the other node
    await publish_all(publisher, "room:1", range(1, 101))
    back, _ = await connect(a)  # it comes back on node a
    since = {"offset": seen["offset"], "epoch": ack["epoch"]}
    resumed = await request(back, type="subscribe", channel="room:1", id="r", recover_from=since)
    assert resumed["recovered"] is True
    missed = await frames(back, 100, "message")
    assert [m["data"] for m in missed] == list(range(1, 101))
    assert await nothing_more(back, "message")
    for ws in (publisher, back):
        await ws.close()


async def test_send_reaches_a_user_on_two_nodes_and_an_unknown_user_is_not_found(
    start_node: StartNode,
) -> None:
    a, b = start_node(*AUTH), start_node(*AUTH)
    ann_a, _ = await connect(a, "ann")
    ann_b, _ = await connect(b, "ann")
    bob, _ = await connect(b, "bob")
    try:
        sent = await request(bob, type="send", to={"user": "ann"}, data="hi", id="1")
        assert sent["type"] == "ack"
        for ws in (ann_a, ann_b):
            (direct,) = await frames(ws, 1, "direct")
            assert direct["data"] == "hi" and direct["from"]["user"] == "bob"
        missing = await request(bob, type="send", to={"user": "cy"}, data="hi", id="2")
        assert missing["type"] == "error" and missing["code"] == "NOT_FOUND"
    finally:
        for ws in (ann_a, ann_b, bob):
            await ws.close()


async def test_the_management_api_of_one_node_closes_a_connection_on_another(
    start_node: StartNode,
) -> None:
    a, b = start_node(), start_node()
    ws, conn_id = await connect(b)
    url = f"http://127.0.0.1:{a.admin_port}/api/v1/connections/{conn_id}"  # type: ignore[attr-defined]
    headers = {"X-API-Key": API_KEY}
    async with httpx.AsyncClient(timeout=timeout(5)) as http:
        sent = await http.post(url, json={"note": 1}, headers=headers)
        assert sent.status_code == 200, sent.text
        (direct,) = await frames(ws, 1, "direct")
        assert direct["data"] == {"note": 1}
        closed = await http.delete(url, params={"code": 4000, "reason": "bye"}, headers=headers)
        assert closed.status_code == 200, closed.text
        await asyncio.wait_for(ws.wait_closed(), timeout(5))
        assert ws.close_code == 4000
        again = await http.delete(url, headers=headers)
        assert again.status_code == 410
