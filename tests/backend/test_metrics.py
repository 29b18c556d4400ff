"""The backend's Prometheus families, read from the client's counters at scrape time."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, generate_latest

from switchboard.backend.client import BackendClient
from switchboard.backend.metrics import BackendCollector
from switchboard.config.backend import BackendOptions

from .conftest import SECRET


def test_the_collector_shows_outcomes_circuits_and_drops() -> None:
    options = BackendOptions(routes={"chat": "http://127.0.0.1:1/chat"}, secret=SECRET)
    client = BackendClient(options)
    stats = client.routes["chat"]
    stats.outcomes.update({"ok": 3, "timeout": 1})
    stats.made, stats.seconds = 4, 0.5
    for _ in range(options.failure_threshold):
        stats.breaker.failed()
    collector = BackendCollector(client)
    collector.dropped = lambda: 2
    registry = CollectorRegistry()
    registry.register(collector)
    text = generate_latest(registry).decode()
    assert 'switchboard_backend_requests_total{outcome="ok",route="chat"} 3.0' in text
    assert 'switchboard_backend_requests_total{outcome="timeout",route="chat"} 1.0' in text
    assert 'switchboard_backend_request_seconds_count{route="chat"} 4.0' in text
    assert 'switchboard_backend_request_seconds_sum{route="chat"} 0.5' in text
    assert 'switchboard_backend_circuit_state{route="chat"} 1.0' in text
    assert 'switchboard_backend_circuit_opened_total{route="chat"} 1.0' in text
    assert "switchboard_backend_in_flight 0.0" in text
    assert "switchboard_backend_disconnects_dropped_total 2.0" in text
