"""Subscriptions the server makes for a ``switchboard.client`` (``app.subscribe`` in a route,
by connection id, in ``on_connect``) against a real server: messages with their offsets, the
end of one, and resuming across a reconnect with nothing lost and nothing twice, also when
the server subscribes the connection again on connect and when the client may not subscribe
itself."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

from switchboard import App, Connection, Envelope
from switchboard.client import Client, Subscription

from ..conftest import StartServer, timeout, wait_until, ws_url
from .gating import Gate

DOC = (Path(__file__).resolve().parents[2] / "docs" / "clients.md").read_text()


class Follower:
    """What the application sees: each server-made subscription, its messages, its end."""

    def __init__(self, client: Client, attach: bool = True) -> None:
        self.made: list[Subscription] = []
        self.ended: list[tuple[Subscription, dict[str, Any]]] = []
        self.got: list[tuple[int, Any]] = []
        self.unrecovered: list[dict[str, Any]] = []
        self.attach = attach
        client.on_server_subscribe(self.subscribed)
        client.on_server_unsubscribe(lambda sub, frame: self.ended.append((sub, frame)))

    def subscribed(self, subscription: Subscription) -> None:
        self.made.append(subscription)
        subscription.on_unrecovered = lambda _, frame: self.unrecovered.append(frame)
        if self.attach:
            subscription.on_message = self.message

    def message(self, frame: dict[str, Any]) -> None:
        self.got.append((frame["offset"], frame["data"]))


async def test_a_server_made_subscription_delivers_with_offsets_and_ends(
    start_server: StartServer,
) -> None:
    app = App()

    @app.route("join")
    async def join(conn: Connection, msg: Envelope) -> None:
        await app.subscribe(str(msg.value()), connection=conn)

    await start_server(app)
    async with Client(ws_url(app)) as client:
        seen = Follower(client, attach=False)
        frames: list[dict[str, Any]] = []
        client.on("subscribed", frames.append)
        await client.request("join", data="room:1")
        assert len(seen.made) == 1 and frames[0]["channel"] == "room:1"
        subscription = seen.made[0]
        assert subscription.server and subscription.channel == "room:1"
        assert client.subscriptions == {"room:1": subscription}
        await app.publish("room:1", "a")
        await app.publish("room:1", "b")
        await wait_until(lambda: subscription.offset == 2)  # kept until it has a callback
        # subscribe() of a channel the server subscribed it to: that one, no request
        assert await client.subscribe("room:1", seen.message) is subscription
        assert seen.got == [(1, "a"), (2, "b")]
        await app.publish("room:1", "c")
        await wait_until(lambda: len(seen.got) == 3)
        assert seen.got[-1] == (3, "c")

        await app.unsubscribe("room:1", connection=client.welcome["connection_id"])
        await wait_until(lambda: len(seen.ended) == 1)
        ended, frame = seen.ended[0]
        assert ended is subscription and frame["type"] == "unsubscribed"
        assert not subscription.active and client.subscriptions == {}
        await app.publish("room:1", "d")
        assert await client.echo("after") == "after"  # "d" would have come before this
        assert seen.got == [(1, "a"), (2, "b"), (3, "c")]


async def test_a_server_made_subscription_resumes_after_a_reconnect_losing_nothing(
    start_server: StartServer,
) -> None:
    app = App()
    gate = Gate(app)
    await start_server(app)
    async with Client(ws_url(app), backoff_base=0.1) as client:
        seen = Follower(client)
        await app.subscribe("feed:1", connection=client.welcome["connection_id"])
        await wait_until(lambda: len(seen.made) == 1)
        for n in (1, 2):
            await app.publish("feed:1", n)
        await wait_until(lambda: len(seen.got) == 2)
        await gate.reconnect(client.welcome["connection_id"])
        for n in range(3, 7):  # while it is away: the server forgot its subscription
            await app.publish("feed:1", n)
        gate.open.set()
        await wait_until(lambda: client.connections == 2 and client._up.is_set(), 10)
        await app.publish("feed:1", 7)
        await wait_until(lambda: seen.got[-1:] == [(7, 7)])
    assert seen.got == [(n, n) for n in range(1, 8)]
    assert len(seen.made) == 1 and seen.unrecovered == [] and seen.ended == []


async def test_a_server_that_subscribes_again_on_connect_makes_no_second_one(
    start_server: StartServer,
) -> None:
    app = App()
    gate = Gate(app, resubscribe="feed:1")
    await start_server(app)
    client = Client(ws_url(app), backoff_base=0.1)
    seen = Follower(client)  # before it connects: the server subscribes it at once
    async with client:
        await wait_until(lambda: len(seen.made) == 1)
        subscription = seen.made[0]
        await app.publish("feed:1", 1)
        await wait_until(lambda: len(seen.got) == 1)

        # Publications while it is away: the server's new subscription starts past the
        # client's position; the client fills the gap.
        await gate.reconnect(client.welcome["connection_id"])
        for n in range(2, 5):
            await app.publish("feed:1", n)
        gate.open.set()
        await wait_until(lambda: client.connections == 2 and client._up.is_set(), 10)
        await app.publish("feed:1", 5)
        await wait_until(lambda: seen.got[-1:] == [(5, 5)])

        # Nothing while it is away: the server's subscription starts where the client is.
        await gate.reconnect(client.welcome["connection_id"])
        gate.open.set()
        await wait_until(lambda: client.connections == 3 and client._up.is_set(), 10)
        await app.publish("feed:1", 6)
        await wait_until(lambda: seen.got[-1:] == [(6, 6)])
        assert await client.echo("end") == "end"  # a second copy would be here by now
        assert client.subscriptions == {"feed:1": subscription}
    assert seen.got == [(n, n) for n in range(1, 7)]
    assert seen.made == [subscription] and seen.unrecovered == [] and seen.ended == []


async def test_a_subscription_only_the_server_may_make(start_server: StartServer) -> None:
    """In a namespace the client may not subscribe to itself: without the server making it
    again, the resume is refused and the subscription ends (the client stays connected);
    with it, the client goes on from the server's position and says what it missed."""
    app = App()
    gate = Gate(app)
    await start_server(app, namespaces={"private": {"subscribe_roles": ["admin"]}})
    async with Client(ws_url(app), backoff_base=0.1) as client:
        seen = Follower(client)
        await app.subscribe("private:a", connection=client.welcome["connection_id"])
        await app.publish("private:a", 1)
        await wait_until(lambda: len(seen.got) == 1)
        await gate.reconnect(client.welcome["connection_id"])
        gate.open.set()
        await wait_until(lambda: len(seen.ended) == 1, 10)
        ended, frame = seen.ended[0]
        assert ended is seen.made[0] and frame["code"] == "FORBIDDEN"
        assert client.subscriptions == {}
        assert await client.echo("still here") == "still here"
        assert client.connections == 2

        gate.resubscribe = "private:a"
        await app.subscribe("private:a", connection=client.welcome["connection_id"])
        await wait_until(lambda: len(seen.made) == 2)
        await gate.reconnect(client.welcome["connection_id"])
        await app.publish("private:a", 2)  # missed, and the client may not recover it
        gate.open.set()
        await wait_until(lambda: len(seen.unrecovered) == 1, 10)
        await app.publish("private:a", 3)
        await wait_until(lambda: seen.got[-1:] == [(3, 3)])
    assert seen.got == [(1, 1), (3, 3)]
    assert seen.unrecovered[0]["type"] == "subscribed" and len(seen.ended) == 1


async def test_the_server_made_example_in_the_docs_runs(start_server: StartServer) -> None:
    section = DOC.split("### Server-made subscriptions", 1)[1]
    client_code, server_code = (b.split("```", 1)[0] for b in section.split("```python\n")[1:3])
    served: dict[str, Any] = {}
    exec(compile(server_code, "docs/clients.md", "exec"), served)  # the server, as written
    app = await start_server(served["app"])
    example = client_code.replace("ws://127.0.0.1:8080/ws", ws_url(app))  # the port only
    run = await asyncio.create_subprocess_exec(
        sys.executable, "-c", example, stdout=asyncio.subprocess.PIPE
    )
    out, _ = await asyncio.wait_for(run.communicate(), timeout(20))
    assert run.returncode == 0
    printed = out.decode().splitlines()
    assert printed == ["in news:1 from 0", "1 hello", "out of news:1 by unsubscribed"]
    assert f"prints `{'`, `'.join(printed)}`." in section
