"""Prometheus families of the backend calls, read from the client's counters at scrape time.

``switchboard_backend_requests_total{route,outcome}``, ``switchboard_backend_request_seconds``
(sum and count of answered calls, per route), ``switchboard_backend_circuit_state{route}``
(0 closed, 1 open, 2 half-open), ``switchboard_backend_circuit_opened_total{route}``,
``switchboard_backend_in_flight`` and ``switchboard_backend_disconnects_dropped_total``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    Metric,
    SummaryMetricFamily,
)
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from .client import BackendClient


class BackendCollector(Collector):
    """The backend's counters; register it on the node's ``CollectorRegistry``."""

    def __init__(self, client: BackendClient) -> None:
        self.client = client
        #: How many ``$disconnect`` events were dropped (set by the Backend).
        self.dropped: Callable[[], int] = lambda: 0

    def collect(self) -> Iterator[Metric]:
        routes = self.client.routes
        requests = CounterMetricFamily(
            "switchboard_backend_requests",
            "Calls to the HTTP backend, by route key and outcome (ok, refused: a 4xx, "
            "circuit_open, busy, timeout, unreachable, failed: a 5xx, bad_answer).",
            labels=["route", "outcome"],
        )
        seconds = SummaryMetricFamily(
            "switchboard_backend_request_seconds",
            "Seconds the calls made to the backend took (answered or failed), by route key.",
            labels=["route"],
        )
        state = GaugeMetricFamily(
            "switchboard_backend_circuit_state",
            "Circuit of each route: 0 closed, 1 open (refusing at once), 2 half-open (a trial).",
            labels=["route"],
        )
        opened = CounterMetricFamily(
            "switchboard_backend_circuit_opened",
            "Times each route's circuit opened.",
            labels=["route"],
        )
        for key, stats in sorted(routes.items()):
            for outcome, count in sorted(stats.outcomes.items()):
                requests.add_metric([key, outcome], count)
            seconds.add_metric([key], count_value=stats.made, sum_value=stats.seconds)
            state.add_metric([key], int(stats.breaker.state))
            opened.add_metric([key], stats.breaker.opened)
        yield requests
        yield seconds
        yield state
        yield opened
        yield GaugeMetricFamily(
            "switchboard_backend_in_flight",
            "Calls to the backend in flight on this node.",
            value=self.client.in_flight,
        )
        yield CounterMetricFamily(
            "switchboard_backend_disconnects_dropped",
            "$disconnect events not delivered (over the concurrency limit, or failed).",
            value=self.dropped(),
        )
