"""The message pipeline: stages from the settings, in order, never swapped, decoded once.

Driven through a fake transport (``fakes.py``): no sockets.
"""

from __future__ import annotations

import asyncio
from typing import Any

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from switchboard.core.node import Node
from switchboard.core.stats import Stats
from switchboard.observability.tracing import Tracing
from switchboard.protocol.codecs import JSON
from switchboard.protocol.envelope import Envelope
from switchboard.protocol.wire import Wire

from ..conftest import timeout
from .fakes import Client, make_node, next_loop_pass


class CountingWire(Wire):
    """The JSON wire, counting how often a payload is decoded."""

    def __init__(self) -> None:
        super().__init__(JSON)
        self.decoded = 0
        plain = self.decode

        def counted(payload: bytes) -> Envelope:
            self.decoded += 1
            return plain(payload)

        self.decode = counted


def traced_node(**settings: Any) -> tuple[Node, InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    stats = Stats()
    tracing = Tracing(provider)
    return make_node(stats=stats, tracer=tracing.messages(stats.errors), **settings), exporter


async def test_the_stages_follow_the_settings() -> None:
    assert make_node().pipeline.stages == ["metrics", "decode", "route"]
    assert make_node(metrics=False).pipeline.stages == ["decode", "route"]
    limited = make_node(message_rate=10.0, metrics=False)
    assert limited.pipeline.stages == ["limits", "decode", "route"]
    assert make_node(raw_echo=True, metrics=False).pipeline.stages == ["raw_echo"]
    node, _ = traced_node(message_rate=5.0)
    assert node.pipeline.stages == ["limits", "metrics", "decode", "tracing", "route"]


async def test_the_entry_point_never_changes_while_the_sample_windows_turn() -> None:
    node = make_node()
    assert node.sampler is not None
    entry = node.on_message
    node.sampler.start(asyncio.get_running_loop())
    client = Client(node)
    for _ in range(150):  # more than one window's sample (100)
        client.send('{"type":"echo","data":1}')
    assert node.on_message is entry
    assert sum(node.stats.processing.counts) == 100  # the sample, not every message
    await asyncio.sleep(timeout(0.25))  # the thing under test: windows open and close
    client.send('{"type":"echo","data":2}')
    assert node.on_message is entry
    assert sum(node.stats.processing.counts) == 101  # a new window samples again
    node.sampler.stop()


async def test_a_traced_message_is_decoded_once() -> None:
    node, exporter = traced_node()
    wire = CountingWire()
    client = Client(node, wire)
    client.send('{"type":"echo","data":1,"id":7}')
    client.send('{"type":"subscribe","channel":"room:1","id":8}')
    await next_loop_pass()
    assert wire.decoded == 2
    spans = [s for s in exporter.get_finished_spans() if s.name == "switchboard.message"]
    assert [(s.attributes or {}).get("switchboard.message.type") for s in spans] == [
        "echo",
        "subscribe",
    ]
    assert (spans[1].attributes or {}).get("switchboard.channel") == "room:1"
    assert client.messages()[1] == {"type": "echo_reply", "data": 1, "id": 7}


async def test_what_cannot_be_decoded_is_traced_as_an_error() -> None:
    node, exporter = traced_node()
    client = Client(node)
    client.send("{not json")
    await next_loop_pass()
    (span,) = [s for s in exporter.get_finished_spans() if s.name == "switchboard.message"]
    attributes = span.attributes or {}
    assert attributes["switchboard.outcome"] == "error"
    assert "switchboard.message.type" not in attributes
    assert client.messages()[-1]["code"] == "INVALID_JSON"


async def test_limits_come_first_so_a_refused_message_is_neither_decoded_nor_traced() -> None:
    node, exporter = traced_node(message_rate=1.0, message_burst=1)
    wire = CountingWire()
    client = Client(node, wire)
    for n in range(3):
        client.send(f'{{"type":"echo","data":{n}}}')
    await next_loop_pass()
    assert wire.decoded == 1
    assert len([s for s in exporter.get_finished_spans() if s.name == "switchboard.message"]) == 1
    codes = [m.get("code") for m in client.messages()[1:]]
    assert codes == [None, "RATE_LIMIT_EXCEEDED", "RATE_LIMIT_EXCEEDED"]
