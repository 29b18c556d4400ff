"""A publish that skips a subscriber (``core/skips.py``) whichever comes first on a cluster,
the publish's answer or the publication itself: the skipped subscriber never gets its own
publication and gets every other one, in order."""

from __future__ import annotations

import asyncio
from typing import Any

from switchboard.broker.base import BrokerHandler, Dispatch, HistoryOptions, Publication
from switchboard.broker.memory import MemoryBroker
from switchboard.core.node import Node
from switchboard.protocol.codecs import DataFormat

from .fakes import Client, make_node, next_loop_pass

NO_HISTORY = HistoryOptions(0, 0.0)


class Racing(MemoryBroker):
    """Publications wait until :meth:`deliver`; a skipping publish answers once ``answer``
    is set (as a Redis node's reply and its pub/sub stream race)."""

    def __init__(self) -> None:
        super().__init__()
        self.arrived: list[Publication] = []
        self.answer = asyncio.Event()
        self.answer.set()
        self.node_handler: BrokerHandler | None = None

    async def start(self, handler: BrokerHandler) -> None:
        self.node_handler = handler
        await super().start(_Queue(self))

    async def publish(
        self,
        channel: str,
        data: bytes,
        history: HistoryOptions,
        data_format: DataFormat = DataFormat.JSON,
    ) -> Any:
        position = await super().publish(channel, data, history, data_format)
        await self.answer.wait()
        return position

    async def publish_now(self, data: bytes) -> None:
        await MemoryBroker.publish(self, "room", data, NO_HISTORY)

    def deliver(self) -> None:
        assert self.node_handler is not None
        arrived, self.arrived = self.arrived, []
        for publication in arrived:
            self.node_handler.on_publication(publication)


class _Queue:
    def __init__(self, broker: Racing) -> None:
        self.broker = broker

    def on_publication(self, publication: Publication) -> None:
        self.broker.arrived.append(publication)

    def on_dispatch(self, dispatch: Dispatch) -> int:
        assert self.broker.node_handler is not None
        return self.broker.node_handler.on_dispatch(dispatch)


async def two_subscribers() -> tuple[Node, Racing, Client, Client]:
    broker = Racing()
    node = make_node(broker=broker)
    await broker.start(node.dispatches)
    me, you = Client(node), Client(node)
    for client in (me, you):
        client.send('{"type":"subscribe","channel":"room"}')
    await next_loop_pass()
    await next_loop_pass()
    return node, broker, me, you


def data_of(client: Client) -> list[Any]:
    return [m["data"] for m in client.messages() if m["type"] == "message"]


async def test_the_publication_arriving_before_the_answer_is_held_then_dropped() -> None:
    node, broker, me, you = await two_subscribers()
    broker.answer.clear()
    publishing = asyncio.ensure_future(
        node.channels.publish_from_server("room", b'"mine"', me.conn)
    )
    await next_loop_pass()
    await broker.publish_now(b'"theirs"')  # published after mine, also before my answer
    broker.deliver()
    await next_loop_pass()
    assert data_of(you) == ["mine", "theirs"]
    assert data_of(me) == []  # held: which one is mine is not known yet
    broker.answer.set()
    position = await publishing
    await next_loop_pass()
    assert position.offset == 1
    assert data_of(me) == ["theirs"]
    assert node.channels.skips.by_channel == {}  # nothing left behind


async def test_the_answer_arriving_first_drops_the_publication_when_it_comes() -> None:
    node, broker, me, you = await two_subscribers()
    await node.channels.publish_from_server("room", b'"mine"', me.conn)
    assert node.channels.skips.by_channel  # waiting for offset 1 to drop it
    broker.deliver()
    await broker.publish_now(b'"next"')
    broker.deliver()
    await next_loop_pass()
    assert data_of(you) == ["mine", "next"]
    assert data_of(me) == ["next"]
    assert node.channels.skips.by_channel == {}


async def test_a_skip_of_a_connection_that_leaves_is_forgotten() -> None:
    node, _, me, _ = await two_subscribers()
    await node.channels.publish_from_server("room", b'"mine"', me.conn)
    me.send('{"type":"unsubscribe","channel":"room"}')
    await next_loop_pass()
    assert node.channels.skips.by_channel == {}
