"""Cluster settings: a node is named after its host and process unless told otherwise;
``workers`` is a number or ``auto``."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest
from pydantic import ValidationError

from switchboard.config import Settings, load_settings


def test_a_node_is_named_after_its_host_and_process_by_default(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("SWITCHBOARD_NODE_ID", raising=False)
    assert Settings().node_id == f"{socket.gethostname()}-{os.getpid()}"


@pytest.mark.parametrize(("given", "read"), [("2", 2), (3, 3), ("auto", "auto")])
def test_workers_is_a_number_or_auto(given: object, read: object) -> None:
    assert Settings(workers=given).workers == read


@pytest.mark.parametrize("given", [0, "-1", "many", "1.5"])
def test_workers_refuses_anything_else(given: object) -> None:
    with pytest.raises(ValidationError):
        Settings(workers=given)


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
