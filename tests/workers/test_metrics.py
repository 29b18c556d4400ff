"""Merging the workers' Prometheus text: what adds up and what is taken once."""

from __future__ import annotations

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.parser import text_string_to_metric_families

from switchboard.workers.metrics import MergedMetrics, merge


def worker(node: str, connections: int, lag: float, started: float, opened: int) -> str:
    return f"""\
# HELP switchboard_info This node: id and version.
# TYPE switchboard_info gauge
switchboard_info{{node="{node}",version="1"}} 1.0
# HELP switchboard_connections_active Open WebSocket connections.
# TYPE switchboard_connections_active gauge
switchboard_connections_active {connections}
# HELP switchboard_connections_opened_total WebSocket connections opened.
# TYPE switchboard_connections_opened_total counter
switchboard_connections_opened_total {opened}
# HELP switchboard_connections_closed_total Closed, by code.
# TYPE switchboard_connections_closed_total counter
switchboard_connections_closed_total{{code="1000"}} 2.0
switchboard_connections_closed_total{{code="{node}"}} 1.0
# HELP switchboard_event_loop_lag_seconds Loop lag.
# TYPE switchboard_event_loop_lag_seconds gauge
switchboard_event_loop_lag_seconds {lag}
# HELP switchboard_memory_limit_bytes The memory limit.
# TYPE switchboard_memory_limit_bytes gauge
switchboard_memory_limit_bytes 1000.0
# HELP switchboard_process_start_time_seconds Start time.
# TYPE switchboard_process_start_time_seconds gauge
switchboard_process_start_time_seconds {started}
# HELP switchboard_broker_publish_seconds Broker publish latency.
# TYPE switchboard_broker_publish_seconds histogram
switchboard_broker_publish_seconds_bucket{{le="0.001"}} 1.0
switchboard_broker_publish_seconds_bucket{{le="+Inf"}} 3.0
switchboard_broker_publish_seconds_count 3.0
switchboard_broker_publish_seconds_sum 0.25
"""


def values(text: bytes) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text.decode())
        for s in family.samples
    }


def test_counters_histograms_and_gauges_add_up() -> None:
    merged = values(merge([worker("a", 3, 0.1, 100.0, 5), worker("b", 4, 0.2, 200.0, 6)]))
    assert merged[("switchboard_connections_active", ())] == 7
    assert merged[("switchboard_connections_opened_total", ())] == 11
    assert merged[("switchboard_connections_closed_total", (("code", "1000"),))] == 4
    assert merged[("switchboard_broker_publish_seconds_bucket", (("le", "+Inf"),))] == 6
    assert merged[("switchboard_broker_publish_seconds_count", ())] == 6
    assert merged[("switchboard_broker_publish_seconds_sum", ())] == 0.5


def test_lag_timestamps_limits_and_info_are_taken_once() -> None:
    merged = values(merge([worker("a", 3, 0.3, 100.0, 5), worker("b", 4, 0.2, 200.0, 6)]))
    assert merged[("switchboard_event_loop_lag_seconds", ())] == 0.3
    assert merged[("switchboard_process_start_time_seconds", ())] == 200.0
    assert merged[("switchboard_memory_limit_bytes", ())] == 1000.0
    nodes = {dict(labels)["node"] for name, labels in merged if name == "switchboard_info"}
    assert nodes == {"a", "b"}  # one series per worker, each 1
    # A series one worker has only is kept as it is.
    assert merged[("switchboard_connections_closed_total", (("code", "b"),))] == 1


def test_the_output_keeps_help_and_types() -> None:
    text = merge([worker("a", 1, 0.0, 1.0, 1)]).decode()
    assert "# TYPE switchboard_connections_opened_total counter" in text
    assert "# TYPE switchboard_broker_publish_seconds histogram" in text
    assert "# HELP switchboard_connections_active Open WebSocket connections." in text


def test_a_worker_answer_that_is_not_prometheus_text_is_left_out() -> None:
    merged = values(merge([worker("a", 3, 0.1, 1.0, 5), "<html>busy</html> {{", ""]))
    assert merged[("switchboard_connections_active", ())] == 3


def test_a_family_whose_type_differs_keeps_the_first_type() -> None:
    other = "# TYPE switchboard_connections_active counter\nswitchboard_connections_active 9\n"
    merged = values(merge([worker("a", 3, 0.1, 1.0, 5), other]))
    assert merged[("switchboard_connections_active", ())] == 3


def test_the_supervisors_own_families_join_the_workers() -> None:
    merged = MergedMetrics()
    merged.add(worker("a", 3, 0.1, 1.0, 5))
    merged.add_family(GaugeMetricFamily("switchboard_workers", "Workers.", value=2))
    assert values(merged.render())[("switchboard_workers", ())] == 2
