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
    assert shown["Settings file"] == ["--config"]  # first, in a panel of its own


def test_serve_help_offers_no_flag_for_a_toml_only_setting() -> None:
    result = run("serve", "--help")
    assert result.exit_code == 0, result.output
    listed = {flag for flags in panels(result.stdout).values() for flag in flags}
    for name in TOML_ONLY:
        assert f"--{name.replace('_', '-')}" not in listed
        assert name in result.stdout  # named by --config's help
    assert "Other" not in panels(result.stdout)


def test_serve_help_shows_every_default_including_lists() -> None:
    result = run("serve", "--help")
    assert "PydanticUndefined" not in result.stdout
    assert re.search(r"--trusted-proxies .*\(default: none\)", result.stdout)


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


@pytest.mark.parametrize("args", [["version"], ["--version"], ["-V"]])
def test_version_prints_the_installed_version(args: list[str]) -> None:
    result = run(*args)
    assert result.exit_code == 0
    assert result.stdout.strip() == version("switchboard")


@pytest.mark.parametrize("command", [[], ["serve"], ["nodes"], ["bench"]])
def test_dash_h_is_help(command: list[str]) -> None:
    result = run(*command, "-h")
    assert result.exit_code == 0
    assert "Usage: " in result.stdout and "Options" in result.stdout


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


def test_a_toml_typo_names_the_file_and_the_closest_setting(tmp_path: Path) -> None:
    config = tmp_path / "switchboard.toml"
    config.write_text("prot = 9000\n[namespaces.room]\nhistory_sise = 5\n")
    result = run("serve", "--config", str(config))
    assert result.exit_code == 2
    assert result.stderr.splitlines()[1:] == [
        f"  namespaces.room.history_sise (in {config}): not a setting; did you mean "
        "`history_size`?",
        f"  prot (in {config}): not a setting; did you mean `port`?",
    ]


def test_a_file_that_is_not_toml_is_named(tmp_path: Path) -> None:
    config = tmp_path / "switchboard.toml"
    config.write_text("port = \n")
    result = run("serve", "--config", str(config))
    assert result.exit_code == 2
    assert f"{config} is not valid TOML: Invalid value (at line 1, column 8)" in result.stderr
    assert "Traceback" not in result.output


def test_each_error_names_the_layer_its_value_came_from(tmp_path: Path) -> None:
    config = tmp_path / "switchboard.toml"
    config.write_text('api_key = "toml-secret"\nping_timeout = 0\n')
    result = CliRunner().invoke(
        cli,
        ["serve", "--config", str(config), "--port", "70000"],
        env={"COLUMNS": "200", "SWITCHBOARD_PING_TIMEOUT": "-1"},
    )
    assert result.exit_code == 2
    lines = result.stderr.splitlines()
    assert lines[0] == "switchboard: invalid settings:"
    assert sorted(lines[1:]) == [
        f"  api_key (in {config}): String should have at least 16 characters",
        "  ping_timeout (SWITCHBOARD_PING_TIMEOUT): Input should be greater than 0",
        "  port (--port): Input should be less than or equal to 65535",
    ]
    assert "toml-secret" not in result.output
