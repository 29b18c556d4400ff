"""What the benchmark ran on: machine, kernel, runtimes and library versions."""

from __future__ import annotations

import json
import os
import platform
import subprocess
from importlib import metadata
from typing import Any

from harness.config import BENCH_DIR, ROOT
from harness.procs import run_bounded

PY_PACKAGES = ("switchboard", "picows", "aiofastnet", "uvloop", "msgspec", "aiohttp")


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _command_output(argv: list[str]) -> str | None:
    try:
        proc = run_bounded(argv, timeout_s=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if proc.returncode != 0:
        return None
    return proc.stdout.strip() or None


def _node_ws_version() -> str | None:
    try:
        with open(BENCH_DIR / "node_modules" / "ws" / "package.json", encoding="utf-8") as fh:
            return str(json.load(fh)["version"])
    except (OSError, KeyError, ValueError):
        return None


def git_revision() -> str | None:
    """The checkout's short revision, noting uncommitted changes under src/ (None: no git)."""
    rev = _command_output(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"])
    if rev is None:
        return None
    dirty = _command_output(["git", "-C", str(ROOT), "status", "--porcelain", "--", "src"])
    return f"{rev} (src/ has uncommitted changes)" if dirty else rev


def collect() -> dict[str, Any]:
    versions: dict[str, str | None] = {}
    for name in PY_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    versions["node"] = _command_output(["node", "--version"])
    versions["ws"] = _node_ws_version()
    versions["gcc"] = _command_output(["gcc", "-dumpfullversion"])
    return {
        "nproc": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "git_revision": git_revision(),
        "versions": versions,
    }
