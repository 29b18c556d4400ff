"""docs/operations.md, its alert rules and the Grafana dashboard, checked against a real server.

The metrics come from scraping a running node after some traffic, the log events from the
source: a family, label or event added without its documentation (or documentation left
behind by a removed one) fails here.
"""

from __future__ import annotations

import json
import re
import sys
from typing import Any

import httpx
import websockets
from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families

from switchboard import App

from ..conftest import ROOT, StartServer, recv_json, timeout, wait_until, ws_url

DOCS = ROOT / "docs" / "operations.md"
DASHBOARD = ROOT / "deploy" / "grafana" / "switchboard-dashboard.json"
SOURCE = ROOT / "src" / "switchboard"

#: A metric name as PromQL and the docs write it.
METRIC_NAME = re.compile(r"switchboard_[a-z_]+")
#: How the code names an event: ``log.info("event", ...)``, ``audit.warning(\n "event"``, the
#: monitor's ``self.warn("event", ...)`` and ``_await_logged(outcome, "event", conn)``.
LOGGED = re.compile(
    r"""(?:\b(?:log|audit)\.(?:debug|info|warning|error|exception|critical)\(\s*"""
    r"""|\bself\.warn\(\s*|_await_logged\([^"()]*)"([^"]+)\""""
)
#: The sample names each family type exposes: what an expression may query.
SAMPLE_SUFFIXES = {
    "counter": ("_total",),
    "histogram": ("_bucket", "_count", "_sum"),
    "gauge": ("",),
}


# --- helpers --------------------------------------------------------------------------------------


def section(heading: str) -> str:
    """The text of ``## heading`` in the operations guide, up to the next ``## ``."""
    text = DOCS.read_text(encoding="utf-8")
    start = text.index(f"\n## {heading}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else len(text)]


def table(text: str, first_column: str) -> list[list[str]]:
    """The cells of the rows of the table whose first column is headed ``first_column``."""
    lines = iter(text.splitlines())
    for line in lines:
        if line.startswith(f"| {first_column} |"):
            break
    else:
        raise AssertionError(f"no table headed {first_column!r}")
    next(lines)  # |---|---|
    rows = []
    for line in lines:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip().strip("|").split("|")])
    return rows


def documented_metrics() -> dict[str, tuple[str, set[str]]]:
    """Metric name -> (type, label names), from the guide's metrics table."""
    metrics: dict[str, tuple[str, set[str]]] = {}
    for name, kind, labels, *_ in table(section("Metrics"), "metric"):
        metrics[name.strip("`")] = (kind, set(re.findall(r"`([a-z_]+)`", labels)))
    return metrics


def expected_families() -> set[str]:
    """The documented families a server on this platform exposes."""
    names = set(documented_metrics())
    if sys.platform.startswith("linux"):
        return names
    # The process collector reads /proc.
    return {name for name in names if not name.startswith("switchboard_process_")}


def documented_events() -> set[str]:
    return {row[0].strip("`") for row in table(section("Log events"), "event")}


def source_text() -> str:
    return "\n".join(path.read_text(encoding="utf-8") for path in SOURCE.rglob("*.py"))


def exposed_name(family: Metric) -> str:
    """The name the guide uses: counters with their ``_total``."""
    return f"{family.name}_total" if family.type == "counter" else family.name


def queryable(families: dict[str, Metric]) -> set[str]:
    """Every sample name the families expose, whether or not they have samples yet."""
    return {
        family.name + suffix
        for family in families.values()
        for suffix in SAMPLE_SUFFIXES.get(family.type, ("",))
    }


async def traffic(app: App) -> None:
    """Echo, an unknown type (an error frame), a subscribe and a publish; then close."""
    async with websockets.connect(ws_url(app)) as ws:
        assert (await recv_json(ws))["type"] == "welcome"
        messages: list[dict[str, Any]] = [
            {"type": "echo", "data": {"n": 1}, "id": "e"},
            {"type": "no.such.type", "id": "u"},
            {"type": "subscribe", "channel": "room:1", "id": "s"},
        ]
        for message in messages:
            await ws.send(json.dumps(message))
            assert (await recv_json(ws))["id"] == message["id"]
        await ws.send(json.dumps({"type": "publish", "channel": "room:1", "data": 1, "id": "p"}))
        replies = [await recv_json(ws), await recv_json(ws)]
        assert {reply["type"] for reply in replies} == {"message", "ack"}
    node = app.node
    assert node is not None
    await wait_until(lambda: not node.registry)


async def scrape(app: App) -> dict[str, Metric]:
    url = f"http://127.0.0.1:{app.admin_port}/metrics"
    async with httpx.AsyncClient(timeout=timeout(5)) as client:
        response = await client.get(url)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return {family.name: family for family in text_string_to_metric_families(response.text)}


def value(families: dict[str, Metric], sample_name: str, **labels: str) -> float:
    family_name = re.sub(r"_(total|count|sum|bucket)$", "", sample_name)
    family = families[family_name if family_name in families else sample_name]
    matching = [
        s.value
        for s in family.samples
        if s.name == sample_name and labels.items() <= s.labels.items()
    ]
    assert len(matching) == 1, (sample_name, labels, family.samples)
    return float(matching[0])


def assert_exposed(names: set[str], families: dict[str, Metric], where: str) -> None:
    assert names, f"no switchboard_* metric found in {where}"
    unknown = sorted(names - queryable(families))
    assert not unknown, f"metrics in {where} that the server does not expose: {unknown}"


# --- metrics --------------------------------------------------------------------------------------


async def test_every_exposed_metric_is_documented_with_its_type_and_labels(
    start_server: StartServer,
) -> None:
    app = await start_server(node_id="docs-node")
    await traffic(app)
    families = await scrape(app)
    documented = documented_metrics()

    # The traffic is visible, so the label checks below see real samples.
    assert value(families, "switchboard_messages_received_total", type="echo") == 1
    assert value(families, "switchboard_messages_received_total", type="unknown") == 1
    assert value(families, "switchboard_errors_total", code="UNKNOWN_MESSAGE_TYPE") == 1
    assert value(families, "switchboard_connections_closed_total", code="1000") == 1
    assert value(families, "switchboard_info", node="docs-node") == 1

    for family in families.values():
        name = exposed_name(family)
        assert name in documented, f"{name} is exposed but not in docs/operations.md"
        kind, labels = documented[name]
        assert kind == family.type, f"{name} is a {family.type}, documented as {kind}"
        exposed_labels = {label for s in family.samples for label in s.labels} - {"le"}
        assert exposed_labels <= labels, f"{name} has labels {exposed_labels}, documented {labels}"

    exposed = {exposed_name(family) for family in families.values()}
    stale = sorted(expected_families() - exposed)
    assert not stale, f"documented but not exposed: {stale}"


async def test_no_metrics_keeps_every_family_but_stops_the_per_message_ones(
    start_server: StartServer,
) -> None:
    """What the guide's `--no-metrics` paragraph promises."""
    app = await start_server(metrics=False)
    await traffic(app)
    families = await scrape(app)

    assert {exposed_name(family) for family in families.values()} == expected_families()
    assert not families["switchboard_messages_received"].samples
    assert not families["switchboard_messages_sent"].samples
    assert value(families, "switchboard_message_processing_seconds_count") == 0
    assert value(families, "switchboard_message_size_bytes_count") == 0
    assert value(families, "switchboard_received_bytes_total") == 0
    # What remains.
    assert value(families, "switchboard_connections_opened_total") == 1
    assert value(families, "switchboard_connections_closed_total", code="1000") == 1
    assert value(families, "switchboard_errors_total", code="UNKNOWN_MESSAGE_TYPE") == 1
    assert value(families, "switchboard_sent_frames_total") >= 5
    assert value(families, "switchboard_sent_bytes_total") > 0
    assert value(families, "switchboard_broker_publish_seconds_count") == 1


# --- the Grafana dashboard and the alert rules ----------------------------------------------------


async def test_dashboard_and_alert_rules_query_only_exposed_metrics(
    start_server: StartServer,
) -> None:
    app = await start_server()
    await traffic(app)
    families = await scrape(app)
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))

    inputs = {i["name"]: i for i in dashboard["__inputs"]}
    assert inputs["DS_PROMETHEUS"]["pluginId"] == "prometheus"
    datasource = {"type": "prometheus", "uid": "${DS_PROMETHEUS}"}
    (variable,) = [v for v in dashboard["templating"]["list"] if v["name"] == "node"]
    assert variable["query"]["query"] == "label_values(switchboard_info, node)"
    assert variable["datasource"] == datasource
    assert any("node" in s.labels for s in families["switchboard_info"].samples)

    panels = dashboard["panels"]
    assert len({panel["id"] for panel in panels}) == len(panels)
    assert {panel["type"] for panel in panels} == {"stat", "timeseries"}
    expressions = []
    for panel in panels:
        assert panel["datasource"] == datasource, panel["title"]
        assert panel["targets"], f"panel {panel['title']!r} has no query"
        for target in panel["targets"]:
            assert target["datasource"] == datasource, panel["title"]
            assert target["expr"].strip(), panel["title"]
            expressions.append(target["expr"])
    names = set(METRIC_NAME.findall("\n".join(expressions)))
    assert_exposed(names, families, "the Grafana dashboard")

    rules = section("Alerts")
    block = rules[rules.index("```yaml") : rules.index("```\n", rules.index("```yaml") + 1)]
    rule_expressions = re.findall(r"expr: \|\n((?: {10,}.*\n)+)|expr: (.*)", block)
    assert len(rule_expressions) >= 10
    names = set(METRIC_NAME.findall("\n".join(a + b for a, b in rule_expressions)))
    assert_exposed(names, families, "the alert rules in docs/operations.md")


# --- log events -----------------------------------------------------------------------------------


def test_documented_log_events_are_logged_in_the_source() -> None:
    source = source_text()
    events = documented_events()
    assert {"connection_opened", "handshake_rejected", "memory_high"} <= events
    missing = sorted(event for event in events if f'"{event}"' not in source)
    assert not missing, f"docs/operations.md lists events nothing logs: {missing}"


def test_events_logged_in_the_source_are_documented() -> None:
    logged = set(LOGGED.findall(source_text()))
    assert {"connection_closed", "Maximum connection limit reached", "event_loop_lag"} <= logged
    undocumented = sorted(logged - documented_events())
    assert not undocumented, f"logged but not in docs/operations.md: {undocumented}"
