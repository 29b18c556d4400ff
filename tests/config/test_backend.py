"""Backend settings: one TOML table, validated, its secret never shown."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from switchboard.config import TOML_ONLY, Settings, load_settings
from switchboard.config.errors import settings_errors

SECRET = "signing-secret-0123456789"

TOML = f"""
[backend]
secret = "{SECRET}"
timeout = 2.5
concurrency = 10

[backend.routes]
"$connect" = "http://127.0.0.1:9000/connect"
"$default" = "http://127.0.0.1:9000/default"
save = {{ url = "https://backend.internal/save", idempotent = true }}
"""


def test_routes_come_from_a_toml_table_with_a_url_shorthand(tmp_path: Path) -> None:
    config = tmp_path / "backend.toml"
    config.write_text(TOML)
    backend = load_settings(config).backend
    assert backend.enabled
    assert backend.routes["$connect"].url == "http://127.0.0.1:9000/connect"
    assert backend.routes["$connect"].idempotent is False
    assert backend.routes["save"].idempotent is True
    assert (backend.timeout, backend.concurrency, backend.retries) == (2.5, 10, 2)
    assert backend.secret is not None and backend.secret.get_secret_value() == SECRET


def test_defaults_call_no_backend() -> None:
    backend = Settings().backend
    assert not backend.enabled
    assert backend.timeout == 10.0
    assert "authorization" not in backend.forward_headers
    assert "cookie" not in backend.forward_headers


def test_the_environment_adds_the_secret_to_the_files_routes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "backend.toml"
    config.write_text('[backend.routes]\nchat = "http://127.0.0.1:9000/chat"\n')
    monkeypatch.setenv("SWITCHBOARD_BACKEND", json.dumps({"secret": SECRET}))
    backend = load_settings(config).backend
    assert backend.routes["chat"].url == "http://127.0.0.1:9000/chat"
    assert backend.secret is not None and backend.secret.get_secret_value() == SECRET


def test_routes_need_a_secret_long_enough() -> None:
    routes = {"chat": "http://127.0.0.1:9000/chat"}
    with pytest.raises(ValidationError, match=r"backend\.secret is required"):
        Settings(backend={"routes": routes})
    with pytest.raises(ValidationError, match="at least 16"):
        Settings(backend={"routes": routes, "secret": "short"})


def test_a_bad_url_is_refused_without_repeating_it() -> None:
    url = "ftp://user:hunter2-password@host/x"
    with pytest.raises(ValidationError) as refused:
        Settings(backend={"routes": {"chat": url}, "secret": SECRET})
    lines = settings_errors(refused.value)  # what `switchboard serve` prints
    assert lines == [
        "backend.routes.chat.url (the TOML file or SWITCHBOARD_BACKEND): "
        "Value error, a backend route needs an http:// or https:// URL with a host"
    ]


def test_unknown_keys_are_refused() -> None:
    with pytest.raises(ValidationError, match="timout"):
        Settings(backend={"timout": 3})


def test_the_secret_never_shows_in_reprs_or_dumps() -> None:
    s = Settings(backend={"routes": {"chat": "http://127.0.0.1:1/c"}, "secret": SECRET})
    assert SECRET not in repr(s)
    assert SECRET not in json.dumps(s.model_dump(mode="json"))


def test_the_table_is_toml_only_not_a_flag() -> None:
    assert "backend" in TOML_ONLY
    result = subprocess.run(
        [sys.executable, "-m", "switchboard", "serve", "--help"],
        capture_output=True,
        text=True,
        timeout=30,
        env={"COLUMNS": "200", "PATH": ""},
    )
    assert result.returncode == 0, result.stderr
    assert "--backend" not in result.stdout
