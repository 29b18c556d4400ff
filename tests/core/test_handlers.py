"""The built-in routes: each installed and answering, echo counting itself with metrics on,
and each an ordinary route that a route of the same name replaces or that can be removed.

Driven through a node on a fake transport (``fakes.py``): no sockets.
"""

from __future__ import annotations

from typing import Any

import msgspec

from switchboard.broker.base import HistoryOptions
from switchboard.core.channels import ChannelOptions
from switchboard.core.connection import Connection
from switchboard.core.handlers import install_builtin_routes
from switchboard.core.node import Node
from switchboard.core.router import Router
from switchboard.protocol.envelope import EchoReply, Envelope

from .fakes import Client, make_node, next_loop_pass

BUILTIN = {"echo", "broadcast", "send", "ping", "subscribe", "unsubscribe", "publish", "presence"}


def with_presence(namespace: str) -> ChannelOptions:
    return ChannelOptions(history=HistoryOptions(10, 60.0), presence=True)


async def started_node(**settings: Any) -> Node:
    """A node whose broker delivers (broadcasts and sends reach other connections)."""
    node = make_node(channel_options=with_presence, **settings)
    await node.broker.start(node.dispatches)
    return node


async def answers(client: Client, message: dict[str, Any]) -> list[dict[str, Any]]:
    """What ``client`` receives for ``message`` (everything written in that loop pass)."""
    seen = len(client.messages())
    client.send_message(message)
    await next_loop_pass()
    return client.messages()[seen:]


def by_type(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(messages, key=lambda m: str(m["type"]))


async def test_every_builtin_route_is_installed_and_answers() -> None:
    node = await started_node()
    assert set(node.router.routes) == BUILTIN
    ann, bob = Client(node), Client(node)
    await next_loop_pass()
    echo = {"type": "echo", "data": {"x": 1}, "id": 1}
    assert await answers(ann, echo) == [{"type": "echo_reply", "data": {"x": 1}, "id": 1}]
    assert await answers(ann, {"type": "ping", "id": 2}) == [{"type": "pong", "id": 2}]
    [ack] = await answers(ann, {"type": "subscribe", "channel": "room:1", "id": 3})
    assert (ack["type"], ack["id"], ack["channel"], ack["offset"]) == ("ack", 3, "room:1", 0)
    seen = len(ann.messages())
    [ack] = await answers(bob, {"type": "publish", "channel": "room:1", "data": "hi", "id": 4})
    assert (ack["type"], ack["id"], ack["offset"]) == ("ack", 4, 1)
    assert ann.messages()[seen:] == [
        {"type": "message", "channel": "room:1", "offset": 1, "data": "hi"}
    ]
    assert await answers(bob, {"type": "presence", "channel": "room:1", "id": 5}) == [
        {
            "type": "presence",
            "channel": "room:1",
            "members": [{"connection": ann.conn.id, "user": None}],
            "id": 5,
        }
    ]
    seen = len(ann.messages())
    assert by_type(await answers(bob, {"type": "broadcast", "data": 7, "id": 6})) == [
        {"type": "ack", "id": 6},
        {"type": "broadcast", "data": 7},
    ]
    assert ann.messages()[seen:] == [{"type": "broadcast", "data": 7}]
    seen = len(ann.messages())
    send = {"type": "send", "to": {"connection": ann.conn.id}, "data": 8, "id": 7}
    assert await answers(bob, send) == [{"type": "ack", "id": 7}]
    assert ann.messages()[seen:] == [
        {"type": "direct", "from": {"connection": bob.conn.id, "user": None}, "data": 8}
    ]
    unsubscribe = {"type": "unsubscribe", "channel": "room:1", "id": 8}
    assert await answers(ann, unsubscribe) == [{"type": "ack", "id": 8, "channel": "room:1"}]
    seen = len(ann.messages())
    await answers(bob, {"type": "publish", "channel": "room:1", "data": "late"})
    assert ann.messages()[seen:] == []  # no longer subscribed


async def test_with_metrics_echo_counts_its_own_calls_once() -> None:
    node = make_node()  # metrics on: the echo route counts itself
    client = Client(node)
    for n in range(3):
        client.send_message({"type": "echo", "data": n})
    client.send_message({"type": "ping"})
    await next_loop_pass()
    assert [m["data"] for m in client.messages() if m["type"] == "echo_reply"] == [0, 1, 2]
    assert "echo" not in node.stats.received  # its own counter, not the router's dict
    assert node.received() == {"echo": 3, "ping": 1}
    assert node.sent()[EchoReply] == 3
    assert node.messages_in() == 4


async def test_the_returned_count_is_the_echo_calls_only_when_counting() -> None:
    node = make_node(metrics=False)
    conn = Client(node).conn
    echo = Envelope("echo", data=msgspec.Raw(b"1"))
    counting = Router(node.hub)
    counting.received = {}
    calls = install_builtin_routes(counting, node.hub, node.channels, node.dispatches, count=True)
    counting.route(conn, echo)
    counting.route(conn, echo)
    assert (calls(), counting.received) == (2, {})
    plain = Router(node.hub)
    plain.received = {}
    uncounted = install_builtin_routes(plain, node.hub, node.channels, node.dispatches)
    plain.route(conn, echo)
    assert (uncounted(), plain.received) == (0, {"echo": 1})


async def test_without_metrics_nothing_is_counted_but_echo_still_answers() -> None:
    node = make_node(metrics=False)
    client = Client(node)
    client.send_message({"type": "echo", "data": "x", "id": 1})
    await next_loop_pass()
    assert client.messages()[-1] == {"type": "echo_reply", "data": "x", "id": 1}
    assert node.received() == {}
    assert node.messages_in() == 0


async def test_a_route_of_the_same_name_replaces_a_builtin_and_a_removed_one_is_unknown() -> None:
    node = make_node()

    def shout(conn: Connection, msg: Envelope) -> None:
        node.hub.send(conn, {"type": "shouted", "data": str(msg.value()).upper()})

    node.router.add("echo", shout)
    node.router.remove("ping")
    client = Client(node)
    client.send_message({"type": "echo", "data": "hey", "id": 1})
    client.send_message({"type": "ping", "id": 2})
    await next_loop_pass()
    assert client.messages()[1:] == [
        {"type": "shouted", "data": "HEY"},
        {
            "type": "error",
            "code": "UNKNOWN_MESSAGE_TYPE",
            "message": "unknown message type 'ping'",
            "id": 2,
        },
    ]
    # The replacement is counted by the router, once; the built-in's own counter stays at 0.
    assert node.received() == {"echo": 1, "unknown": 1}
    assert EchoReply not in node.sent()
