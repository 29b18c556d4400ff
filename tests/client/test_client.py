"""``switchboard.client`` against real servers: requests and subscriptions in each
subprotocol, tokens from a function, resuming across a drain behind HAProxy with nothing
lost, the event when recovery was not possible, and a close that ends the client."""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from switchboard.client import Client, ErrorReply, Subscription

from ..cluster.conftest import API_KEY, Balancer, StartNode
from ..conftest import StartServer, timeout, wait_until, ws_url
from ..security.keys import SECRET, token

DOC = (Path(__file__).resolve().parents[2] / "docs" / "clients.md").read_text()


@pytest.mark.parametrize("protocol", ["v1.json", "v1.binary", "v2.proto"])
async def test_requests_and_subscriptions_in_each_protocol(
    start_server: StartServer, protocol: str
) -> None:
    app = await start_server()
    async with Client(ws_url(app), protocol=protocol) as client:
        assert client.welcome["type"] == "welcome"
        assert await client.echo({"hi": [1, 2]}) == {"hi": [1, 2]}
        got: list[dict[str, Any]] = []
        await client.subscribe("room:1", got.append)
        ack = await client.publish("room:1", {"n": 1})
        assert ack["type"] == "ack" and ack["offset"] == 1
        await wait_until(lambda: len(got) == 1)
        assert got[0]["data"] == {"n": 1} and got[0]["offset"] == 1
        with pytest.raises(ErrorReply) as refused:
            await client.publish("not a channel!", 1)
        assert refused.value.code == "INVALID_MESSAGE_FORMAT"
        broadcasts: list[dict[str, Any]] = []
        client.on("broadcast", broadcasts.append)
        await client.broadcast("to all")
        await wait_until(lambda: len(broadcasts) == 1)
        assert broadcasts[0]["data"] == "to all"


async def test_a_token_function_is_asked_at_each_connect(start_server: StartServer) -> None:
    app = await start_server(jwt_secret=SECRET, allow_anonymous=False)
    asked: list[str] = []

    def fresh() -> str:
        asked.append("u1")
        return token("u1")

    async with Client(ws_url(app), token=fresh) as client:
        assert asked == ["u1"]
        assert await client.echo(1) == 1
        assert app.node is not None
        conn_id = client.welcome["connection_id"]
        await app.disconnect(conn_id, 1012, "")  # a restart: come back
        await wait_until(lambda: client.connections == 2 and client._ws is not None, 10)
        assert asked == ["u1", "u1"]


async def test_the_client_says_when_what_it_missed_is_gone(
    start_server: StartServer, tmp_path: Path
) -> None:
    app = await start_server(channel_defaults={"history_size": 2})
    got: list[int] = []
    unrecovered: list[dict[str, Any]] = []

    def lost(subscription: Subscription, ack: dict[str, Any]) -> None:
        unrecovered.append(ack)

    async with Client(ws_url(app), backoff_base=0.3) as client:
        await client.subscribe("room:1", lambda m: got.append(m["data"]), lost)
        await app.publish("room:1", 1)
        await wait_until(lambda: got == [1])
        await app.disconnect(client.welcome["connection_id"], 1012, "")
        for n in range(2, 7):  # more than the history holds, while it is away
            await app.publish("room:1", n)
        await wait_until(lambda: len(unrecovered) == 1, 10)
        assert unrecovered[0]["recovered"] is False
        await app.publish("room:1", 7)
        await wait_until(lambda: got[-1:] == [7])  # it goes on live from the ack
        assert got[0] == 1 and 2 not in got


async def test_a_close_that_says_do_not_come_back_ends_the_client(
    start_server: StartServer,
) -> None:
    app = await start_server()
    client = Client(ws_url(app))
    await client.connect()
    await app.disconnect(client.welcome["connection_id"], 1008, "policy")
    await asyncio.wait_for(client.closed.wait(), timeout(5))
    assert client.close_code == 1008
    assert client.connections == 1
    await client.close()


async def test_across_a_drain_behind_haproxy_a_subscriber_misses_nothing(
    start_node: StartNode, balancer: Any
) -> None:
    flags = ("--drain-grace", "2.5", "--drain-timeout", "6")
    nodes = [start_node(*flags) for _ in range(3)]
    front: Balancer = balancer(nodes)
    got: list[int] = []
    async with Client(front.url()) as client:
        await client.subscribe("room:1", lambda m: got.append(m["data"]))
        first = client.welcome["node"]
        serving = next(n for n in nodes if n.name == first)  # type: ignore[attr-defined]
        other = next(n for n in nodes if n is not serving)
        url = f"http://127.0.0.1:{other.admin_port}/api/v1/channels/room:1/publish"  # type: ignore[attr-defined]
        async with httpx.AsyncClient(headers={"X-API-Key": API_KEY}) as admin:

            async def publish(values: range) -> None:
                for n in values:
                    assert (await admin.post(url, json={"data": n})).status_code == 200
                    await asyncio.sleep(0.01)  # 100 a second

            await publish(range(1, 51))
            serving.proc.send_signal(signal.SIGTERM)
            await publish(range(51, 501))  # through the drain and the reconnect
            await wait_until(lambda: got[-1:] == [500], 15)
        assert client.welcome["node"] != first  # it moved
    assert got == list(range(1, 501))


async def test_the_example_in_the_docs_runs(start_server: StartServer) -> None:
    app = await start_server()
    example = DOC.split("```python\n", 1)[1].split("```", 1)[0]
    example = example.replace("ws://127.0.0.1:8080/ws", ws_url(app))  # the port only
    run = await asyncio.create_subprocess_exec(
        sys.executable, "-c", example, stdout=asyncio.subprocess.PIPE
    )
    out, _ = await asyncio.wait_for(run.communicate(), timeout(20))
    assert run.returncode == 0
    # The publication may reach the subscriber before the publisher has its ack.
    assert sorted(out.decode().splitlines()) == sorted(["hello", "1", "1 {'text': 'hi'}"])
