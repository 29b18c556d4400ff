"""deploy/kubernetes/: every object valid against the Kubernetes schemas (and the Prometheus
Operator's CRDs) offline, wired to each other (selectors, ports, Secret keys, the config
mount), and the drain, the probes and the autoscaler as docs/deployment.md describes them."""

from __future__ import annotations

import copy
import math
from typing import Any

import promql_parser
import pytest

from switchboard.config import load_settings

from .files import (
    ALERTS,
    KUBERNETES,
    documented_alerts,
    documented_metrics,
    documents,
    manifests,
    settings_toml,
)
from .schemas import schema_errors

OBJECTS = manifests()
#: Seconds between the end of the drain and the kill: the workers supervisor's own slack.
KILL_MARGIN = 10


def deployment() -> dict[str, Any]:
    return OBJECTS["Deployment/switchboard"]


def container() -> dict[str, Any]:
    return dict(deployment()["spec"]["template"]["spec"]["containers"][0])


def settings() -> dict[str, Any]:
    return settings_toml(OBJECTS["ConfigMap/switchboard"])


@pytest.mark.parametrize("key", sorted(OBJECTS))
def test_every_object_is_valid_against_its_schema(key: str) -> None:
    assert schema_errors(OBJECTS[key]) == []


def test_the_schemas_refuse_unknown_fields_and_wrong_types() -> None:
    """The validation above can fail: an unknown field, a wrong type, a bad duration."""
    broken = copy.deepcopy(deployment())
    broken["spec"]["template"]["spec"]["containers"][0]["livenessProbes"] = {}
    assert schema_errors(broken)
    broken = copy.deepcopy(OBJECTS["HorizontalPodAutoscaler/switchboard"])
    broken["spec"]["minReplicas"] = "three"
    assert schema_errors(broken)
    monitor = copy.deepcopy(OBJECTS["ServiceMonitor/switchboard"])
    monitor["spec"]["endpoints"][0]["interval"] = "soon"
    assert schema_errors(monitor)
    monitor = copy.deepcopy(OBJECTS["ServiceMonitor/switchboard"])
    monitor["spec"]["endpoints"][0]["scrape"] = True
    assert schema_errors(monitor) == ["ServiceMonitor: not in the CRD: /spec/endpoints/0/scrape"]


def test_kustomization_lists_every_manifest() -> None:
    listed = set(documents(KUBERNETES / "kustomization.yaml")[0]["resources"])
    on_disk = {path.name for path in KUBERNETES.glob("*.yaml")} - {"kustomization.yaml"}
    assert listed == on_disk


def test_the_settings_file_is_one_the_server_takes(tmp_path: Any) -> None:
    """An unknown key or a value out of range would stop every pod at start (exit 2)."""
    path = tmp_path / "switchboard.toml"
    path.write_text(OBJECTS["ConfigMap/switchboard"]["data"]["switchboard.toml"])
    loaded = load_settings(path)
    assert (loaded.host, loaded.admin_host) == ("0.0.0.0", "0.0.0.0")  # reachable in a pod
    assert loaded.admin_allowed_hosts == []  # the default lets pod IPs (kubelet, Prometheus) in


def test_the_container_runs_the_config_file_the_configmap_mounts() -> None:
    args = container()["args"]
    config = args[args.index("--config") + 1]
    mount = next(m for m in container()["volumeMounts"] if config.startswith(m["mountPath"] + "/"))
    volume = next(
        v for v in deployment()["spec"]["template"]["spec"]["volumes"] if v["name"] == mount["name"]
    )
    configmap = OBJECTS[f"ConfigMap/{volume['configMap']['name']}"]
    assert config.rsplit("/", 1)[1] in configmap["data"]
    assert args[0] == "serve"


def test_the_environment_comes_from_the_secret_keys_that_exist() -> None:
    secret = OBJECTS["Secret/switchboard"]
    names = set()
    for var in container()["env"]:
        names.add(var["name"])
        ref = var["valueFrom"].get("secretKeyRef")
        if ref is not None:
            assert ref["key"] in OBJECTS[f"Secret/{ref['name']}"]["stringData"], var
    assert names == {
        "SWITCHBOARD_NODE_ID",
        "SWITCHBOARD_BROKER",
        "SWITCHBOARD_API_KEY",
        "SWITCHBOARD_JWT_SECRET",
    }
    assert secret["stringData"]["broker-url"].startswith("redis://")
    assert len(secret["stringData"]["api-key"]) >= 16  # or the node refuses to start


def test_ports_probes_and_the_settings_agree() -> None:
    ports = {port["name"]: port["containerPort"] for port in container()["ports"]}
    assert ports == {
        "ws": settings()["port"],
        "agent": settings()["agent_port"],
        "admin": settings()["admin_port"],
    }
    assert container()["livenessProbe"]["httpGet"] == {"path": "/health", "port": "admin"}
    assert container()["readinessProbe"]["httpGet"] == {"path": "/ready", "port": "admin"}
    assert container()["startupProbe"]["httpGet"]["path"] == "/health"


def test_the_kill_deadline_is_past_the_drain() -> None:
    """terminationGracePeriodSeconds >= drain_grace + drain_timeout + the margin, and no
    preStop hook: the node keeps accepting through drain_grace by itself."""
    spec = deployment()["spec"]["template"]["spec"]
    drain = settings()["drain_grace"] + settings()["drain_timeout"]
    assert spec["terminationGracePeriodSeconds"] >= math.ceil(drain) + KILL_MARGIN
    assert settings()["drain_grace"] >= 2  # HAProxy's fall 2 x inter 1s; endpoint removal
    assert "lifecycle" not in container()


def test_three_replicas_spread_with_requests_limits_and_no_root() -> None:
    spec = deployment()["spec"]
    assert spec["replicas"] == 3
    assert spec["strategy"]["rollingUpdate"] == {"maxSurge": 1, "maxUnavailable": 0}
    pod = spec["template"]["spec"]
    keys = {c["topologyKey"] for c in pod["topologySpreadConstraints"]}
    assert keys == {"kubernetes.io/hostname", "topology.kubernetes.io/zone"}
    for constraint in pod["topologySpreadConstraints"]:
        assert constraint["labelSelector"]["matchLabels"] == spec["selector"]["matchLabels"]
    resources = container()["resources"]
    assert set(resources) == {"requests", "limits"}
    assert set(resources["requests"]) == set(resources["limits"]) == {"cpu", "memory"}
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == 10001  # the Dockerfile's USER
    assert container()["securityContext"]["readOnlyRootFilesystem"] is True


def test_services_pdb_and_monitor_select_the_pods() -> None:
    pods = deployment()["spec"]["template"]["metadata"]["labels"]
    ports = {port["name"] for port in container()["ports"]}
    clients, admin = OBJECTS["Service/switchboard"], OBJECTS["Service/switchboard-admin"]
    for service in (clients, admin):
        assert service["spec"]["selector"].items() <= pods.items()
        assert {port["targetPort"] for port in service["spec"]["ports"]} <= ports
    assert [port["targetPort"] for port in clients["spec"]["ports"]] == ["ws"]  # no admin
    budget = OBJECTS["PodDisruptionBudget/switchboard"]["spec"]
    assert budget["selector"]["matchLabels"].items() <= pods.items()
    assert budget["maxUnavailable"] == 1
    monitor = OBJECTS["ServiceMonitor/switchboard"]["spec"]
    assert monitor["selector"]["matchLabels"].items() <= admin["metadata"]["labels"].items()
    assert not monitor["selector"]["matchLabels"].items() <= clients["metadata"]["labels"].items()
    assert [e["port"] for e in monitor["endpoints"]] == ["admin"]
    assert monitor["endpoints"][0]["path"] == "/metrics"
    # job="switchboard", as the alerts' up{job="switchboard"} expects.
    assert admin["metadata"]["labels"][monitor["jobLabel"]] == "switchboard"


def test_the_autoscaler_scales_the_deployment_on_cpu_and_connections() -> None:
    spec = OBJECTS["HorizontalPodAutoscaler/switchboard"]["spec"]
    assert spec["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": "switchboard",
    }
    assert spec["minReplicas"] == deployment()["spec"]["replicas"]
    by_type = {metric["type"]: metric for metric in spec["metrics"]}
    assert by_type["Resource"]["resource"]["name"] == "cpu"
    pods = by_type["Pods"]["pods"]
    assert pods["metric"]["name"] == "switchboard_connections_active"
    assert "switchboard_connections_active" in documented_metrics()
    # Scale out well before a pod is full.
    assert int(pods["target"]["averageValue"]) <= settings()["max_connections"] / 2


def rules(groups: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [rule for group in groups for rule in group["rules"]]


def test_the_prometheus_rule_is_the_alerts_file() -> None:
    shipped = documents(ALERTS)[0]["groups"]
    assert OBJECTS["PrometheusRule/switchboard"]["spec"]["groups"] == shipped


def test_the_alerts_are_the_ones_docs_operations_lists() -> None:
    assert rules(documents(ALERTS)[0]["groups"]) == documented_alerts()


def metric_names(expression: str) -> set[str]:
    names: set[str] = set()

    def visit(node: Any) -> bool:
        if isinstance(node, promql_parser.VectorSelector) and node.name:
            names.add(node.name)
        return True

    promql_parser.walk(promql_parser.parse(expression), visit)
    return names


@pytest.mark.parametrize("rule", rules(documents(ALERTS)[0]["groups"]), ids=lambda r: r["alert"])
def test_every_alert_parses_and_names_only_documented_metrics(rule: dict[str, Any]) -> None:
    """PromQL parsed by promql-parser (the grammar of Prometheus' own parser); ``up`` is the
    series Prometheus writes for every scrape itself."""
    names = metric_names(rule["expr"])
    assert names, rule["expr"]
    assert names - {"up"} <= documented_metrics(), names - documented_metrics()


def test_the_metric_check_sees_an_undocumented_name() -> None:
    assert metric_names("rate(switchboard_made_up_total[5m]) > up") == {
        "switchboard_made_up_total",
        "up",
    }
    assert "switchboard_made_up_total" not in documented_metrics()
