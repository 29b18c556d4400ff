"""Settings precedence: defaults < TOML file < SWITCHBOARD_* environment < CLI flags."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from switchboard.config import TOML_ONLY, Settings, load_settings


def test_defaults_are_the_documented_ones() -> None:
    s = Settings()
    assert (s.host, s.port, s.path) == ("0.0.0.0", 8080, "/ws")
    assert s.max_message_size == 1024 * 1024
    assert (s.ping_interval, s.ping_timeout) == (30.0, 20.0)
    assert s.raw_echo is False


def test_file_then_environment_then_flags(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "switchboard.toml"
    config.write_text('port = 9001\nping_interval = 5\npath = "/socket"\nmax_connections = 7\n')
    monkeypatch.setenv("SWITCHBOARD_PING_INTERVAL", "6")
    monkeypatch.setenv("SWITCHBOARD_MAX_CONNECTIONS", "8")
    s = load_settings(config, max_connections=9, host=None)
    assert s.port == 9001  # file
    assert s.path == "/socket"  # file
    assert s.ping_interval == 6  # environment beats file
    assert s.max_connections == 9  # flag beats environment
    assert s.host == "0.0.0.0"  # a flag left unset changes nothing


def test_unknown_keys_in_the_file_are_an_error(tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text("max_mesage_size = 10\n")
    with pytest.raises(ValidationError):
        load_settings(config)


def test_missing_config_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        load_settings(tmp_path / "absent.toml")


@pytest.mark.parametrize(
    "bad",
    [{"port": 70000}, {"path": "ws"}, {"max_message_size": 10}, {"send_queue_limit": 65536}],
)
def test_invalid_values_are_rejected(bad: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        load_settings(**bad)


def test_every_setting_is_a_documented_cli_flag() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "switchboard", "serve", "--help"],
        capture_output=True,
        text=True,
        timeout=30,
        env={"COLUMNS": "200", "PATH": ""},
    )
    assert result.returncode == 0
    for name in Settings.model_fields.keys() - TOML_ONLY:
        assert f"--{name.replace('_', '-')}" in result.stdout, name
    assert "--config" in result.stdout
    docs = (Path(__file__).parent.parent / "docs" / "configuration.md").read_text()
    for name in Settings.model_fields:
        assert f"`{name}`" in docs, f"{name} missing from docs/configuration.md"


def test_namespaces_come_from_toml_tables(tmp_path: Path) -> None:
    config = tmp_path / "channels.toml"
    config.write_text(
        "[channel_defaults]\nhistory_size = 10\n\n"
        "[namespaces.room]\nhistory_size = 500\nhistory_ttl = 60\npresence = false\n"
    )
    s = load_settings(config)
    assert s.namespace("room").history_size == 500
    assert s.namespace("room").presence is False
    assert s.namespace("chat").history_size == 10  # no entry: the defaults
    assert s.namespace("").publish is True


def test_bad_payload_key_and_lonely_tls_file_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"payload_keys\[0\] is not a Fernet key"):
        Settings(payload_keys=["not-a-key"])
    cert = tmp_path / "cert.pem"
    cert.write_text("x")
    with pytest.raises(ValueError, match="tls_cert and tls_key go together"):
        Settings(tls_cert=cert)
    with pytest.raises(ValueError, match="no such file"):
        Settings(tls_cert=cert, tls_key=tmp_path / "missing.pem")


def test_a_malformed_allowed_origin_stops_the_start() -> None:
    with pytest.raises(ValidationError, match="not scheme://host"):
        Settings(allowed_origin=["https://app.example.com/path"])
    assert Settings(allowed_origin=["https://*.example.com"]).allowed_origin
