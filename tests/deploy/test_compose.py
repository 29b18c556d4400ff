"""deploy/compose.yaml parsed as Compose would (YAML merge keys, then interpolation), valid
against the Compose specification (compose-spec: the Rust compose_spec parser, strict about
unknown keys, durations, references) and its wiring checked: three replicas behind HAProxy's
environment, Prometheus scraping each one, Grafana provisioned with the dashboard,
healthchecks, and a stop grace past the drain."""

from __future__ import annotations

import copy
import json
import re
import shlex
import shutil
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml
from compose_spec import PyCompose

from switchboard.config import load_settings

from .files import COMPOSE, COMPOSE_ENV, DEPLOY, ROOT, compose, manifests, settings_toml

FILE = compose(COMPOSE_ENV)
SERVICES: dict[str, Any] = FILE["services"]
REPLICAS = ["sb1", "sb2", "sb3"]


def settings() -> dict[str, Any]:
    return tomllib.loads(FILE["configs"]["switchboard-toml"]["content"])


def seconds(duration: str) -> float:
    """A Compose duration (``45s``, ``1m30s``) in seconds."""
    units = {"h": 3600, "m": 60, "s": 1, "ms": 0.001}
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|h|m|s)", duration)
    assert "".join(n + u for n, u in parts) == duration, duration
    return sum(float(n) * units[u] for n, u in parts)


def spec_errors(project: dict[str, Any]) -> str | None:
    """What the Compose specification says against ``project`` (its x- fragments, already
    merged in, left out: the parser does not take YAML merge keys itself)."""
    merged = {key: value for key, value in project.items() if not key.startswith("x-")}
    try:
        PyCompose.from_json(json.dumps(merged)).validate()
    except ValueError as error:
        return str(error)
    return None


def test_the_file_follows_the_compose_specification() -> None:
    assert spec_errors(FILE) is None


def test_the_specification_check_refuses_mistakes() -> None:
    broken = copy.deepcopy(FILE)
    broken["services"]["sb1"]["stop_grace_periode"] = "45s"
    assert spec_errors(broken)
    broken = copy.deepcopy(FILE)
    broken["services"]["sb1"]["configs"][0]["source"] = "missing"
    assert "not defined" in (spec_errors(broken) or "")
    broken = copy.deepcopy(FILE)
    broken["services"]["haproxy"]["depends_on"]["sb1"]["condition"] = "service_ready"
    assert spec_errors(broken)


def test_the_secrets_must_be_given() -> None:
    """`docker compose up` without them stops with the message, as Compose does."""
    with pytest.raises(KeyError, match="openssl rand -hex 32"):
        compose({})


def test_the_services_are_the_cluster() -> None:
    assert set(SERVICES) == {"redis", *REPLICAS, "haproxy", "prometheus", "grafana"}
    assert set(FILE["volumes"]) >= {"redis-data"}
    assert "redis-data:/data" in SERVICES["redis"]["volumes"]
    assert SERVICES["redis"]["command"][-2:] == ["--appendonly", "yes"]  # the volume keeps it


def test_the_replicas_run_the_image_with_the_shared_settings_file() -> None:
    for name in REPLICAS:
        service = SERVICES[name]
        assert service["build"]["context"] == ".."
        assert (
            COMPOSE.parent / service["build"]["context"] / service["build"]["dockerfile"]
        ).is_file()
        assert service["command"] == ["serve", "--config", "/etc/switchboard/switchboard.toml"]
        [mount] = service["configs"]
        assert mount == {
            "source": "switchboard-toml",
            "target": "/etc/switchboard/switchboard.toml",
        }
        env = service["environment"]
        assert env["SWITCHBOARD_NODE_ID"] == name
        assert env["SWITCHBOARD_BROKER"] == "redis://redis:6379/0"
        assert service["hostname"] == name
        # Prometheus asks for sbN:9090: the name must be an allowed Host.
        assert name in json.loads(env["SWITCHBOARD_ADMIN_ALLOWED_HOSTS"])
        assert service["depends_on"]["redis"]["condition"] == "service_healthy"
    assert len({SERVICES[n]["environment"]["SWITCHBOARD_NODE_ID"] for n in REPLICAS}) == 3


def test_the_settings_are_the_configmaps_and_the_server_takes_them(tmp_path: Any) -> None:
    assert settings() == settings_toml(manifests()["ConfigMap/switchboard"])
    path = tmp_path / "switchboard.toml"
    path.write_text(FILE["configs"]["switchboard-toml"]["content"])
    load_settings(path)


def test_the_stop_grace_period_is_past_the_drain() -> None:
    drain = settings()["drain_grace"] + settings()["drain_timeout"]
    for name in REPLICAS:
        assert seconds(SERVICES[name]["stop_grace_period"]) >= drain + 10
    assert settings()["drain_grace"] >= 2  # HAProxy's fall 2 x inter 1s


def test_haproxy_runs_deploy_haproxy_cfg_in_front_of_the_replicas() -> None:
    haproxy = SERVICES["haproxy"]
    source, target = haproxy["volumes"][0].split(":")[:2]
    assert (COMPOSE.parent / source).resolve() == DEPLOY / "haproxy.cfg"
    assert target == "/usr/local/etc/haproxy/haproxy.cfg"  # the official image's
    env = haproxy["environment"]
    used = set(re.findall(r"\$\{(SB_[A-Z0-9_]+)\}", (DEPLOY / "haproxy.cfg").read_text()))
    assert used == set(env)  # every variable the file reads, and no other
    for index, name in enumerate(REPLICAS, start=1):
        assert env[f"SB_NODE{index}"] == f"{name}:{settings()['port']}"
        assert int(env[f"SB_AGENT{index}"]) == settings()["agent_port"]
        assert haproxy["depends_on"][name]["condition"] == "service_healthy"
    assert haproxy["ports"] == [f"{env['SB_BIND'].lstrip(':')}:{env['SB_BIND'].lstrip(':')}"]


def test_healthchecks_ask_the_nodes_admin_port() -> None:
    check = SERVICES["sb1"]["healthcheck"]["test"]
    assert check[0] == "CMD"
    assert f"http://127.0.0.1:{settings()['admin_port']}/ready" in check[-1]
    assert SERVICES["redis"]["healthcheck"]["test"] == ["CMD", "redis-cli", "ping"]


def mounted(service: dict[str, Any]) -> dict[str, Path]:
    """A service's bind mounts: the path in the container, the file of the repository."""
    binds = [volume.split(":") for volume in service["volumes"] if volume.startswith("./")]
    return {target: (COMPOSE.parent / source).resolve() for source, target, *_ in binds}


def test_prometheus_scrapes_every_replica_and_loads_the_alerts() -> None:
    files = mounted(SERVICES["prometheus"])
    config = yaml.safe_load(files["/etc/prometheus/prometheus.yml"].read_text())
    [job] = config["scrape_configs"]
    assert job["job_name"] == "switchboard"  # the alerts' up{job="switchboard"}
    [targets] = [group["targets"] for group in job["static_configs"]]
    assert targets == [f"{name}:{settings()['admin_port']}" for name in REPLICAS]
    assert config["rule_files"] == ["/etc/prometheus/alerts.yml"]
    assert files["/etc/prometheus/alerts.yml"] == DEPLOY / "prometheus" / "alerts.yml"


def grafana_script() -> list[str]:
    entrypoint = SERVICES["grafana"]["entrypoint"]
    assert entrypoint[:2] == ["/bin/sh", "-c"]
    return shlex.split(entrypoint[2])


def test_grafana_gets_the_datasource_and_the_dashboard_with_its_uid() -> None:
    files = mounted(SERVICES["grafana"])
    provisioning = files["/etc/grafana/provisioning"]
    datasources = yaml.safe_load((provisioning / "datasources" / "prometheus.yml").read_text())
    [source] = datasources["datasources"]
    assert source["url"] == "http://prometheus:9090" and source["type"] == "prometheus"
    providers = yaml.safe_load((provisioning / "dashboards" / "switchboard.yml").read_text())
    [provider] = providers["providers"]
    # The entrypoint: sed 's/[$]{DS_PROMETHEUS}/UID/g' MOUNTED > DIR/x.json && exec /run.sh
    script = grafana_script()
    sed = script.index("sed")
    expression, source_file, out = script[sed + 1], script[sed + 2], script[sed + 4]
    assert script[sed + 3] == ">" and script[-2:] == ["exec", "/run.sh"]
    assert expression == f"s/[$]{{DS_PROMETHEUS}}/{source['uid']}/g"
    assert out.rsplit("/", 1)[0] == provider["options"]["path"]
    dashboard = DEPLOY / "grafana" / "switchboard-dashboard.json"
    assert files[source_file] == dashboard
    sed_binary = shutil.which("sed")
    assert sed_binary is not None
    written = subprocess.run(
        [sed_binary, expression, str(dashboard)], capture_output=True, text=True, check=True
    ).stdout
    assert written == dashboard.read_text().replace("${DS_PROMETHEUS}", source["uid"])
    provisioned = json.loads(written)
    uids = set(re.findall(r'"uid": "([^"]*)"', json.dumps(provisioned["panels"], indent=1)))
    uids |= {var["datasource"]["uid"] for var in provisioned["templating"]["list"]}
    assert uids == {source["uid"]}
    assert "${" not in written


def test_only_haproxy_is_published_beyond_loopback() -> None:
    for name, service in SERVICES.items():
        for port in service.get("ports", []):
            assert name == "haproxy" or port.startswith("127.0.0.1:"), (name, port)


def test_every_file_compose_mounts_exists() -> None:
    for service in SERVICES.values():
        for volume in service.get("volumes", []):
            if volume.startswith("./"):
                assert (COMPOSE.parent / volume.split(":")[0]).exists(), volume
    assert (ROOT / "Dockerfile").is_file()
