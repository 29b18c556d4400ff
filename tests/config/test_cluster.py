"""Cluster settings: a node is named after its host unless told otherwise."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from switchboard.config import Settings, load_settings


def test_a_node_is_named_after_its_host_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SWITCHBOARD_NODE_ID", raising=False)
    assert Settings().node_id == socket.gethostname()


def test_the_name_comes_from_the_file_then_the_environment_then_a_keyword(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "switchboard.toml"
    config.write_text('node_id = "from-file"\n')
    monkeypatch.delenv("SWITCHBOARD_NODE_ID", raising=False)
    assert load_settings(config).node_id == "from-file"
    monkeypatch.setenv("SWITCHBOARD_NODE_ID", "from-env")
    assert load_settings(config).node_id == "from-env"
    assert load_settings(config, node_id="from-flag").node_id == "from-flag"
