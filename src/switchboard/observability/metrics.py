"""Prometheus metrics: the node's plain counters turned into ``switchboard_*`` families.

Nothing is counted here. The hot path bumps integers in :class:`~switchboard.core.stats.Stats`
and the outbox; this collector reads them when ``/metrics`` is scraped. Each app gets its own
``CollectorRegistry``, so several servers in one process (tests) do not mix their numbers.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import msgspec
from prometheus_client import CollectorRegistry, ProcessCollector
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from ..core.stats import Histogram
from ..protocol.codes import CloseCode

if TYPE_CHECKING:
    from ..core.node import Node
    from .monitor import Monitor

#: Close codes of Switchboard's own (4001, 4002, ...): labelled one by one.
_OWN_CODES = frozenset(int(code) for code in CloseCode)


def type_name(kind: type) -> str:
    """The wire ``type`` of a server message class (``reply`` for an app route's dict)."""
    config = getattr(kind, "__struct_config__", None)
    if config is not None and isinstance(config.tag, str):
        return config.tag
    if issubclass(kind, msgspec.Struct):
        return kind.__name__.lower()
    return "reply"


class NodeCollector(Collector):
    """Reads one node's counters at scrape time."""

    def __init__(
        self,
        node: Node,
        version: str,
        monitor: Monitor | None = None,
        max_connections: int = 0,
    ) -> None:
        self.node = node
        self.version = version
        self.monitor = monitor
        self.max_connections = max_connections

    def collect(self) -> Iterator[Metric]:
        node = self.node
        stats = node.stats
        outbox = node.outbox
        info = GaugeMetricFamily(
            "switchboard_info", "This node: id and version.", labels=["node", "version"]
        )
        info.add_metric([node.node_id, self.version], 1)
        yield info
        yield _gauge("connections_active", "Open WebSocket connections.", len(node.registry))
        if self.max_connections:
            yield _gauge(
                "connections_max",
                "max_connections: upgrades beyond it get 503.",
                self.max_connections,
            )
        yield _counter(
            "connections_opened", "WebSocket connections opened.", node.connections_total
        )
        yield _labelled(
            "connections_closed",
            "WebSocket connections closed, by close code.",
            "code",
            _close_codes(stats.closed),
        )
        yield _histogram(
            "connection_duration_seconds", "How long closed connections lasted.", stats.duration
        )
        yield _labelled(
            "messages_received",
            "Messages received, by type (unknown: no route; invalid: undecodable).",
            "type",
            node.received(),
        )
        yield _labelled(
            "messages_sent",
            "Messages queued for clients, by type (a broadcast counts once per recipient).",
            "type",
            _by_name(node.sent()),
        )
        yield _histogram(
            "message_size_bytes",
            "Size of received messages, sampled (the first 100 of every 100 ms).",
            stats.size,
        )
        yield _histogram(
            "message_processing_seconds",
            "Time to handle a received message (decode, route, reply; not awaited work), "
            "sampled (the first 100 of every 100 ms).",
            stats.processing,
        )
        yield _counter(
            "received_bytes",
            "Payload bytes of messages received (estimated from the sampled sizes above "
            "1,000 messages a second).",
            node.bytes_in(),
        )
        yield _counter("sent_bytes", "Bytes written to client sockets.", outbox.bytes_written)
        yield _counter("sent_frames", "Frames written to client sockets.", outbox.frames_written)
        yield _labelled("errors", "Error frames sent to clients, by code.", "code", stats.errors)
        yield _labelled(
            "rate_limited",
            "Messages refused by a rate limit, by scope (connection, user, route).",
            "scope",
            stats.rate_limited,
        )
        yield _labelled(
            "handshake_rejections",
            "Upgrade requests refused, by reason.",
            "reason",
            stats.handshake_rejected,
        )
        yield _counter(
            "slow_consumers", "Times a send queue overflowed its limit.", outbox.slow_consumers
        )
        yield _counter(
            "dropped_frames", "Frames dropped by the drop_oldest policy.", outbox.dropped_frames
        )
        paused, backlog = outbox.backlog()
        yield _gauge("outbox_backlog_bytes", "Bytes waiting for sockets above high water.", backlog)
        yield _gauge("outbox_paused_connections", "Connections above high water.", paused)
        channels = node.channels
        yield _gauge(
            "channels_active", "Channels with subscribers on this node.", len(channels.subscribers)
        )
        yield _gauge(
            "subscriptions_active",
            "Subscriptions of this node's connections.",
            sum(len(s) for s in channels.subscribers.values()),
        )
        usage = node.broker.history_usage()
        if usage is not None:
            yield _gauge(
                "history_bytes", "Bytes of channel history kept (all channels).", usage.bytes
            )
            if usage.limit:
                yield _gauge(
                    "history_limit_bytes",
                    "history_max_bytes: past it the oldest publications are evicted.",
                    usage.limit,
                )
            yield _counter(
                "history_evicted",
                "Publications evicted from history to keep history_max_bytes.",
                usage.evicted,
            )
        yield _histogram("broker_publish_seconds", "Broker publish latency.", stats.broker_publish)
        yield _labelled(
            "broker_errors",
            "Broker calls that failed, by operation.",
            "operation",
            stats.broker_errors,
        )
        if self.monitor is not None:
            yield _gauge(
                "event_loop_lag_seconds",
                "Event loop lag at the last sample (a 1 s timer's delay).",
                self.monitor.loop_lag,
            )
            yield _gauge(
                "memory_limit_bytes",
                "The memory limit memory warnings compare with (setting, cgroup or RAM).",
                self.monitor.memory_limit,
            )


def build_registry(
    node: Node, version: str, monitor: Monitor | None, max_connections: int = 0
) -> CollectorRegistry:
    """The node's metrics plus process CPU and memory, as ``switchboard_process_*``."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(NodeCollector(node, version, monitor, max_connections))
    ProcessCollector(namespace="switchboard", registry=registry)
    return registry


def _name(short: str) -> str:
    return f"switchboard_{short}"


def _gauge(short: str, help_text: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(_name(short), help_text, value=value)


def _counter(short: str, help_text: str, value: float) -> CounterMetricFamily:
    return CounterMetricFamily(_name(short), help_text, value=value)


def _labelled(
    short: str, help_text: str, label: str, values: dict[str, int]
) -> CounterMetricFamily:
    family = CounterMetricFamily(_name(short), help_text, labels=[label])
    for key, value in sorted(values.items()):
        family.add_metric([key], value)
    return family


def _histogram(short: str, help_text: str, histogram: Histogram) -> HistogramMetricFamily:
    return HistogramMetricFamily(
        _name(short),
        help_text,
        buckets=[(le, float(n)) for le, n in histogram.cumulative()],
        sum_value=histogram.sum,
    )


def _by_name(counts: dict[type, int]) -> dict[str, int]:
    named: dict[str, int] = {}
    for kind, n in counts.items():
        name = type_name(kind)
        named[name] = named.get(name, 0) + n
    return named


def _close_codes(closed: dict[int, int]) -> dict[str, int]:
    """Close codes as labels. Codes 3000-4999 that Switchboard does not define are the
    client's to choose, so they are grouped (``3xxx``, ``4xxx``): a client cannot mint
    label values (Prometheus series) at will."""
    labels: dict[str, int] = {}
    for code, n in closed.items():
        label = str(code) if code < 3000 or code in _OWN_CODES else f"{code // 1000}xxx"
        labels[label] = labels.get(label, 0) + n
    return labels
