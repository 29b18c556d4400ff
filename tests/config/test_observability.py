"""Observability settings: the documented defaults, each source a user sets them from, and
the values refused (naming the setting)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from switchboard.config import Settings, load_settings


def test_defaults_are_the_documented_ones() -> None:
    s = Settings()
    assert (s.log_level, s.log_format) == ("info", "json")
    assert (s.audit_log, s.log_file, s.error_log_file) == (None, None, None)
    assert (s.admin, s.admin_host, s.admin_port) == (True, "127.0.0.1", 9090)
    assert (s.metrics, s.tracing, s.otlp_endpoint) == (True, False, None)
    assert s.dashboard_history == 300.0
    assert (s.warn_interval, s.warn_memory_percent, s.memory_limit) == (60.0, 90.0, 0)
    assert (s.warn_cpu_percent, s.warn_cpu_seconds) == (90.0, 30.0)
    assert (s.warn_outbox_bytes, s.warn_loop_lag) == (64 * 1024 * 1024, 0.5)


def test_the_environment_sets_them(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SWITCHBOARD_LOG_LEVEL", "debug")
    monkeypatch.setenv("SWITCHBOARD_METRICS", "false")
    monkeypatch.setenv("SWITCHBOARD_ADMIN", "0")
    monkeypatch.setenv("SWITCHBOARD_AUDIT_LOG", str(tmp_path / "audit.jsonl"))
    monkeypatch.setenv("SWITCHBOARD_WARN_OUTBOX_BYTES", "1048576")
    s = load_settings()
    assert s.log_level == "debug"
    assert s.metrics is False
    assert s.admin is False
    assert s.audit_log == tmp_path / "audit.jsonl"
    assert s.warn_outbox_bytes == 1048576


def test_the_file_and_keywords_set_them(tmp_path: Path) -> None:
    config = tmp_path / "switchboard.toml"
    config.write_text(
        'log_format = "console"\ntracing = true\n'
        'otlp_endpoint = "http://collector:4318/v1/traces"\ndashboard_history = 60\n'
    )
    s = load_settings(config, admin_port=0)
    assert (s.log_format, s.tracing) == ("console", True)
    assert s.otlp_endpoint == "http://collector:4318/v1/traces"
    assert s.dashboard_history == 60.0
    assert s.admin_port == 0  # 0: the control plane picks a free port
    assert Settings(warn_loop_lag=0.1, memory_limit=1 << 30).warn_loop_lag == 0.1


@pytest.mark.parametrize(
    "bad",
    [
        {"log_level": "verbose"},
        {"log_format": "xml"},
        {"admin_port": 70000},
        {"admin_port": -1},
        {"dashboard_history": 9},
        {"dashboard_history": 3601},
        {"warn_interval": 0},
        {"warn_memory_percent": 101},
        {"memory_limit": -1},
        {"warn_cpu_percent": -1},
        {"warn_outbox_bytes": -1},
        {"warn_loop_lag": -0.1},
    ],
)
def test_values_out_of_range_are_refused_naming_the_setting(bad: dict[str, Any]) -> None:
    with pytest.raises(ValidationError) as refused:
        load_settings(**bad)
    [name] = bad
    assert [error["loc"] for error in refused.value.errors()] == [(name,)]


def test_a_value_refused_from_the_environment_names_the_setting(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SWITCHBOARD_DASHBOARD_HISTORY", "5")
    with pytest.raises(ValidationError, match="dashboard_history"):
        load_settings()
