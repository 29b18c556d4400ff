"""Channels end to end: subscribe, publish, acks, exact resume, presence, direct sends."""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

import websockets
from websockets.frames import Opcode

from switchboard import App
from switchboard.broker import HistoryOptions, MemoryBroker, Recovery, StreamPosition
from switchboard.config import NamespaceOptions
from switchboard.protocol.codecs import DataFormat

from ..conftest import SMALL_QUEUES, StartServer, recv_json, wait_until, ws_url
from ..rawclient import RawClient

Client = websockets.ClientConnection


async def connect(app: App) -> Client:
    ws = await websockets.connect(ws_url(app), max_queue=None)
    assert (await recv_json(ws))["type"] == "welcome"
    return ws


def top(app: App, channel: str) -> int:
    """The channel's last offset, as the embedded broker holds it."""
    stream = app.broker._streams.get(channel)  # type: ignore[attr-defined]
    return 0 if stream is None else int(stream.top)


async def request(ws: Client, **message: Any) -> dict[str, Any]:
    await ws.send(json.dumps(message))
    return await recv_json(ws)


async def test_subscribe_publish_and_acks(start_server: StartServer) -> None:
    app = await start_server()
    sub, pub = await connect(app), await connect(app)
    ack = await request(sub, type="subscribe", channel="room:1", id="s1")
    assert ack["type"] == "ack" and ack["id"] == "s1" and ack["channel"] == "room:1"
    assert ack["offset"] == 0 and ack["epoch"]
    for i in (1, 2):
        published = await request(pub, type="publish", channel="room:1", data={"n": i}, id=i)
        assert published == {
            "type": "ack",
            "id": i,
            "channel": "room:1",
            "offset": i,
            "epoch": ack["epoch"],
        }
        message = await recv_json(sub)
        assert message == {"type": "message", "channel": "room:1", "offset": i, "data": {"n": i}}
    assert await request(sub, type="unsubscribe", channel="room:1", id="u") == {
        "type": "ack",
        "id": "u",
        "channel": "room:1",
    }
    await pub.send(json.dumps({"type": "publish", "channel": "room:1", "data": 3}))
    assert (await request(sub, type="ping"))["type"] == "pong"  # nothing else arrived


async def test_bad_channel_requests_get_errors_with_the_id(start_server: StartServer) -> None:
    app = App()
    await start_server(app, namespaces={"readonly": NamespaceOptions(publish=False)})
    ws = await connect(app)
    error = await request(ws, type="subscribe", channel="bad channel!", id=1)
    assert (error["code"], error["id"]) == ("INVALID_MESSAGE_FORMAT", 1)
    error = await request(ws, type="subscribe", id=2)
    assert (error["code"], error["id"]) == ("INVALID_MESSAGE_FORMAT", 2)
    error = await request(ws, type="publish", channel="readonly:news", data=1, id=3)
    assert (error["code"], error["id"]) == ("FORBIDDEN", 3)
    error = await request(ws, type="send", to={"user": "nobody"}, data=1, id=4)
    assert (error["code"], error["id"]) == ("NOT_FOUND", 4)
    assert (await request(ws, type="echo", data="ok"))["data"] == "ok"


async def test_replies_keep_request_order_across_channel_operations(
    start_server: StartServer,
) -> None:
    app = await start_server()
    ws = await connect(app)
    await ws.send(json.dumps({"type": "subscribe", "channel": "a", "id": 1}))
    await ws.send(json.dumps({"type": "echo", "data": 2, "id": 2}))
    await ws.send(json.dumps({"type": "publish", "channel": "a", "data": 3, "id": 3}))
    await ws.send(json.dumps({"type": "echo", "data": 4, "id": 4}))
    got = [await recv_json(ws) for _ in range(5)]
    # Replies come in request order; the publication is a delivery, not a reply: it comes
    # once, after the subscribe's ack, wherever the broker's timing puts it among the rest.
    replies = [(m["type"], m["id"]) for m in got if "id" in m]
    assert replies == [("ack", 1), ("echo_reply", 2), ("ack", 3), ("echo_reply", 4)]
    deliveries = [i for i, m in enumerate(got) if m["type"] == "message"]
    assert len(deliveries) == 1 and deliveries[0] > 0
    assert got[deliveries[0]] == {"type": "message", "channel": "a", "offset": 1, "data": 3}


async def test_subscriber_away_for_100_messages_recovers_all_in_order(
    start_server: StartServer,
) -> None:
    app = await start_server()
    sub, pub = await connect(app), await connect(app)
    ack = await request(sub, type="subscribe", channel="room:9", id=1)
    await pub.send(json.dumps({"type": "publish", "channel": "room:9", "data": 0}))
    first = await recv_json(sub)
    await sub.close()
    for i in range(1, 101):
        await pub.send(json.dumps({"type": "publish", "channel": "room:9", "data": i}))
    assert (await request(pub, type="ping"))["type"] == "pong"  # all 100 were handled
    back = await connect(app)
    since = {"offset": first["offset"], "epoch": ack["epoch"]}
    ack = await request(back, type="subscribe", channel="room:9", recover_from=since, id=2)
    assert ack["recovered"] is True
    missed = [await recv_json(back) for _ in range(100)]
    assert [m["data"] for m in missed] == list(range(1, 101))
    assert [m["offset"] for m in missed] == list(range(2, 102))
    await pub.send(json.dumps({"type": "publish", "channel": "room:9", "data": "live"}))
    live = await recv_json(back)
    assert (live["offset"], live["data"]) == (102, "live")


async def test_resume_is_exact_while_publications_keep_coming(start_server: StartServer) -> None:
    app = await start_server()
    stop = asyncio.Event()

    async def publisher() -> None:
        while not stop.is_set():
            await app.publish("feed", {"t": "tick"})
            await asyncio.sleep(0.001)  # the publisher's pace (the thing under test)

    task = asyncio.create_task(publisher())
    try:
        offsets: list[int] = []
        ws = await connect(app)
        ack = await request(ws, type="subscribe", channel="feed", id=0)
        epoch = ack["epoch"]
        for round_no in range(5):
            for _ in range(20):
                offsets.append((await recv_json(ws))["offset"])
            await ws.close()
            gone = offsets[-1] + 10  # publications go on while the client is away
            await wait_until(lambda n=gone: app.node is not None and top(app, "feed") >= n)
            ws = await connect(app)
            since = {"offset": offsets[-1], "epoch": epoch}
            ack = await request(ws, type="subscribe", channel="feed", recover_from=since, id=1)
            assert ack["recovered"] is True, round_no
        for _ in range(20):
            offsets.append((await recv_json(ws))["offset"])
        await ws.close()
    finally:
        stop.set()
        await task
    assert offsets == list(range(offsets[0], offsets[0] + len(offsets)))


async def test_recovery_past_history_or_with_another_epoch_says_not_recovered(
    start_server: StartServer,
) -> None:
    app = await start_server(namespaces={"short": NamespaceOptions(history_size=10)})
    ws = await connect(app)
    ack = await request(ws, type="subscribe", channel="short:1", id=1)
    await request(ws, type="unsubscribe", channel="short:1", id=2)
    for i in range(20):
        await app.publish("short:1", i)
    since = {"offset": ack["offset"], "epoch": ack["epoch"]}
    reply = await request(ws, type="subscribe", channel="short:1", recover_from=since, id=3)
    assert reply["recovered"] is False
    assert reply["offset"] == 20  # resync from here
    await request(ws, type="unsubscribe", channel="short:1", id=4)
    other = {"offset": 15, "epoch": "not-the-epoch"}
    reply = await request(ws, type="subscribe", channel="short:1", recover_from=other, id=5)
    assert reply["recovered"] is False
    await app.publish("short:1", "next")
    assert (await recv_json(ws))["offset"] == 21  # and live delivery carries on


async def test_presence_and_join_leave_events(start_server: StartServer) -> None:
    app = App()

    @app.on_connect
    def name(conn: Any) -> None:
        conn.user = f"user-{len(app.node.registry) if app.node else 0}"

    await start_server(app, namespaces={"room": NamespaceOptions(presence=True, join_leave=True)})
    ann, bob = await connect(app), await connect(app)
    await request(ann, type="subscribe", channel="room:p", id=1)
    await request(bob, type="subscribe", channel="room:p", id=2)
    join = await recv_json(ann)
    assert join["type"] == "join" and join["channel"] == "room:p"
    assert join["member"]["user"] == "user-2"
    reply = await request(ann, type="presence", channel="room:p", id=3)
    assert reply["type"] == "presence" and reply["id"] == 3
    assert sorted(m["user"] for m in reply["members"]) == ["user-1", "user-2"]
    await bob.close()
    leave = await recv_json(ann)
    assert (leave["type"], leave["member"]["user"]) == ("leave", "user-2")


async def test_send_to_a_user_and_to_a_connection(start_server: StartServer) -> None:
    app = App()
    names = iter(["ann", "ann", "bob"])

    @app.on_connect
    def name(conn: Any) -> None:
        conn.user = next(names)

    await start_server(app)
    phone, laptop, other = await connect(app), await connect(app), await connect(app)
    assert await request(other, type="send", to={"user": "ann"}, data="hi", id=1) == {
        "type": "ack",
        "id": 1,
    }
    for ws in (phone, laptop):
        direct = await recv_json(ws)
        assert direct["type"] == "direct" and direct["data"] == "hi"
    assert app.node is not None
    target = next(c.id for c in app.node.registry if c is not None)
    await other.send(json.dumps({"type": "send", "to": {"connection": target}, "data": 7}))
    received = []
    for ws in (phone, laptop, other):
        with contextlib.suppress(TimeoutError):
            received.append(await recv_json(ws, 0.3))
    assert [m["data"] for m in received] == [7]
    assert await app.send_to_user("ann", {"from": "server"}) == 2
    assert (await recv_json(phone))["data"] == {"from": "server"}


async def test_a_stalled_subscriber_does_not_hold_back_the_others(
    start_server: StartServer,
) -> None:
    app = await start_server(**SMALL_QUEUES)
    stalled = await RawClient.connect(app.port)
    stalled.send_frame(Opcode.TEXT, b'{"type":"subscribe","channel":"big"}')
    reader = await connect(app)
    await request(reader, type="subscribe", channel="big", id=1)
    payload = "x" * 16_000
    for i in range(400):
        await app.publish("big", {"i": i, "p": payload})
        assert (await recv_json(reader))["data"]["i"] == i
    assert app.node is not None and app.node.outbox.slow_consumers >= 1
    stalled.close()


async def test_a_thousand_subscribers_get_every_publication_once_in_order(
    start_server: StartServer,
) -> None:
    app = await start_server()
    clients = []
    for _ in range(10):
        clients += await asyncio.gather(*(connect(app) for _ in range(100)))
    try:
        for ws in clients:
            await ws.send('{"type":"subscribe","channel":"fan:out"}')
        for ws in clients:
            assert (await recv_json(ws, 10))["type"] == "ack"
        for i in range(20):
            await app.publish("fan:out", i)

        async def collect(ws: Client) -> list[int]:
            return [(await recv_json(ws, 30))["data"] for _ in range(20)]

        got = await asyncio.gather(*(collect(ws) for ws in clients))
        assert all(seq == list(range(20)) for seq in got)
        for ws in clients[:5]:
            assert (await request(ws, type="ping"))["type"] == "pong"  # nothing extra queued
    finally:
        await asyncio.gather(*(ws.close() for ws in clients))


async def test_subscriptions_per_connection_are_capped(start_server: StartServer) -> None:
    app = await start_server(max_subscriptions=3)
    ws = await connect(app)
    for i in range(3):
        assert (await request(ws, type="subscribe", channel=f"c{i}", id=i))["type"] == "ack"
    error = await request(ws, type="subscribe", channel="c3", id=3)
    assert (error["code"], error["id"]) == ("FORBIDDEN", 3)
    await request(ws, type="unsubscribe", channel="c0", id=4)
    assert (await request(ws, type="subscribe", channel="c3", id=5))["type"] == "ack"


async def test_users_that_are_not_hashable_still_connect(start_server: StartServer) -> None:
    app = App()

    @app.on_connect
    def attach(conn: Any) -> None:
        conn.user = {"name": "ann"}  # not usable as a key: not indexed for send-to-user

    await start_server(app)
    ws = await connect(app)
    assert (await request(ws, type="echo", data=1))["data"] == 1
    await ws.close()


class LaggingBroker(MemoryBroker):
    """The embedded broker with a network's latency: every call waits a little first."""

    async def publish(
        self,
        channel: str,
        data: bytes,
        history: HistoryOptions,
        data_format: DataFormat = DataFormat.JSON,
    ) -> StreamPosition:
        await asyncio.sleep(0.002)  # a network's latency: the thing under test
        return await super().publish(channel, data, history, data_format)

    async def subscribe(self, channel: str) -> None:
        await asyncio.sleep(0.002)
        await super().subscribe(channel)

    async def recover(self, channel: str, since: StreamPosition) -> Recovery:
        await asyncio.sleep(0.002)
        return await super().recover(channel, since)


async def test_order_and_exact_resume_hold_when_the_broker_has_to_wait(
    start_server: StartServer,
) -> None:
    app = App()
    app.broker = LaggingBroker()
    await start_server(app)
    ws = await connect(app)
    for i in range(5):
        await ws.send(json.dumps({"type": "publish", "channel": "lag", "data": i, "id": i}))
        await ws.send(json.dumps({"type": "echo", "data": f"e{i}"}))
    got = [await recv_json(ws) for _ in range(10)]
    assert [m.get("id", m.get("data")) for m in got] == [x for i in range(5) for x in (i, f"e{i}")]
    sub = await connect(app)
    ack = await request(sub, type="subscribe", channel="lag", id="s")
    await sub.close()
    publishing = asyncio.gather(*(app.publish("lag", i) for i in range(5, 25)))
    back = await connect(app)
    since = {"offset": ack["offset"], "epoch": ack["epoch"]}
    reply = await request(back, type="subscribe", channel="lag", recover_from=since, id="r")
    await publishing
    assert reply["recovered"] is True
    offsets: list[int] = []
    while not offsets or offsets[-1] < 25:
        offsets.append((await recv_json(back))["offset"])
    assert offsets == list(range(ack["offset"] + 1, 26))  # missed, then live: once each


async def test_a_subscribe_beside_the_servers_own_of_the_same_connection_misses_nothing(
    start_server: StartServer,
) -> None:
    """The client subscribes to a channel while the server subscribes it there too (its
    ``on_connect`` hook): one waits for the other, and every publication arrives once."""
    app = App()
    app.broker = LaggingBroker()

    @app.on_connect
    async def join(conn: Any) -> None:
        await app.subscribe("both", connection=conn)

    await start_server(app)
    for i in range(3):
        await app.publish("both", i)  # offsets 1-3 exist before anyone joins
    publishing = asyncio.ensure_future(
        asyncio.gather(*(app.publish("both", i) for i in range(3, 40)))
    )
    ws = await connect(app)
    position = await app.broker.position("both")
    since = {"offset": 1, "epoch": position.epoch}
    subscribe = {"type": "subscribe", "channel": "both", "id": "s", "recover_from": since}
    await ws.send(json.dumps(subscribe))
    await publishing
    frames = []
    with contextlib.suppress(TimeoutError):
        while True:
            frames.append(await asyncio.wait_for(recv_json(ws), 0.5))
    starts = [f["offset"] for f in frames if f["type"] in ("subscribed", "ack")]
    assert any(f.get("id") == "s" for f in frames if f["type"] == "ack")
    offsets = [f["offset"] for f in frames if f["type"] == "message"]
    assert offsets == list(range(min(starts) + 1, 41)), frames  # from its start: once, in order
