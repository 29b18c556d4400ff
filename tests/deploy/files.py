"""The deployment files as data: the manifests, the chart rendered by Helm's own engine, the
compose file interpolated as Compose would, the settings file they share, and the metrics
docs/operations.md documents."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import helm_python
import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
KUBERNETES = DEPLOY / "kubernetes"
CHART = DEPLOY / "helm" / "switchboard"
COMPOSE = DEPLOY / "compose.yaml"
ALERTS = DEPLOY / "prometheus" / "alerts.yml"
OPERATIONS = ROOT / "docs" / "operations.md"

#: The Kubernetes versions the manifests are validated against: the oldest still served by
#: the big providers when this was written, and the newest kubernetes-validate knows.
KUBERNETES_VERSIONS = ("1.30.0", "1.37.0")
#: The objects of the Prometheus Operator (CRDs, not in the Kubernetes schemas).
OPERATOR_KINDS = {"ServiceMonitor", "PrometheusRule"}


def documents(path: Path) -> list[dict[str, Any]]:
    """Every YAML document of ``path`` (or of a rendered text), empty ones left out."""
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def manifests() -> dict[str, dict[str, Any]]:
    """deploy/kubernetes/'s objects by ``Kind/name``, as kustomization.yaml lists the files."""
    listed = yaml.safe_load((KUBERNETES / "kustomization.yaml").read_text())["resources"]
    return by_kind_and_name(doc for name in listed for doc in documents(KUBERNETES / name))


def by_kind_and_name(objects: Any) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for obj in objects:
        key = f"{obj['kind']}/{obj['metadata']['name']}"
        assert key not in found, f"{key} twice"
        found[key] = obj
    return found


def render_chart(
    values: dict[str, Any] | None = None, release: str = "switchboard", upgrade: bool = False
) -> dict[str, dict[str, Any]]:
    """The chart's objects by ``Kind/name``, rendered by Helm's engine (the Go SDK the
    ``helm`` binary is built from) as ``helm install`` (or ``helm upgrade``) would."""
    with helm_python.Chart.load(str(CHART)) as chart:
        rendered = chart.render(
            values or {},
            name=release,
            namespace="default",
            is_install=not upgrade,
            is_upgrade=upgrade,
        )
    objects = []
    for name, text in rendered.items():
        if name.endswith(".yaml"):
            objects += [doc for doc in yaml.safe_load_all(text) if doc]
    return by_kind_and_name(objects)


def settings_toml(configmap: dict[str, Any]) -> dict[str, Any]:
    """The settings file a ConfigMap carries."""
    return tomllib.loads(configmap["data"]["switchboard.toml"])


_INTERPOLATION = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?([-?])([^}]*))?\}")


def interpolate(value: Any, env: dict[str, str]) -> Any:
    """Compose's interpolation of ``${VAR}``, ``${VAR:-default}``, ``${VAR:?error}`` and
    ``$$`` in every string of ``value``, with ``env`` as the shell's environment."""
    if isinstance(value, dict):
        return {key: interpolate(item, env) for key, item in value.items()}
    if isinstance(value, list):
        return [interpolate(item, env) for item in value]
    if not isinstance(value, str):
        return value

    def fill(match: re.Match[str]) -> str:
        if match[0] == "$$":
            return "$"
        name, how, word = match[1], match[2], match[3]
        if env.get(name):
            return env[name]
        if how == "?":
            raise KeyError(f"{name}: {word}")
        return word or ""

    return _INTERPOLATION.sub(fill, value)


def compose(env: dict[str, str]) -> dict[str, Any]:
    """deploy/compose.yaml as Compose sees it: YAML merge keys applied, then interpolated."""
    return dict(interpolate(yaml.safe_load(COMPOSE.read_text()), env))


#: The variables compose.yaml refuses to start without, with values for the tests.
COMPOSE_ENV = {
    "SWITCHBOARD_API_KEY": "compose-test-api-key-0123456789",
    "SWITCHBOARD_JWT_SECRET": "compose-test-jwt-secret-0123456789",
}


def documented_metrics() -> set[str]:
    """The sample names an expression may use: the families of docs/operations.md's metrics
    table (a histogram as its _bucket, _count and _sum)."""
    names: set[str] = set()
    for name, kind in re.findall(
        r"^\| `(switchboard_[a-z_]+)` \| (\w+) \|", OPERATIONS.read_text(), re.M
    ):
        if kind == "histogram":
            names |= {f"{name}_bucket", f"{name}_count", f"{name}_sum"}
        else:
            names.add(name)
    return names


def documented_alerts() -> list[dict[str, Any]]:
    """The rules of docs/operations.md's Alerts section."""
    block = re.search(r"```yaml\n(# switchboard-alerts\.yml.*?)```", OPERATIONS.read_text(), re.S)
    assert block is not None, "no alerts block in docs/operations.md"
    groups = yaml.safe_load(block[1])["groups"]
    return [rule for group in groups for rule in group["rules"]]


def flags_serve_lacks(flags: set[str]) -> list[str]:
    """The ``--flags`` among ``flags`` that ``switchboard serve --help`` does not list."""
    help_text = subprocess.run(
        [sys.executable, "-m", "switchboard", "serve", "--help"],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "COLUMNS": "200"},
    ).stdout
    return sorted(flag for flag in flags if flag not in help_text)
