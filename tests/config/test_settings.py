"""Settings precedence: defaults < TOML file < SWITCHBOARD_* environment < CLI flags."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError
from pydantic_settings import BaseSettings

from switchboard.cli import CLI_GROUPS
from switchboard.config import TOML_ONLY, Settings, load_settings

DOCS = Path(__file__).parent.parent.parent / "docs"


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
    docs = (DOCS / "configuration.md").read_text()
    for name in Settings.model_fields:
        assert f"`{name}`" in docs, f"{name} missing from docs/configuration.md"


def test_every_flag_has_a_help_panel() -> None:
    """A new setting lands in a panel of ``serve --help``, not under "Other"."""
    assert set(CLI_GROUPS) == Settings.model_fields.keys() - TOML_ONLY


def test_every_setting_belongs_to_exactly_one_concern() -> None:
    """A new setting is a field of one concern's class, never of ``Settings`` itself."""
    concerns = [base for base in Settings.__bases__ if base is not BaseSettings]
    owners: dict[str, list[str]] = {}
    for concern in concerns:
        for name in concern.model_fields:
            owners.setdefault(name, []).append(concern.__name__)
    assert owners.keys() == Settings.model_fields.keys()
    assert {name: found for name, found in owners.items() if len(found) > 1} == {}
