"""OpenTelemetry spans: one per connection, one per processed message, one per delivery.

Only ``opentelemetry-api`` is a dependency; without an SDK its tracer records nothing. With
the ``tracing`` setting off nothing here is installed: no wrapper on the message path, no
per-connection state. Spans:

- ``switchboard.connection`` from upgrade to close (close code, reason, who closed);
- ``switchboard.message`` per message received: type, size, channel, outcome. Its parent
  is the W3C ``traceparent`` the envelope carries, when it does (with a link to the
  connection's span), else the connection's span;
- ``switchboard.deliver`` per publication fanned out to this node's subscribers, and per
  direct send from the management API: a child of whatever caused it;
- ``switchboard.api`` per management API call, child of the request's ``traceparent`` header.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import structlog
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import Link, Span, SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from ..broker.base import BrokerHandler, Dispatch, Publication

if TYPE_CHECKING:
    from ..core.connection import Connection
    from ..protocol.envelope import Envelope

log = structlog.get_logger("switchboard.tracing")

_PROPAGATOR = TraceContextTextMapPropagator()
#: Close codes that end a connection normally (anything else marks its span as an error).
_NORMAL_CLOSES = frozenset({1000, 1001, 1012})


def remote_parent(traceparent: str | None) -> Context | None:
    """The context a W3C ``traceparent`` value names, or None when absent or malformed."""
    if not traceparent:
        return None
    context = _PROPAGATOR.extract({"traceparent": traceparent})
    if not trace.get_current_span(context).get_span_context().is_valid:
        return None
    return context


class Tracing:
    """Creates the spans above with a tracer from ``provider`` (the global one when None)."""

    def __init__(self, provider: trace.TracerProvider | None = None, version: str = "") -> None:
        self.tracer = trace.get_tracer("switchboard", version, tracer_provider=provider)
        self._connections: dict[Connection, Span] = {}

    # --- connections (the node's observer) -----------------------------------------------------

    def opened(self, conn: Connection) -> None:
        span = self.tracer.start_span(
            "switchboard.connection",
            kind=SpanKind.SERVER,
            attributes={
                "switchboard.connection_id": conn.id,
                "client.address": conn.remote,
                "switchboard.subprotocol": conn.wire.codec.name,
                "switchboard.user": str(conn.user) if conn.user is not None else "",
            },
        )
        self._connections[conn] = span

    def closed(self, conn: Connection, code: int, reason: str, by: str) -> None:
        span = self._connections.pop(conn, None)
        if span is None:
            return
        span.set_attribute("switchboard.close_code", code)
        span.set_attribute("switchboard.close_reason", reason)
        span.set_attribute("switchboard.closed_by", by)
        if code not in _NORMAL_CLOSES:
            span.set_status(Status(StatusCode.ERROR, f"closed {code}"))
        span.end()

    def end_all(self) -> None:
        """End the spans of connections still open (shutdown): as aborted by the server."""
        for conn in list(self._connections):
            self.closed(conn, 1006, "server stopped", "server")

    # --- messages ------------------------------------------------------------------------------

    def messages(self, errors: dict[str, int]) -> _TracedMessages:
        """The pipeline's tracing stage: one span around each message's handling.

        The outcome is ``error`` when handling it sent an error frame (``errors`` counts
        them by code), else ``ok`` (work a handler awaits later is not part of the span,
        but inherits its context).
        """
        return _TracedMessages(self, errors)

    # --- deliveries and API calls --------------------------------------------------------------

    def deliveries(self, handler: BrokerHandler) -> BrokerHandler:
        """The broker's handler, with a delivery span around each publication's fan-out."""
        return _TracedDeliveries(handler, self)

    @contextlib.contextmanager
    def delivery(self, **attributes: Any) -> Iterator[Span]:
        """A ``switchboard.deliver`` span, child of the current one."""
        with self.tracer.start_as_current_span(
            "switchboard.deliver", kind=SpanKind.PRODUCER, attributes=attributes
        ) as span:
            yield span

    @contextlib.contextmanager
    def api_call(
        self, operation: str, traceparent: str | None, **attributes: Any
    ) -> Iterator[Span]:
        """A ``switchboard.api`` span, child of the HTTP request's ``traceparent``."""
        with self.tracer.start_as_current_span(
            "switchboard.api",
            context=remote_parent(traceparent),
            kind=SpanKind.SERVER,
            attributes={"switchboard.api.operation": operation, **attributes},
        ) as span:
            yield span


class _TracedDeliveries:
    """A :class:`BrokerHandler` that puts each fan-out in a delivery span."""

    __slots__ = ("handler", "tracing")

    def __init__(self, handler: BrokerHandler, tracing: Tracing) -> None:
        self.handler = handler
        self.tracing = tracing

    def on_publication(self, publication: Publication) -> None:
        with self.tracing.delivery(
            **{"switchboard.channel": publication.channel, "switchboard.offset": publication.offset}
        ):
            self.handler.on_publication(publication)

    def on_dispatch(self, dispatch: Dispatch) -> int:
        return self.handler.on_dispatch(dispatch)


class _TracedMessages:
    """A :class:`~switchboard.core.pipeline.MessageTracer`: the envelope the pipeline
    decoded gives the span its type, channel and parent (nothing is decoded again)."""

    __slots__ = ("connections", "errors", "tracer")

    def __init__(self, tracing: Tracing, errors: dict[str, int]) -> None:
        self.tracer = tracing.tracer
        self.connections = tracing._connections
        self.errors = errors

    def message(
        self,
        conn: Connection,
        size: int,
        envelope: Envelope | None,
        route: Callable[[Connection, Envelope], None],
    ) -> None:
        attributes: dict[str, Any] = {
            "switchboard.connection_id": conn.id,
            "switchboard.message.size": size,
        }
        parent = None
        links: list[Link] = []
        own = self.connections.get(conn)
        if envelope is not None:
            attributes["switchboard.message.type"] = envelope.type[:64]
            if envelope.channel:
                attributes["switchboard.channel"] = envelope.channel
            parent = remote_parent(envelope.traceparent)
        if parent is not None:
            if own is not None:
                links.append(Link(own.get_span_context()))
        elif own is not None:
            parent = trace.set_span_in_context(own)
        errors = self.errors
        before = sum(errors.values())
        with self.tracer.start_as_current_span(
            "switchboard.message",
            context=parent,
            kind=SpanKind.SERVER,
            attributes=attributes,
            links=links,
        ) as span:
            if envelope is not None:
                route(conn, envelope)
            failed = envelope is None or sum(errors.values()) != before
            span.set_attribute("switchboard.outcome", "error" if failed else "ok")


def configure_sdk(endpoint: str | None, node_id: str) -> trace.TracerProvider | None:
    """A tracer provider exporting over OTLP/HTTP to ``endpoint`` (needs the ``tracing``
    extra); None, with an error logged, when the SDK is not installed."""
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError:
        log.error("tracing_sdk_missing", hint="pip install 'switchboard[tracing]'")
        return None
    resource = Resource.create({"service.name": "switchboard", "service.instance.id": node_id})
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
    return provider
