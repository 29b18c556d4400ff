"""The ``switchboard`` command line: its help, and how it refuses what it cannot serve.

Run in-process with typer's runner; only what stops before the server runs is driven here
(a real ``switchboard serve`` is ``tests/e2e/test_process.py``'s)."""

from __future__ import annotations

import re
import sys
from importlib.metadata import version
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from switchboard.cli import CLI_GROUPS, cli
from switchboard.config import TOML_ONLY

PANEL = re.compile(r"^╭─ (.+?) ─")
FLAG = re.compile(r"(?<![\w-])--[a-z][a-z-]*")


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), env={"COLUMNS": "200"})


def panels(help_text: str) -> dict[str, list[str]]:
    """The flags ``--help`` lists in each panel, the panels in the order shown."""
    found: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in help_text.splitlines():
        opened = PANEL.match(line)
        if opened:
            current = found.setdefault(opened.group(1), [])
        elif line.startswith("╰"):
            current = None
        elif current is not None:
            current += FLAG.findall(line)
    return found


def test_serve_help_lists_every_setting_under_its_group_in_order() -> None:
    result = run("serve", "--help")
    assert result.exit_code == 0, result.output
    shown = panels(result.stdout)
    groups = list(dict.fromkeys(CLI_GROUPS.values()))
    assert [name for name in shown if name in groups] == groups
    for name, group in CLI_GROUPS.items():
        assert f"--{name.replace('_', '-')}" in shown[group], (name, group)
    assert "--config" in shown["Network"]


@pytest.mark.xfail(
    strict=True,
    reason="cli.py generates flags for the TOML-only settings too: --channel-defaults and "
    "--namespaces show under 'Other' with '(default: PydanticUndefined)' and refuse any value",
)
def test_serve_help_offers_no_flag_for_a_toml_only_setting() -> None:
    result = run("serve", "--help")
    assert result.exit_code == 0, result.output
    listed = {flag for flags in panels(result.stdout).values() for flag in flags}
    for name in TOML_ONLY:
        assert f"--{name.replace('_', '-')}" not in listed


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--port", "abc"], "--port"),  # not an integer: refused by the flag parser
        (["--slow-consumer-policy", "never"], "--slow-consumer-policy"),  # not a choice
        (["--ping-timeout", "0"], "ping_timeout"),  # out of range: refused by the settings
        (["--log-level", "loud"], "log_level"),
        (["--port", "70000"], "port"),
    ],
)
def test_a_bad_flag_value_exits_2_naming_the_setting(args: list[str], named: str) -> None:
    result = run("serve", *args)
    assert result.exit_code == 2
    assert named in result.stderr
    assert "Traceback" not in result.output


def test_an_app_that_cannot_be_imported_exits_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # serve imports the target from the working directory
    monkeypatch.setattr(sys, "path", list(sys.path))
    result = run("serve", "no_such_module_here:app", "--port", "0")
    assert result.exit_code == 2
    assert "cannot load 'no_such_module_here:app'" in result.stderr


def test_version_prints_the_installed_version() -> None:
    result = run("version")
    assert result.exit_code == 0
    assert result.stdout.strip() == version("switchboard")


@pytest.mark.parametrize(
    ("args", "secret", "named"),
    [
        (["--broker", "http://ann:hunter2-secret@127.0.0.1:6379"], "hunter2-secret", "--broker"),
        (["--api-key", "short-secret"], "short-secret", "--api-key"),
    ],
)
def test_a_settings_error_names_the_flag_but_never_echoes_the_value(
    args: list[str], secret: str, named: str
) -> None:
    result = run("serve", *args)
    assert result.exit_code == 2
    assert named in result.stderr
    assert secret not in result.output
    assert "pydantic" not in result.output and "input_value" not in result.output
