"""Channel settings: namespace options come from TOML tables, with defaults for the rest."""

from __future__ import annotations

from pathlib import Path

from switchboard.config import load_settings


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
