"""Edge settings: an upstream must be a ws:// or wss:// URL, the token is a secret that no
repr, dump or log shows, and each comes from the file, the environment or a keyword."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from switchboard.config import Settings, load_settings


def test_an_edge_is_off_by_default_with_a_few_upstream_connections() -> None:
    settings = Settings()
    assert settings.upstream is None and settings.upstream_token is None
    assert settings.edge_upstream_connections == 2
    assert settings.edge_buffer == 1000


@pytest.mark.parametrize(
    "url", ["http://central:8080/ws", "central:8080", "ws://", "redis://central:6379"]
)
def test_the_upstream_must_be_a_websocket_url(url: str) -> None:
    with pytest.raises(ValidationError, match="ws:// or wss://"):
        Settings(upstream=url)


@pytest.mark.parametrize("url", ["ws://central:8080/ws", "wss://central.example.com/ws"])
def test_websocket_urls_are_taken(url: str) -> None:
    assert Settings(upstream=url).upstream == url


def test_the_upstream_token_never_shows(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SWITCHBOARD_UPSTREAM_TOKEN", "edge-token-0123456789")
    settings = load_settings()
    assert settings.upstream_token is not None
    assert settings.upstream_token.get_secret_value() == "edge-token-0123456789"
    assert "edge-token-0123456789" not in repr(settings)
    assert "edge-token-0123456789" not in str(settings.model_dump())


@pytest.mark.parametrize(
    ("field", "value"),
    [("edge_upstream_connections", 0), ("edge_upstream_connections", 17), ("edge_buffer", -1)],
)
def test_bounds_are_kept(field: str, value: int) -> None:
    with pytest.raises(ValidationError):
        Settings(**{field: value})


def test_edge_settings_come_from_the_file(tmp_path: Path) -> None:
    config = tmp_path / "edge.toml"
    config.write_text('upstream = "ws://central:8080/ws"\nedge_upstream_connections = 4\n')
    settings = load_settings(config)
    assert (settings.upstream, settings.edge_upstream_connections) == ("ws://central:8080/ws", 4)
