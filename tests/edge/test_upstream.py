"""The edge's upstream connections: a central that goes away and comes back on its address
costs a subscribed local client nothing (no gap, no reconnect of its own), and an edge the
central refuses does not start."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from switchboard import App, Settings
from switchboard.client import Client
from switchboard.edge_command import EdgeNode
from switchboard.errors import BrokerUnavailable

from ..conftest import RedisProcess, timeout, wait_until, ws_url
from .conftest import StartCentral, StartEdge, edge_url


async def test_a_central_restart_loses_nothing_for_a_local_subscriber(
    redis_server: RedisProcess, start_central: StartCentral, start_edge: StartEdge
) -> None:
    cluster = {"broker": redis_server.url, "broker_prefix": f"t{uuid.uuid4().hex[:8]}:"}
    central = await start_central(**cluster)
    other = await start_central(**cluster, node_id="other")  # publishes meanwhile
    edge = await start_edge(ws_url(central), edge_upstream_connections=2)
    got: list[dict[str, Any]] = []
    async with Client(edge_url(edge)) as local, Client(ws_url(other)) as publisher:
        await local.subscribe("live", on_message=got.append)
        for n in range(1, 4):
            await publisher.publish("live", n)
        await wait_until(lambda: len(got) == 3)

        port = central.port
        await central.shutdown()
        await wait_until(lambda: not edge.upstream.up(), 10)
        for n in range(4, 7):
            await publisher.publish("live", n)
        await start_central(**cluster, port=port)  # back on its address
        await wait_until(edge.upstream.up, 10)
        for n in range(7, 9):
            await publisher.publish("live", n)
        await wait_until(lambda: len(got) >= 8, 10)

        assert local.connections == 1  # the local client never noticed
        echo = await local.echo("still here")  # forwarded over the new upstream connection
    assert echo == "still here"
    assert [(m["offset"], m["data"]) for m in got] == [(n, n) for n in range(1, 9)]
    assert edge.broker.unrecovered == 0


async def test_an_edge_the_central_refuses_does_not_start(
    start_server: Any,
) -> None:
    central: App = await start_server(jwt_secret="s" * 32, allow_anonymous=False)
    settings = Settings(
        host="127.0.0.1",
        port=0,
        admin=False,
        upstream=f"ws://127.0.0.1:{central.port}/ws",
        upstream_token="not-a-valid-token-and-secret-1234",
        edge_timeout=timeout(5),
    )
    edge = EdgeNode(App(settings))
    with pytest.raises(BrokerUnavailable) as refused:
        await edge.start()
    assert "answered 403" in str(refused.value)
    assert "not-a-valid-token" not in str(refused.value)  # a secret never shows


async def test_a_central_that_lost_a_channel_makes_its_local_subscribers_resync(
    start_central: StartCentral, start_edge: StartEdge
) -> None:
    central = await start_central()  # the embedded broker: a restart loses every stream
    edge = await start_edge(ws_url(central), edge_upstream_connections=1)
    got: list[dict[str, Any]] = []
    told: list[dict[str, Any]] = []
    async with Client(edge_url(edge)) as local:
        subscription = await local.subscribe(
            "live", on_message=got.append, on_unrecovered=lambda _, ack: told.append(ack)
        )
        for n in (1, 2):
            await central.publish("live", n)
        await wait_until(lambda: len(got) == 2)
        old_epoch = subscription.epoch
        port = central.port
        await central.shutdown()
        restarted = await start_central(port=port)
        await wait_until(lambda: len(told) == 1, 10)  # resubscribed, and told to resync
        assert local.connections == 2
        assert told[0]["recovered"] is False and told[0]["epoch"] != old_epoch
        await restarted.publish("live", "after")
        await wait_until(lambda: len(got) == 3)
    assert [m["data"] for m in got] == [1, 2, "after"]
    assert edge.broker.unrecovered == 1
