"""OpenTelemetry spans with real clients: connections, messages, deliveries, API calls."""

from __future__ import annotations

import json
from collections.abc import Sequence

import httpx
import websockets
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from switchboard import App

from ..conftest import StartServer, recv_json, timeout, wait_until, ws_url
from ..rawclient import RawClient

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
SPAN_ID = "00f067aa0ba902b7"
TRACEPARENT = f"00-{TRACE_ID}-{SPAN_ID}-01"


def traced_app() -> tuple[App, InMemorySpanExporter]:
    """An app whose spans land in memory (the global tracer provider is left alone)."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    app = App()
    app.tracer_provider = provider
    return app, exporter


def named(exporter: InMemorySpanExporter, name: str) -> list[ReadableSpan]:
    return [span for span in exporter.get_finished_spans() if span.name == name]


def connection_span(exporter: InMemorySpanExporter, connection_id: str) -> ReadableSpan:
    spans = [
        span
        for span in named(exporter, "switchboard.connection")
        if span.attributes and span.attributes["switchboard.connection_id"] == connection_id
    ]
    assert len(spans) == 1, spans
    return spans[0]


def message_spans(exporter: InMemorySpanExporter, connection_id: str) -> list[ReadableSpan]:
    return [
        span
        for span in named(exporter, "switchboard.message")
        if span.attributes and span.attributes["switchboard.connection_id"] == connection_id
    ]


def parent_id(span: ReadableSpan) -> int | None:
    return None if span.parent is None else span.parent.span_id


def span_id(span: ReadableSpan) -> int:
    assert span.context is not None
    return int(span.context.span_id)


def trace_id(span: ReadableSpan) -> int:
    assert span.context is not None
    return int(span.context.trace_id)


def by_type(spans: Sequence[ReadableSpan], message_type: str) -> ReadableSpan:
    found = [s for s in spans if s.attributes["switchboard.message.type"] == message_type]  # type: ignore[index]
    assert len(found) == 1, found
    return found[0]


def api(app: App) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{app.admin_port}",
        headers={"X-API-Key": "tracing-test-key-0123"},
        timeout=timeout(5),
    )


async def test_connection_span_lasts_until_close_and_records_how_it_ended(
    start_server: StartServer,
) -> None:
    app, exporter = traced_app()
    app = await start_server(app, tracing=True)
    async with websockets.connect(ws_url(app)) as ws:
        normal = (await recv_json(ws))["connection_id"]
        await ws.send('{"type":"echo","data":1}')
        await recv_json(ws)
        assert named(exporter, "switchboard.connection") == []  # still open: not ended
    await wait_until(lambda: len(named(exporter, "switchboard.connection")) == 1)
    span = connection_span(exporter, normal)
    assert span.attributes is not None
    assert span.attributes["switchboard.close_code"] == 1000
    assert span.attributes["switchboard.closed_by"] == "client"
    assert str(span.attributes["client.address"]).startswith("127.0.0.1")
    assert span.status.status_code is StatusCode.UNSET

    async with websockets.connect(ws_url(app)) as ws:
        failed = (await recv_json(ws))["connection_id"]
        await ws.close(4000, "bye")
    await wait_until(lambda: len(named(exporter, "switchboard.connection")) == 2)
    span = connection_span(exporter, failed)
    assert span.attributes is not None
    assert span.attributes["switchboard.close_code"] == 4000
    assert span.attributes["switchboard.close_reason"] == "bye"
    assert span.attributes["switchboard.closed_by"] == "client"
    assert span.status.status_code is StatusCode.ERROR

    async with websockets.connect(ws_url(app)) as ws:
        kicked = (await recv_json(ws))["connection_id"]
        assert await app.disconnect(kicked, 4003, "kicked")
        await ws.wait_closed()
        assert ws.close_code == 4003
    await wait_until(lambda: len(named(exporter, "switchboard.connection")) == 3)
    span = connection_span(exporter, kicked)
    assert span.attributes is not None
    assert span.attributes["switchboard.close_code"] == 4003
    assert span.attributes["switchboard.close_reason"] == "kicked"
    assert span.attributes["switchboard.closed_by"] == "server"
    assert span.status.status_code is StatusCode.ERROR


async def test_drain_closes_with_1012_which_is_not_an_error(start_server: StartServer) -> None:
    app, exporter = traced_app()
    app = await start_server(app, tracing=True)
    async with websockets.connect(ws_url(app)) as ws:
        conn_id = (await recv_json(ws))["connection_id"]
        await app.shutdown()
        await ws.wait_closed()
    span = connection_span(exporter, conn_id)
    assert span.attributes is not None
    assert span.attributes["switchboard.close_code"] == 1012
    assert span.attributes["switchboard.closed_by"] == "server"
    assert span.status.status_code is StatusCode.UNSET


async def test_message_spans_are_children_of_the_connection_span(
    start_server: StartServer,
) -> None:
    app, exporter = traced_app()
    app = await start_server(app, tracing=True)
    echo = '{"type":"echo","data":"hi","id":"e"}'
    subscribe = '{"type":"subscribe","channel":"room:1","id":"s"}'
    unknown = '{"type":"no.such.type","id":"u"}'
    async with websockets.connect(ws_url(app)) as ws:
        conn_id = (await recv_json(ws))["connection_id"]
        await ws.send(echo)
        assert (await recv_json(ws))["type"] == "echo_reply"
        await ws.send(subscribe)
        assert (await recv_json(ws))["type"] == "ack"
        await ws.send(unknown)
        assert (await recv_json(ws))["code"] == "UNKNOWN_MESSAGE_TYPE"
    await wait_until(lambda: len(named(exporter, "switchboard.connection")) == 1)
    connection = connection_span(exporter, conn_id)
    spans = message_spans(exporter, conn_id)
    assert len(spans) == 3

    for span, text in [
        (by_type(spans, "echo"), echo),
        (by_type(spans, "subscribe"), subscribe),
        (by_type(spans, "no.such.type"), unknown),
    ]:
        assert parent_id(span) == span_id(connection)
        assert trace_id(span) == trace_id(connection)
        assert span.links == ()
        assert span.attributes is not None
        assert span.attributes["switchboard.message.size"] == len(text.encode())

    echo_span = by_type(spans, "echo")
    assert echo_span.attributes is not None
    assert echo_span.attributes["switchboard.outcome"] == "ok"
    assert "switchboard.channel" not in echo_span.attributes
    subscribe_span = by_type(spans, "subscribe")
    assert subscribe_span.attributes is not None
    assert subscribe_span.attributes["switchboard.channel"] == "room:1"
    assert subscribe_span.attributes["switchboard.outcome"] == "ok"
    unknown_span = by_type(spans, "no.such.type")
    assert unknown_span.attributes is not None
    assert unknown_span.attributes["switchboard.outcome"] == "error"


async def test_traceparent_in_the_envelope_is_the_message_span_parent(
    start_server: StartServer,
) -> None:
    app, exporter = traced_app()
    app = await start_server(app, tracing=True)
    async with websockets.connect(ws_url(app)) as ws:
        conn_id = (await recv_json(ws))["connection_id"]
        await ws.send(json.dumps({"type": "echo", "data": 1, "traceparent": TRACEPARENT}))
        assert (await recv_json(ws))["data"] == 1
    await wait_until(lambda: len(named(exporter, "switchboard.connection")) == 1)
    connection = connection_span(exporter, conn_id)
    (span,) = message_spans(exporter, conn_id)
    assert trace_id(span) == int(TRACE_ID, 16)
    assert span.parent is not None
    assert span.parent.span_id == int(SPAN_ID, 16)
    assert span.parent.is_remote
    assert [link.context.span_id for link in span.links] == [span_id(connection)]
    assert [link.context.trace_id for link in span.links] == [trace_id(connection)]


async def test_malformed_traceparent_falls_back_to_the_connection_span(
    start_server: StartServer,
) -> None:
    app, exporter = traced_app()
    app = await start_server(app, tracing=True)
    malformed = [
        "garbage",
        f"00-{TRACE_ID[:-1]}-{SPAN_ID}-01",  # trace id one digit short
        f"00-{'0' * 32}-{SPAN_ID}-01",  # all-zero trace id is invalid
        f"00-{TRACE_ID}-{'0' * 16}-01",  # all-zero span id is invalid
        f"00-{TRACE_ID.upper()}-{SPAN_ID}-01",  # upper-case hex is not allowed
    ]
    async with websockets.connect(ws_url(app)) as ws:
        conn_id = (await recv_json(ws))["connection_id"]
        for n, value in enumerate(malformed):
            await ws.send(json.dumps({"type": "echo", "data": n, "traceparent": value}))
            assert (await recv_json(ws))["data"] == n  # served all the same
    await wait_until(lambda: len(named(exporter, "switchboard.connection")) == 1)
    connection = connection_span(exporter, conn_id)
    spans = message_spans(exporter, conn_id)
    assert len(spans) == len(malformed)
    for span in spans:
        assert trace_id(span) == trace_id(connection)
        assert parent_id(span) == span_id(connection)
        assert span.links == ()
        assert span.attributes is not None
        assert span.attributes["switchboard.outcome"] == "ok"


async def test_publish_delivery_is_a_child_of_the_publishing_message(
    start_server: StartServer,
) -> None:
    app, exporter = traced_app()
    app = await start_server(app, tracing=True)
    async with (
        websockets.connect(ws_url(app)) as subscriber,
        websockets.connect(ws_url(app)) as publisher,
    ):
        await recv_json(subscriber)
        publisher_id = (await recv_json(publisher))["connection_id"]
        await subscriber.send('{"type":"subscribe","channel":"room:1","id":"s"}')
        assert (await recv_json(subscriber))["type"] == "ack"
        publish = {"type": "publish", "channel": "room:1", "data": 1, "id": "p"}
        await publisher.send(json.dumps({**publish, "traceparent": TRACEPARENT}))
        assert (await recv_json(publisher))["type"] == "ack"
        message = await recv_json(subscriber)
        assert (message["type"], message["channel"], message["data"]) == ("message", "room:1", 1)
        await wait_until(lambda: len(named(exporter, "switchboard.deliver")) == 1)

    publish_span = by_type(message_spans(exporter, publisher_id), "publish")
    assert trace_id(publish_span) == int(TRACE_ID, 16)
    (deliver,) = named(exporter, "switchboard.deliver")
    assert trace_id(deliver) == int(TRACE_ID, 16)
    assert parent_id(deliver) == span_id(publish_span)
    assert deliver.attributes is not None
    assert deliver.attributes["switchboard.channel"] == "room:1"
    assert deliver.attributes["switchboard.offset"] == 1


async def test_api_publish_is_traced_from_the_callers_traceparent_to_the_delivery(
    start_server: StartServer,
) -> None:
    app, exporter = traced_app()
    app = await start_server(app, tracing=True, api_key="tracing-test-key-0123")
    async with websockets.connect(ws_url(app)) as ws, api(app) as client:
        await recv_json(ws)
        await ws.send('{"type":"subscribe","channel":"room:1","id":"s"}')
        assert (await recv_json(ws))["type"] == "ack"
        response = await client.post(
            "/api/v1/channels/room:1/publish",
            json={"data": {"x": 1}},
            headers={"traceparent": TRACEPARENT},
        )
        assert response.status_code == 200, response.text
        message = await recv_json(ws)
        assert (message["type"], message["data"]) == ("message", {"x": 1})

    (api_span,) = named(exporter, "switchboard.api")
    assert trace_id(api_span) == int(TRACE_ID, 16)
    assert api_span.parent is not None
    assert api_span.parent.span_id == int(SPAN_ID, 16)
    assert api_span.attributes is not None
    assert api_span.attributes["switchboard.api.operation"] == "publish"
    assert api_span.attributes["switchboard.channel"] == "room:1"
    (deliver,) = named(exporter, "switchboard.deliver")
    assert trace_id(deliver) == int(TRACE_ID, 16)
    assert parent_id(deliver) == span_id(api_span)


async def test_api_send_to_connection_is_delivered_under_the_api_span(
    start_server: StartServer,
) -> None:
    app, exporter = traced_app()
    app = await start_server(app, tracing=True, api_key="tracing-test-key-0123")
    async with websockets.connect(ws_url(app)) as ws, api(app) as client:
        conn_id = (await recv_json(ws))["connection_id"]
        response = await client.post(
            f"/api/v1/connections/{conn_id}",
            json={"hello": ["there", 1]},
            headers={"traceparent": TRACEPARENT},
        )
        assert response.status_code == 200, response.text
        assert response.json() == {"delivered": 1}
        assert await recv_json(ws) == {
            "type": "direct",
            "from": {"connection": "server", "user": None},
            "data": {"hello": ["there", 1]},
        }

    (api_span,) = named(exporter, "switchboard.api")
    assert api_span.parent is not None
    assert api_span.parent.span_id == int(SPAN_ID, 16)
    assert api_span.attributes is not None
    assert api_span.attributes["switchboard.api.operation"] == "send_to_connection"
    assert api_span.attributes["switchboard.connection_id"] == conn_id
    (deliver,) = named(exporter, "switchboard.deliver")
    assert trace_id(deliver) == int(TRACE_ID, 16)
    assert parent_id(deliver) == span_id(api_span)


async def test_api_call_with_a_malformed_traceparent_starts_a_new_trace(
    start_server: StartServer,
) -> None:
    app, exporter = traced_app()
    app = await start_server(app, tracing=True, api_key="tracing-test-key-0123")
    async with websockets.connect(ws_url(app)) as ws, api(app) as client:
        conn_id = (await recv_json(ws))["connection_id"]
        response = await client.post(
            f"/api/v1/connections/{conn_id}", json=7, headers={"traceparent": "00-nonsense-01"}
        )
        assert response.status_code == 200, response.text
        assert (await recv_json(ws))["data"] == 7
    (api_span,) = named(exporter, "switchboard.api")
    assert api_span.parent is None
    assert trace_id(api_span) != int(TRACE_ID, 16)
    (deliver,) = named(exporter, "switchboard.deliver")
    assert parent_id(deliver) == span_id(api_span)


async def test_no_spans_when_tracing_is_off_even_with_a_provider(
    start_server: StartServer,
) -> None:
    app, exporter = traced_app()
    app = await start_server(app, api_key="tracing-test-key-0123")
    assert app.tracing is None
    async with websockets.connect(ws_url(app)) as ws, api(app) as client:
        conn_id = (await recv_json(ws))["connection_id"]
        await ws.send('{"type":"subscribe","channel":"room:1","id":"s"}')
        assert (await recv_json(ws))["type"] == "ack"
        await ws.send(json.dumps({"type": "echo", "data": 1, "traceparent": TRACEPARENT}))
        assert (await recv_json(ws))["data"] == 1
        await ws.send('{"type":"publish","channel":"room:1","data":2}')
        assert (await recv_json(ws))["data"] == 2
        headers = {"traceparent": TRACEPARENT}
        response = await client.post(
            "/api/v1/channels/room:1/publish", json={"data": 3}, headers=headers
        )
        assert response.status_code == 200, response.text
        assert (await recv_json(ws))["data"] == 3
        response = await client.post(f"/api/v1/connections/{conn_id}", json=4, headers=headers)
        assert response.status_code == 200, response.text
        assert (await recv_json(ws))["data"] == 4
        await ws.close(4000, "bye")
    await wait_until(lambda: not app.node or len(app.node.registry) == 0)
    assert exporter.get_finished_spans() == ()


async def test_spans_of_connections_dropped_at_the_drain_timeout_are_ended(
    start_server: StartServer,
) -> None:
    app, exporter = traced_app()
    app = await start_server(app, tracing=True, drain_timeout=0.2)
    silent = await RawClient.connect(app.port)  # never answers the server's close frame
    polite = await websockets.connect(ws_url(app))
    polite_id = (await recv_json(polite))["connection_id"]
    await app.shutdown()
    spans = named(exporter, "switchboard.connection")
    assert len(spans) == 2  # both ended, the silent one by the abort at the drain timeout
    assert connection_span(exporter, polite_id).attributes["switchboard.close_code"] == 1012  # type: ignore[index]
    dropped = next(s for s in spans if s.attributes["switchboard.connection_id"] != polite_id)  # type: ignore[index]
    assert dropped.attributes["switchboard.closed_by"] in {"server", "network"}  # type: ignore[index]
    silent.close()
