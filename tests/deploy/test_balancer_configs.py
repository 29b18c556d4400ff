"""The deployment files and recipes are what the software takes: HAProxy and nginx accept
``deploy/``'s configurations, and every ``switchboard serve`` flag the docs show exists."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from .files import flags_serve_lacks

ROOT = Path(__file__).resolve().parents[2]
NODES = {"SB_NODE1": "127.0.0.1:1", "SB_NODE2": "127.0.0.1:2", "SB_NODE3": "127.0.0.1:3"}


def test_haproxy_accepts_the_shipped_configuration() -> None:
    haproxy = shutil.which("haproxy")
    if haproxy is None:
        pytest.fail("haproxy is not installed (make test installs it)")
    env = {**os.environ, **NODES, "SB_BIND": "127.0.0.1:1"}
    env |= {f"SB_AGENT{n}": "8081" for n in (1, 2, 3)}
    checked = subprocess.run(
        [haproxy, "-c", "-f", str(ROOT / "deploy" / "haproxy.cfg")],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_nginx_accepts_the_shipped_configuration(tmp_path: Path) -> None:
    nginx = shutil.which("nginx")
    if nginx is None:
        pytest.fail("nginx is not installed (make test installs it)")
    values = {**NODES, "SB_LISTEN": "127.0.0.1:1"}
    template = (ROOT / "deploy" / "nginx.conf").read_text()
    rendered = re.sub(r"\$\{(SB_[A-Z0-9_]+)\}", lambda m: values[m[1]], template)
    settings = [line for line in rendered.splitlines() if not line.lstrip().startswith("#")]
    assert not [line for line in settings if "${" in line]  # each placeholder is filled in
    (tmp_path / "nginx.conf").write_text(rendered)
    (tmp_path / "logs").mkdir()
    run_here = f"pid {tmp_path / 'nginx.pid'};"
    checked = subprocess.run(
        [nginx, "-t", "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf"), "-g", run_here],
        capture_output=True,
        text=True,
        check=False,
    )
    assert checked.returncode == 0, checked.stderr


@pytest.mark.parametrize("page", ["deployment.md", "clustering.md"])
def test_every_serve_flag_the_docs_show_exists(page: str) -> None:
    text = (ROOT / "docs" / page).read_text()
    commands = re.findall(r"switchboard serve(?:[^\n`]|\\\n)*", text)
    shown = {flag for command in commands for flag in re.findall(r"--[a-z][a-z-]+", command)}
    assert shown, f"no serve command in {page}"
    missing = flags_serve_lacks(shown)
    assert not missing, f"{page} shows flags serve does not have: {missing}"
