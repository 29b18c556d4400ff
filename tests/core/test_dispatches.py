"""Broadcasts, direct sends, disconnects and join/leave go through the broker, both ways.

Each path is checked twice: what a client does reaches the others *and* left through the
broker (a node that looped over its own registry would pass the first check only), and a
dispatch arriving from the broker, as another node's would, reaches this node's clients.
"""

from __future__ import annotations

import json
from typing import Any

import websockets

from switchboard import App
from switchboard.broker import Dispatch, DispatchKind, MemoryBroker
from switchboard.config import NamespaceOptions
from switchboard.protocol.codecs import DataFormat

from ..conftest import StartServer, recv_json, wait_until, ws_url

Client = websockets.ClientConnection


class RecordingBroker(MemoryBroker):
    """The embedded broker, keeping every dispatch it carried."""

    def __init__(self) -> None:
        super().__init__()
        self.carried: list[Dispatch] = []

    async def dispatch(self, dispatch: Dispatch) -> int:
        self.carried.append(dispatch)
        return await super().dispatch(dispatch)


async def started(start_server: StartServer, **settings: Any) -> tuple[App, RecordingBroker]:
    app = App()
    broker = app.broker = RecordingBroker()
    await start_server(app, **settings)
    return app, broker


async def connect(app: App) -> tuple[Client, str]:
    ws = await websockets.connect(ws_url(app), max_queue=None)
    welcome = await recv_json(ws)
    return ws, welcome["connection_id"]


def kinds(broker: RecordingBroker) -> list[DispatchKind]:
    return [d.kind for d in broker.carried]


async def test_a_broadcast_leaves_through_the_broker_and_reaches_everyone(
    start_server: StartServer,
) -> None:
    app, broker = await started(start_server)
    (a, _), (b, _) = await connect(app), await connect(app)
    await a.send(json.dumps({"type": "broadcast", "data": {"n": 1}, "id": "b1"}))
    got = [await recv_json(a), await recv_json(a)]  # the ack and its own copy, either order
    assert sorted(got, key=lambda m: m["type"]) == [
        {"type": "ack", "id": "b1"},
        {"type": "broadcast", "data": {"n": 1}},
    ]
    assert await recv_json(b) == {"type": "broadcast", "data": {"n": 1}}
    assert broker.carried == [Dispatch(DispatchKind.BROADCAST, data=b'{"n": 1}')]  # as sent


async def test_a_send_leaves_through_the_broker_and_not_found_comes_from_its_answer(
    start_server: StartServer,
) -> None:
    app, broker = await started(start_server)
    (a, a_id), (b, b_id) = await connect(app), await connect(app)
    await a.send(json.dumps({"type": "send", "to": {"connection": b_id}, "data": 7, "id": 1}))
    assert await recv_json(a) == {"type": "ack", "id": 1}
    assert await recv_json(b) == {
        "type": "direct",
        "from": {"connection": a_id, "user": None},
        "data": 7,
    }
    assert broker.carried == [
        Dispatch(DispatchKind.DIRECT, connection=b_id, sender=a_id, data=b"7")
    ]
    await a.send(json.dumps({"type": "send", "to": {"user": "nobody"}, "data": 1, "id": 2}))
    reply = await recv_json(a)
    assert reply["code"] == "NOT_FOUND" and reply["id"] == 2
    assert kinds(broker) == [DispatchKind.DIRECT, DispatchKind.DIRECT]


async def test_the_app_helpers_go_through_the_broker(start_server: StartServer) -> None:
    app, broker = await started(start_server)
    ws, conn_id = await connect(app)
    assert await app.send_to_connection(conn_id, {"hi": 1})
    assert (await recv_json(ws))["data"] == {"hi": 1}
    assert await app.send_to_user("nobody", 1) == 0
    assert await app.disconnect(conn_id, 4003, "kicked")
    await ws.wait_closed()
    assert ws.close_code == 4003 and ws.close_reason == "kicked"
    assert not await app.disconnect(conn_id)  # gone now
    assert kinds(broker) == [
        DispatchKind.DIRECT,
        DispatchKind.DIRECT,
        DispatchKind.DISCONNECT,
        DispatchKind.DISCONNECT,
    ]


async def test_join_and_leave_events_go_through_the_broker(start_server: StartServer) -> None:
    namespaces = {"room": NamespaceOptions(presence=True, join_leave=True)}
    app, broker = await started(start_server, namespaces=namespaces)
    (ann, ann_id), (bob, bob_id) = await connect(app), await connect(app)
    for ws in (ann, bob):
        await ws.send(json.dumps({"type": "subscribe", "channel": "room:1", "id": 1}))
        assert (await recv_json(ws))["type"] == "ack"
    joined = await recv_json(ann)
    assert joined == {
        "type": "join",
        "channel": "room:1",
        "member": {"connection": bob_id, "user": None},
    }
    await bob.close()
    left = await recv_json(ann)
    assert left["type"] == "leave" and left["member"]["connection"] == bob_id
    membership = [d for d in broker.carried if d.kind in (DispatchKind.JOIN, DispatchKind.LEAVE)]
    assert [(d.kind, d.sender) for d in membership] == [
        (DispatchKind.JOIN, ann_id),
        (DispatchKind.JOIN, bob_id),
        (DispatchKind.LEAVE, bob_id),
    ]


async def test_dispatches_from_another_node_reach_this_nodes_clients(
    start_server: StartServer,
) -> None:
    """What the broker hands over is carried out here, whoever dispatched it."""
    app, broker = await started(start_server)
    (one, one_id), (two, _) = await connect(app), await connect(app)
    msgpack_data = b"\x81\xa1k\x01"  # {"k": 1} from a MessagePack publisher elsewhere
    reached = await broker.dispatch(
        Dispatch(
            DispatchKind.DIRECT,
            connection=one_id,
            sender="c-elsewhere",
            sender_user="zed",
            data=msgpack_data,
            data_format=DataFormat.MSGPACK,
        )
    )
    assert reached == 1
    assert await recv_json(one) == {
        "type": "direct",
        "from": {"connection": "c-elsewhere", "user": "zed"},
        "data": {"k": 1},
    }
    assert await broker.dispatch(Dispatch(DispatchKind.BROADCAST, data=b'"all"')) == 2
    for ws in (one, two):
        assert await recv_json(ws) == {"type": "broadcast", "data": "all"}
    kick = Dispatch(DispatchKind.DISCONNECT, connection=one_id, code=4000, reason="moved")
    assert await broker.dispatch(kick) == 1
    await one.wait_closed()
    assert one.close_code == 4000
    await wait_until(lambda: app.node is not None and len(app.node.registry) == 1)


async def test_a_user_is_reached_and_disconnected_on_every_connection(
    start_server: StartServer,
) -> None:
    app = App()
    broker = app.broker = RecordingBroker()

    @app.on_connect
    def named(conn: Any) -> None:
        conn.user = "ann"

    await start_server(app)
    (phone, _), (laptop, _) = await connect(app), await connect(app)
    assert await app.send_to_user("ann", "hi") == 2
    for ws in (phone, laptop):
        assert (await recv_json(ws))["data"] == "hi"
    kick = Dispatch(DispatchKind.DISCONNECT, user="ann", code=4001, reason="banned")
    assert await broker.dispatch(kick) == 2
    for ws in (phone, laptop):
        await ws.wait_closed()
        assert ws.close_code == 4001
    assert await app.send_to_user("ann", "still there?") == 0
