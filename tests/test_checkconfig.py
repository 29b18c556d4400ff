"""``switchboard check-config``: the effective settings, where each came from, and no
secret in what it prints."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from switchboard.cli import cli

KEY = "check-config-api-key-0123456789"


def run(*args: str, env: dict[str, str]) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["check-config", *args], env={"COLUMNS": "200", **env})
    return result.exit_code, result.stdout + (result.stderr or "")


def test_each_setting_says_where_it_came_from_and_secrets_stay_hidden(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SWITCHBOARD_PORT", raising=False)
    config = tmp_path / "switchboard.toml"
    config.write_text('port = 9000\nbroker = "redis://ann:pw-in-url@127.0.0.1:6379/0"\n')
    code, out = run("--config", str(config), "--json", env={"SWITCHBOARD_API_KEY": KEY})
    assert code == 0
    rows = {row["setting"]: row for row in json.loads(out)}
    assert rows["port"] == {"setting": "port", "value": 9000, "source": str(config)}
    assert rows["api_key"]["value"] == "***"
    assert rows["api_key"]["source"] == "SWITCHBOARD_API_KEY"
    assert rows["broker"]["value"] == "redis://ann:***@127.0.0.1:6379/0"
    assert rows["drain_timeout"]["source"] == "default"
    assert KEY not in out and "pw-in-url" not in out


def test_changed_lists_only_what_is_not_a_default(tmp_path: Path) -> None:
    config = tmp_path / "switchboard.toml"
    config.write_text("drain_grace = 2\n")
    code, out = run("--config", str(config), "--changed", env={})
    assert code == 0
    assert [line.split()[0] for line in out.splitlines()] == ["drain_grace"]


def test_a_bad_value_fails_as_serve_would_without_echoing_it(tmp_path: Path) -> None:
    code, out = run(env={"SWITCHBOARD_API_KEY": "short-secret"})
    assert code == 2
    assert "api_key" in out and "short-secret" not in out


def test_backend_routes_and_their_secret_are_masked(tmp_path: Path) -> None:
    config = tmp_path / "switchboard.toml"
    config.write_text(
        "[backend]\n"
        'secret = "backend-signing-secret-0123456789"\n'
        "[backend.routes]\n"
        'chat = "https://svc:route-pw@backend.example:9000/chat"\n'
    )
    code, out = run("--config", str(config), "--json", env={})
    assert code == 0, out
    rows = {row["setting"]: row for row in json.loads(out)}
    route = rows["backend"]["value"]["routes"]["chat"]
    assert route["url"] == "https://svc:***@backend.example:9000/chat"
    assert "route-pw" not in out and "backend-signing-secret" not in out
