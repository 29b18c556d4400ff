"""deploy/helm/switchboard: linted and rendered by Helm's own engine (helm-python-sdk binds the
Go SDK the ``helm`` binary is built from: no binary is needed), every rendered object valid
against the schemas, and with the values of deploy/kubernetes/ it renders those manifests."""

from __future__ import annotations

import copy
import math
from pathlib import Path
from typing import Any

import helm_python
import pytest

from switchboard.config import load_settings

from .files import ALERTS, CHART, documents, manifests, render_chart, settings_toml
from .schemas import schema_errors

#: What deploy/kubernetes/ sets that the chart leaves to the operator by default.
AS_THE_MANIFESTS = {
    "secrets": {
        "apiKey": "REPLACE-ME-openssl-rand-hex-32-api",
        "jwtSecret": "REPLACE-ME-openssl-rand-hex-32-jwt",
    }
}
#: Labels only Helm adds.
HELM_LABELS = {"helm.sh/chart", "app.kubernetes.io/managed-by", "app.kubernetes.io/version"}
#: Helm lint's severities: info, warning, error.
LINT_INFO = 1


def test_helm_lint_finds_nothing_but_information() -> None:
    for values in ({}, AS_THE_MANIFESTS, {"ingress": {"enabled": True}}):
        report = helm_python.lint(str(CHART), values, strict=True)
        serious = [m for m in report["messages"] if m["severity"] > LINT_INFO]
        assert serious == [] and report["errors"] == [], report


def test_the_chart_fails_to_render_what_is_wrong() -> None:
    """The renderer is strict: a missing required value stops it, as ``helm template`` does."""
    with pytest.raises(helm_python.HelmError, match=r"broker\.url is required"):
        render_chart({"broker": {"url": ""}})


VARIANTS = {
    "defaults": {},
    "as-the-manifests": AS_THE_MANIFESTS,
    "ingress-with-tls": {
        "ingress": {"enabled": True, "tls": [{"secretName": "t", "hosts": ["s.example.com"]}]}
    },
    "existing-secret-no-autoscaling": {
        "secrets": {"existingSecret": "mine"},
        "autoscaling": {"enabled": False},
        "podDisruptionBudget": {"enabled": False},
        "metrics": {"serviceMonitor": {"enabled": False}, "prometheusRule": {"enabled": False}},
    },
}


@pytest.mark.parametrize("values", VARIANTS.values(), ids=VARIANTS.keys())
def test_every_rendered_object_is_valid_against_its_schema(values: dict[str, Any]) -> None:
    rendered = render_chart(values)
    assert rendered
    for key, obj in rendered.items():
        assert schema_errors(obj) == [], key


def without_helm_additions(obj: dict[str, Any]) -> dict[str, Any]:
    obj = copy.deepcopy(obj)
    labels = obj["metadata"].get("labels", {})
    for label in HELM_LABELS:
        labels.pop(label, None)
    if obj["kind"] == "Deployment":
        obj["spec"]["template"]["metadata"].pop("annotations", None)  # checksum/config
    if obj["kind"] == "ConfigMap":
        obj["data"] = settings_toml(obj)  # the same settings, in the chart's order
    return obj


def test_with_the_manifests_values_it_renders_the_manifests() -> None:
    """One source of truth in practice: the chart and deploy/kubernetes/ say the same."""
    rendered = {
        key: without_helm_additions(obj) for key, obj in render_chart(AS_THE_MANIFESTS).items()
    }
    shipped = {key: without_helm_additions(obj) for key, obj in manifests().items()}
    assert rendered.keys() == shipped.keys()
    for key in shipped:
        assert rendered[key] == shipped[key], key


def test_the_alerts_file_is_deploy_prometheus_alerts() -> None:
    assert (CHART / "files" / "alerts.yml").read_bytes() == ALERTS.read_bytes()
    rule = render_chart()["PrometheusRule/switchboard"]
    assert rule["spec"]["groups"] == documents(ALERTS)[0]["groups"]
    summary = rule["spec"]["groups"][0]["rules"][0]["annotations"]["summary"]
    assert "{{ $labels.instance }}" in summary  # Prometheus' template, untouched by Helm


def test_drain_values_set_the_settings_and_the_kill_deadline(tmp_path: Path) -> None:
    values = {"drain": {"grace": 2.5, "timeout": 12, "rate": 500, "killMargin": 10}}
    rendered = render_chart(values)
    toml = settings_toml(rendered["ConfigMap/switchboard"])
    assert (toml["drain_grace"], toml["drain_timeout"], toml["drain_rate"]) == (2.5, 12, 500)
    pod = rendered["Deployment/switchboard"]["spec"]["template"]["spec"]
    assert pod["terminationGracePeriodSeconds"] == math.ceil(2.5) + 12 + 10
    path = tmp_path / "switchboard.toml"
    path.write_text(rendered["ConfigMap/switchboard"]["data"]["switchboard.toml"])
    assert load_settings(path).drain_grace == 2.5  # a file the server takes


def test_settings_values_reach_the_file() -> None:
    settings = "max_connections = 1000\n\n[namespaces.room]\npresence = true\n"
    toml = settings_toml(render_chart({"settings": settings})["ConfigMap/switchboard"])
    assert toml["max_connections"] == 1000
    assert toml["namespaces"] == {"room": {"presence": True}}
    assert toml["port"] == 8080  # the chart's keys stay top-level, before the tables


def env_of(rendered: dict[str, dict[str, Any]]) -> dict[str, Any]:
    pod = rendered["Deployment/switchboard"]["spec"]["template"]["spec"]
    return {var["name"]: var["valueFrom"] for var in pod["containers"][0]["env"]}


def test_secrets_unset_leave_the_api_off_and_clients_anonymous() -> None:
    rendered = render_chart()
    assert set(rendered["Secret/switchboard"]["stringData"]) == {"broker-url"}
    assert set(env_of(rendered)) == {"SWITCHBOARD_NODE_ID", "SWITCHBOARD_BROKER"}


def test_an_existing_secret_replaces_the_charts() -> None:
    rendered = render_chart({"secrets": {"existingSecret": "mine"}})
    assert "Secret/switchboard" not in rendered
    refs = {
        name: ref["secretKeyRef"] for name, ref in env_of(rendered).items() if "secretKeyRef" in ref
    }
    assert {ref["name"] for ref in refs.values()} == {"mine"}
    assert refs["SWITCHBOARD_BROKER"].get("optional") is None  # the one the node needs
    assert refs["SWITCHBOARD_API_KEY"]["optional"] is True
    assert refs["SWITCHBOARD_JWT_SECRET"]["optional"] is True


def test_the_hpa_owns_the_replica_count_after_the_install() -> None:
    assert render_chart()["Deployment/switchboard"]["spec"]["replicas"] == 3
    assert "replicas" not in render_chart(upgrade=True)["Deployment/switchboard"]["spec"]
    fixed = render_chart({"autoscaling": {"enabled": False}, "replicas": 5}, upgrade=True)
    assert "HorizontalPodAutoscaler/switchboard" not in fixed
    assert fixed["Deployment/switchboard"]["spec"]["replicas"] == 5
    hpa = render_chart({"autoscaling": {"targetConnectionsPerPod": 7000, "maxReplicas": 30}})
    spec = hpa["HorizontalPodAutoscaler/switchboard"]["spec"]
    assert spec["maxReplicas"] == 30
    pods = next(metric["pods"] for metric in spec["metrics"] if metric["type"] == "Pods")
    assert pods == {
        "metric": {"name": "switchboard_connections_active"},
        "target": {"type": "AverageValue", "averageValue": "7000"},
    }


def test_the_ingress_routes_websockets_with_timeouts_above_the_heartbeat() -> None:
    rendered = render_chart({"ingress": {"enabled": True}})
    ingress = rendered["Ingress/switchboard"]
    annotations = ingress["metadata"]["annotations"]
    heartbeat = 30 + 20  # ping_interval + ping_timeout, the defaults
    for name in ("proxy-read-timeout", "proxy-send-timeout"):
        assert int(annotations[f"nginx.ingress.kubernetes.io/{name}"]) > heartbeat
    path = ingress["spec"]["rules"][0]["http"]["paths"][0]
    assert path["path"] == "/ws"
    assert path["backend"]["service"]["name"] == "switchboard"
    service = rendered["Service/switchboard"]
    assert path["backend"]["service"]["port"]["name"] in {
        p["name"] for p in service["spec"]["ports"]
    }


def test_a_release_name_names_every_object_and_keeps_the_job_label() -> None:
    rendered = render_chart(release="chat")
    assert {key.split("/")[1] for key in rendered} == {"chat-switchboard", "chat-switchboard-admin"}
    monitor = rendered["ServiceMonitor/chat-switchboard"]["spec"]
    admin = rendered["Service/chat-switchboard-admin"]["metadata"]["labels"]
    assert admin[monitor["jobLabel"]] == "switchboard"  # up{job="switchboard"} still matches
