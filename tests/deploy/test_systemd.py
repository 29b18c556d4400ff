"""deploy/systemd/switchboard.service: accepted by ``systemd-analyze verify`` (systemd's own
parser: unknown keys, bad values, a missing binary), serving ``--workers auto`` with flags
``serve`` has, and a stop timeout past the drain and the supervisor's own kill."""

from __future__ import annotations

import configparser
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .files import DEPLOY, flags_serve_lacks

UNIT = DEPLOY / "systemd" / "switchboard.service"
#: Where the unit's install steps put the console script.
INSTALLED = "/opt/switchboard/bin/switchboard"
#: The supervisor SIGKILLs a worker this long after its drain (workers/supervisor.py).
STOP_SLACK = 10


def service() -> configparser.SectionProxy:
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(UNIT.read_text())
    return parser["Service"]


def exec_start() -> list[str]:
    return shlex.split(service()["ExecStart"])


def test_systemd_accepts_the_unit(tmp_path: Path) -> None:
    """Verified as systemd loads it, the binary at its install path replaced by this
    environment's (systemd checks that it exists and is executable)."""
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.fail("systemd-analyze is not installed (Debian's systemd package)")
    here = Path(sys.executable).with_name("switchboard")
    assert here.is_file()
    unit = tmp_path / UNIT.name
    unit.write_text(UNIT.read_text().replace(INSTALLED, str(here)))
    checked = subprocess.run(
        [analyze, "verify", str(unit)], capture_output=True, text=True, check=False
    )
    assert checked.returncode == 0 and not (checked.stdout + checked.stderr).strip(), (
        checked.stdout + checked.stderr
    )


def test_it_serves_every_core_with_flags_serve_has() -> None:
    command = exec_start()
    assert command[:2] == [INSTALLED, "serve"]
    assert command[command.index("--workers") + 1] == "auto"
    assert flags_serve_lacks({word for word in command if word.startswith("--")}) == []


def test_the_stop_outlasts_the_drain_and_signals_the_supervisor_only() -> None:
    command = exec_start()
    grace = float(command[command.index("--drain-grace") + 1])
    drain = float(command[command.index("--drain-timeout") + 1])
    assert int(service()["TimeoutStopSec"]) > grace + drain + STOP_SLACK
    assert service()["KillSignal"] == "SIGTERM"
    assert service()["KillMode"] == "mixed"  # the supervisor forwards SIGTERM itself
    assert int(service()["LimitNOFILE"]) >= 65536
