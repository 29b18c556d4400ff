"""The management API across two ``switchboard serve --broker redis://...`` nodes: actions on
a user reach its connections on every node, and an idempotency key holds cluster-wide."""

from __future__ import annotations

import asyncio

import httpx

from ..conftest import ServerProcess, timeout
from .conftest import API_KEY, StartNode
from .test_cluster import AUTH, connect, frames

HEADERS = {"X-API-Key": API_KEY}


def api(node: ServerProcess) -> str:
    return f"http://127.0.0.1:{node.admin_port}/api/v1"  # type: ignore[attr-defined]


async def test_subscribe_unsubscribe_and_disconnect_a_user_on_every_node(
    start_node: StartNode,
) -> None:
    a, b = start_node(*AUTH), start_node(*AUTH)
    ann_a, _ = await connect(a, "ann")
    ann_b, _ = await connect(b, "ann")
    bob, _ = await connect(b, "bob")
    try:
        async with httpx.AsyncClient(timeout=timeout(5), headers=HEADERS) as http:
            joined = await http.post(f"{api(a)}/users/ann/subscribe", json={"channel": "room:1"})
            assert joined.json() == {"channel": "room:1", "connections": 2}, joined.text
            for ws in (ann_a, ann_b):
                await frames(ws, 1, "subscribed")
            published = await http.post(f"{api(b)}/channels/room:1/publish", json={"data": 7})
            assert published.status_code == 200
            for ws in (ann_a, ann_b):
                (message,) = await frames(ws, 1, "message")
                assert message["data"] == 7

            left = await http.post(f"{api(b)}/users/ann/unsubscribe", json={"channel": "room:1"})
            assert left.json() == {"channel": "room:1", "connections": 2}
            for ws in (ann_a, ann_b):
                await frames(ws, 1, "unsubscribed")

            closed = await http.delete(
                f"{api(a)}/users/ann/connections", params={"code": 4002, "reason": "moved"}
            )
            assert closed.json() == {"disconnected": 2, "code": 4002}, closed.text
            for ws in (ann_a, ann_b):
                await asyncio.wait_for(ws.wait_closed(), timeout(5))
                assert (ws.close_code, ws.close_reason) == (4002, "moved")
            still = await http.post(f"{api(a)}/users/bob/send", json={"data": "still here"})
            assert still.json() == {"delivered": 1}
            (direct,) = await frames(bob, 1, "direct")
            assert direct["data"] == "still here"
    finally:
        for ws in (ann_a, ann_b, bob):
            await ws.close()


async def test_an_idempotency_key_answers_the_first_publication_on_any_node(
    start_node: StartNode,
) -> None:
    a, b = start_node(), start_node()
    keyed = {"Idempotency-Key": "payment-42"}
    body = {"data": {"paid": 42}}
    async with httpx.AsyncClient(timeout=timeout(5), headers=HEADERS) as http:
        first = await http.post(f"{api(a)}/channels/room:k/publish", json=body, headers=keyed)
        assert first.status_code == 200, first.text
        again = await http.post(f"{api(b)}/channels/room:k/publish", json=body, headers=keyed)
        assert again.json() == first.json(), again.text
        assert again.headers["Idempotent-Replayed"] == "true"
        after = await http.post(f"{api(b)}/channels/room:k/publish", json={"data": 0})
        assert after.json()["offset"] == first.json()["offset"] + 1  # published once
