"""The registry: connections by id and by user (a user set after the welcome too, on one node
and across two over Redis), and the one wire they share when they all share one."""

from __future__ import annotations

import json
import uuid
from typing import Any

import websockets
from structlog.testing import capture_logs

from switchboard import App
from switchboard.broker.redis import RedisBroker
from switchboard.core.connection import Connection
from switchboard.core.registry import Registry
from switchboard.protocol.codecs import MSGPACK
from switchboard.protocol.envelope import Envelope
from switchboard.protocol.wire import PLAIN_JSON, Wire

from ..conftest import StartServer, recv_json, wait_until, ws_url
from .fakes import Client, FakeTransport, make_node, next_loop_pass

BINARY = Wire(MSGPACK)


def conn(conn_id: str, wire: Wire = PLAIN_JSON) -> Connection:
    return Connection(conn_id, FakeTransport(), "test", 0.0, wire)


def test_connections_are_found_by_id_until_removed() -> None:
    registry = Registry()
    a, b = conn("a"), conn("b")
    registry.add(a)
    registry.add(b)
    assert (registry.get("a"), registry.get("b"), registry.get("c")) == (a, b, None)
    assert len(registry) == 2 and set(registry) == {a, b}
    registry.remove(a)
    assert registry.get("a") is None
    assert list(registry) == [b] and len(registry) == 1
    assert not Registry()  # empty is falsy: ``wait_all_closed`` relies on it


def test_only_wire_follows_the_wires_in_use() -> None:
    registry = Registry()
    assert registry.only_wire is None
    text, binary, text2 = conn("t"), conn("b", BINARY), conn("t2")
    registry.add(text)
    assert registry.only_wire is PLAIN_JSON
    registry.add(text2)
    assert registry.only_wire is PLAIN_JSON
    registry.add(binary)
    assert registry.only_wire is None  # two wires: fan-out must look at each connection
    registry.remove(text)
    assert registry.only_wire is None  # text2 still uses the JSON wire
    registry.remove(text2)
    assert registry.only_wire is BINARY
    registry.remove(binary)
    assert registry.only_wire is None


def test_removing_twice_or_an_unknown_connection_changes_nothing() -> None:
    registry = Registry()
    text, binary = conn("t"), conn("b", BINARY)
    registry.add(text)
    registry.add(binary)
    registry.remove(binary)
    registry.remove(binary)  # the socket reported gone twice
    registry.remove(conn("stranger", BINARY))
    assert registry.only_wire is PLAIN_JSON and len(registry) == 1
    registry.add(conn("b2", BINARY))
    assert registry.only_wire is None  # the binary wire's count did not go below zero


def test_snapshot_is_a_copy_that_survives_closes_during_iteration() -> None:
    registry = Registry()
    conns = [conn(str(i)) for i in range(5)]
    for c in conns:
        registry.add(c)
    seen = []
    for c in registry.snapshot():
        registry.remove(c)  # a slow consumer closed mid fan-out
        seen.append(c)
    assert seen == conns
    assert len(registry) == 0 and registry.only_wire is None


# --- the user index ---------------------------------------------------------------------------


def indexed(user: str, *conns: Connection) -> Registry:
    registry = Registry()
    for c in conns:
        c.user = user
        registry.add(c)
        registry.index_user(c)
    return registry


def test_reindexing_moves_a_connection_from_its_former_user() -> None:
    a, b = conn("a"), conn("b")
    registry = indexed("first", a, b)
    a.user = "second"
    registry.index_user(a)
    assert registry.of_user("first") == [b] and registry.of_user("second") == [a]
    b.user = None
    registry.index_user(b)  # anonymous again
    assert registry.of_user("first") == [] and "first" not in registry.users


def test_a_renamed_connection_leaves_the_index_under_the_user_it_was_indexed_under() -> None:
    a = conn("a")
    registry = indexed("first", a)
    a.user = "second"  # assigned, not reindexed
    registry.remove(a)
    assert registry.of_user("first") == [] and registry.users == {}


def test_a_connection_already_removed_is_not_indexed_again() -> None:
    a = conn("a")
    registry = indexed("first", a)
    registry.remove(a)
    registry.index_user(a)
    assert registry.users == {}


# --- a user set after the welcome, through App.set_user ---------------------------------------


async def login_app(start_server: StartServer, **settings: Any) -> App:
    app = App()

    @app.route("login")
    def login(conn: Connection, msg: Envelope) -> None:
        app.set_user(conn, msg.json())

    return await start_server(app, **settings)


async def client(app: App) -> websockets.ClientConnection:
    ws = await websockets.connect(ws_url(app))
    assert (await recv_json(ws))["type"] == "welcome"
    return ws


async def log_in(ws: websockets.ClientConnection, user: str) -> None:
    await ws.send(json.dumps({"type": "login", "data": user, "id": 1}))
    assert (await recv_json(ws))["type"] == "ack"


async def test_a_user_set_by_a_route_is_sent_to(start_server: StartServer) -> None:
    app = await login_app(start_server)
    ws = await client(app)
    await log_in(ws, "ann")
    assert await app.send_to_user("ann", "hi") == 1
    assert (await recv_json(ws))["data"] == "hi"
    await ws.close()


async def test_a_renamed_user_is_sent_to_under_the_new_name_only(
    start_server: StartServer,
) -> None:
    app = await login_app(start_server)
    ws = await client(app)
    await log_in(ws, "first")
    await log_in(ws, "second")
    assert await app.send_to_user("first", "old") == 0
    assert await app.send_to_user("second", "new") == 1
    await ws.close()
    await wait_until(lambda: not app._running().registry)
    assert await app.send_to_user("second", "gone") == 0
    assert app._running().registry.users == {}


async def test_a_user_set_after_the_welcome_is_found_from_another_node_over_redis(
    start_server: StartServer, redis_url: str
) -> None:
    shared = {"broker": redis_url, "broker_prefix": f"t{uuid.uuid4().hex[:10]}:"}
    here, there = await login_app(start_server, **shared), await login_app(start_server, **shared)
    broker = here.broker
    assert isinstance(broker, RedisBroker)

    async def written() -> None:
        """What ``here`` queued for Redis so far (the registry's writes) is there."""
        await broker._batch.command("PING")

    ws = await client(here)
    await log_in(ws, "first")
    await written()
    assert await there.send_to_user("first", "hi") == 1
    assert (await recv_json(ws))["data"] == "hi"
    await log_in(ws, "second")
    await written()
    assert await there.send_to_user("first", "old") == 0
    assert await there.send_to_user("second", "new") == 1
    assert (await recv_json(ws))["data"] == "new"
    await ws.close()
    await wait_until(lambda: not here._running().registry)
    await written()
    assert await there.send_to_user("second", "gone") == 0


async def test_a_user_assigned_after_the_welcome_is_reported_at_the_close() -> None:
    node = make_node()
    first = Client(node, user="first")
    await next_loop_pass()
    first.conn.user = "second"  # not through set_user: the index cannot know
    with capture_logs() as logs:
        first.gone()
    assert node.registry.users == {}  # not "first" pointing at a closed connection
    (warning,) = [entry for entry in logs if entry["event"] == "user_set_without_set_user"]
    assert warning["user"] == "second" and warning["log_level"] == "warning"


async def test_set_user_before_the_welcome_is_indexed_once_greeted() -> None:
    node = make_node()

    def hook(conn: Connection) -> None:
        node.set_user(conn, "ann", frozenset({"admin"}))

    node.connect_hook = hook
    ann = Client(node)
    assert node.registry.of_user("ann") == [ann.conn]
    assert ann.conn.roles == {"admin"}
    ann.gone()
    node.set_user(ann.conn, "bob")  # a closed connection is indexed no more
    assert node.registry.users == {}
