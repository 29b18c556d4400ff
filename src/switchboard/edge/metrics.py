"""The edge's metrics: its upstream and what it forwarded, read at scrape time."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from .broker import UpstreamBroker
from .forwarder import Forwarder


class EdgeCollector(Collector):
    """``switchboard_edge_*``: added to the node's registry by ``switchboard edge``."""

    def __init__(self, broker: UpstreamBroker, forwarder: Forwarder) -> None:
        self.broker = broker
        self.forwarder = forwarder

    def collect(self) -> Iterator[Metric]:
        upstream = self.broker.upstream
        counts = upstream.counts
        up = GaugeMetricFamily(
            "switchboard_edge_upstream_up",
            "Upstream connections to the central cluster that are up.",
        )
        up.add_metric([], sum(client.connected for client in upstream.clients))
        yield up
        waiting = GaugeMetricFamily(
            "switchboard_edge_waiting",
            "Requests waiting for the upstream to come back just now.",
        )
        waiting.add_metric([], upstream.waiting)
        yield waiting
        for name, value, text in (
            ("upstream_requests", counts.requests, "Requests sent to the central cluster."),
            ("buffered", counts.buffered, "Requests that waited for the upstream."),
            ("unavailable", counts.unavailable, "Requests answered UNAVAILABLE by the edge."),
            ("forwarded", self.forwarder.forwarded, "Messages forwarded by the $default route."),
            (
                "unrecovered",
                self.broker.unrecovered,
                "Channels the central could not resume after an upstream reconnect.",
            ),
        ):
            family = CounterMetricFamily(f"switchboard_edge_{name}", text)
            family.add_metric([], value)
            yield family
