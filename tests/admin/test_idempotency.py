"""``admin/idempotency.py`` over real HTTP: a publish retried with its idempotency key is
answered, not published again (across nodes: ``tests/cluster/test_management.py``)."""

from __future__ import annotations

import asyncio

import httpx

from switchboard import App
from switchboard.broker.memory import MemoryBroker
from switchboard.errors import BrokerUnavailable

from ..conftest import StartServer, recv_json, timeout
from .conftest import AUTH, KEY, admin, assert_error, connect, request

URL = "/api/v1/channels/room:1/publish"


async def test_a_retry_with_the_key_answers_the_first_publication(
    running: tuple[App, httpx.AsyncClient],
) -> None:
    app, client = running
    ws, _ = await connect(app)
    await request(ws, {"type": "subscribe", "channel": "room:1", "id": "s"})
    key = {**AUTH, "Idempotency-Key": "order-17"}
    first = await client.post(URL, headers=key, json={"data": "paid"})
    assert first.status_code == 200 and "Idempotent-Replayed" not in first.headers
    again = await client.post(URL, headers=key, json={"data": "paid"})
    assert again.status_code == 200
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    in_body = await client.post(
        URL, headers=AUTH, json={"data": "paid", "idempotency_key": "order-17"}
    )
    assert in_body.json() == first.json()
    other = await client.post(URL, headers=AUTH, json={"data": "other"})
    assert other.json()["offset"] == first.json()["offset"] + 1
    assert (await recv_json(ws))["data"] == "paid"  # once
    assert (await recv_json(ws))["data"] == "other"
    history = (await client.get("/api/v1/channels/room:1/history", headers=AUTH)).json()
    assert [p["data"] for p in history["publications"]] == ["paid", "other"]
    await ws.close()


async def test_a_key_reused_for_another_request_is_refused(
    running: tuple[App, httpx.AsyncClient],
) -> None:
    _, client = running
    key = {**AUTH, "Idempotency-Key": "k-1"}
    assert (await client.post(URL, headers=key, json={"data": 1})).status_code == 200
    other_data = await client.post(URL, headers=key, json={"data": 2})
    assert_error(other_data, 422, "IDEMPOTENCY_KEY_REUSED")
    other_channel = await client.post(
        "/api/v1/channels/room:2/publish", headers=key, json={"data": 1}
    )
    assert_error(other_channel, 422, "IDEMPOTENCY_KEY_REUSED")
    bad_key = await client.post(
        URL, headers={**AUTH, "Idempotency-Key": "has space"}, json={"data": 1}
    )
    assert_error(bad_key, 422, "INVALID_REQUEST")


async def test_several_channels_with_a_key_publish_once(
    running: tuple[App, httpx.AsyncClient],
) -> None:
    _, client = running
    body = {"channels": ["a", "b"], "data": 1, "idempotency_key": "many-1"}
    first = await client.post("/api/v1/publish", headers=AUTH, json=body)
    again = await client.post("/api/v1/publish", headers=AUTH, json=body)
    assert again.json() == first.json() and again.headers["Idempotent-Replayed"] == "true"
    for channel in ("a", "b"):
        history = await client.get(f"/api/v1/channels/{channel}/history", headers=AUTH)
        assert history.json()["offset"] == 1


class SlowBroker(MemoryBroker):
    """Publishes when ``release`` is set, so a request can be caught while it runs."""

    def __init__(self) -> None:
        super().__init__()
        self.publishing = asyncio.Event()
        self.release = asyncio.Event()
        self.failing = False

    async def publish(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        self.publishing.set()
        await self.release.wait()
        if self.failing:
            raise BrokerUnavailable("the broker went away")
        return await super().publish(*args, **kwargs)


async def test_a_retry_while_the_first_runs_is_a_conflict_and_a_failure_frees_the_key(
    start_server: StartServer,
) -> None:
    app = App()
    broker = SlowBroker()
    app.broker = broker
    app = await start_server(app, api_key=KEY)
    key = {**AUTH, "Idempotency-Key": "slow-1"}
    async with admin(app) as client:
        first = asyncio.create_task(client.post(URL, headers=key, json={"data": 1}))
        await asyncio.wait_for(broker.publishing.wait(), timeout(5))  # the key is claimed
        busy = await client.post(URL, headers=key, json={"data": 1})
        assert_error(busy, 409, "CONFLICT")
        broker.failing = True
        broker.release.set()
        assert_error(await first, 503, "UNAVAILABLE")
        broker.failing = False
        retried = await client.post(URL, headers=key, json={"data": 1})
        assert retried.status_code == 200 and "Idempotent-Replayed" not in retried.headers
        assert retried.json()["offset"] == 1
