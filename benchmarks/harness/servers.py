"""The servers under test: how to start each one and whether it can run on this machine."""

from __future__ import annotations

import shutil
import subprocess
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from harness.config import BENCH_DIR, HOST, ROOT, SERVERS_DIR, VENV_BIN, WS_PATH
from harness.procs import run_bounded

NPM_TIMEOUT_S = 300.0
PIP_TIMEOUT_S = 600.0  # socketify builds its wheel from the source distribution


@dataclass(frozen=True)
class ServerSpec:
    name: str
    label: str
    command: Callable[[str], list[str]]  # port -> argv (not yet pinned)
    check: Callable[[], str | None]  # None if runnable, else why not
    features: frozenset[str] = frozenset()  # what scenarios in loadgen.REQUIRES may ask for
    env: Mapping[str, str] = field(default_factory=dict)  # set on top of the harness's own
    # (path, placeholder) pairs for documented command lines, e.g. a temporary directory
    display_aliases: tuple[tuple[str, str], ...] = ()


def python() -> str:
    venv_python = VENV_BIN / "python"
    return str(venv_python) if venv_python.exists() else "python3"


def _switchboard_bin() -> str | None:
    venv_bin = VENV_BIN / "switchboard"
    return str(venv_bin) if venv_bin.exists() else shutil.which("switchboard")


def switchboard_args(port: str) -> list[str]:
    """``serve`` and its options: the same for every Switchboard under test."""
    return [
        "serve",
        "--host",
        HOST,
        "--port",
        port,
        "--path",
        WS_PATH,
        "--log-level",
        "warning",
        "--admin-port",
        "0",
    ]


def _switchboard_cmd(port: str) -> list[str]:
    return [_switchboard_bin() or "switchboard", *switchboard_args(port)]


def _check_switchboard() -> str | None:
    exe = _switchboard_bin()
    if exe is None:
        return "no `switchboard` executable in .venv/bin or on PATH"
    try:
        proc = run_bounded([exe, "serve", "--help"], timeout_s=20)
    except subprocess.TimeoutExpired:
        return "`switchboard serve --help` did not finish within 20s"
    if proc.returncode != 0:
        last = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["(no output)"]
        return f"`switchboard serve --help` exited {proc.returncode}: {last[0]}"
    return None


def _python_server(script: str) -> Callable[[str], list[str]]:
    def command(port: str) -> list[str]:
        return [python(), str(SERVERS_DIR / script), "--host", HOST, "--port", port]

    return command


def _check_python_modules(*modules: str) -> Callable[[], str | None]:
    def check() -> str | None:
        code = "import " + ", ".join(modules)
        proc = run_bounded([python(), "-c", code], timeout_s=30)
        if proc.returncode == 0:
            return None
        last = proc.stderr.strip().splitlines()[-1:] or ["(no output)"]
        return f"cannot import {', '.join(modules)} ({last[0]})"

    return check


def _bench_extra() -> list[str]:
    """The requirements of pyproject.toml's ``bench`` extra (the benchmark-only baselines)."""
    with (ROOT / "pyproject.toml").open("rb") as file:
        extras = tomllib.load(file)["project"]["optional-dependencies"]
    return [str(requirement) for requirement in extras.get("bench", [])]


def _check_socketify() -> str | None:
    """socketify must import; install the ``bench`` extra into the venv if it is missing."""
    check = _check_python_modules("socketify", "msgspec")
    if check() is None:
        return None
    argv = [python(), "-m", "pip", "install", "-q", *_bench_extra()]
    print(f"[setup] {' '.join(argv)}", flush=True)
    try:
        proc = run_bounded(argv, timeout_s=PIP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        return f"`{' '.join(argv)}` did not finish within {PIP_TIMEOUT_S:.0f}s"
    if proc.returncode != 0:
        return f"`{' '.join(argv)}` failed: {proc.stderr.strip()[-300:]}"
    return check()


def _node_cmd(port: str) -> list[str]:
    return ["node", str(SERVERS_DIR / "node_ws_server.js"), "--host", HOST, "--port", port]


def _check_node() -> str | None:
    """Node must exist; install the pinned `ws` package into benchmarks/ if it is missing."""
    if shutil.which("node") is None:
        return "`node` not found on PATH"
    if (BENCH_DIR / "node_modules" / "ws" / "package.json").exists():
        return None
    if shutil.which("npm") is None:
        return "benchmarks/node_modules is missing and `npm` is not on PATH"
    has_lock = (BENCH_DIR / "package-lock.json").exists()
    argv = ["npm", "ci" if has_lock else "install", "--no-audit", "--no-fund"]
    print(f"[setup] {' '.join(argv)} in {BENCH_DIR}", flush=True)
    try:
        proc = subprocess.run(
            argv, cwd=BENCH_DIR, capture_output=True, text=True, timeout=NPM_TIMEOUT_S, check=False
        )
    except subprocess.TimeoutExpired:
        return f"`{' '.join(argv)}` did not finish within {NPM_TIMEOUT_S:.0f}s"
    if proc.returncode != 0:
        return f"`{' '.join(argv)}` failed: {proc.stderr.strip()[-300:]}"
    return None


def display_command(spec: ServerSpec) -> str:
    """The server's command line with PORT as a placeholder and paths relative to the repo."""
    env = ["env", *(f"{key}={value}" for key, value in spec.env.items())] if spec.env else []
    text = " ".join([*env, *spec.command("PORT")])
    for path, alias in spec.display_aliases:
        text = text.replace(path, alias)
    return text.replace(f"{ROOT}/", "")


SERVERS: dict[str, ServerSpec] = {
    spec.name: spec
    for spec in (
        ServerSpec(
            "switchboard",
            "Switchboard",
            _switchboard_cmd,
            _check_switchboard,
            features=frozenset({"channels", "codecs", "deflate", "metrics"}),
        ),
        ServerSpec(
            "picows_raw",
            "picows raw (uvloop, msgspec)",
            _python_server("picows_raw.py"),
            _check_python_modules("picows", "uvloop", "msgspec"),
        ),
        ServerSpec(
            "picows_min",
            "picows minimal corked (uvloop, msgspec)",
            _python_server("picows_min.py"),
            _check_python_modules("picows", "uvloop", "msgspec"),
        ),
        ServerSpec(
            "socketify",
            "uWebSockets via socketify (msgspec)",
            _python_server("socketify_server.py"),
            _check_socketify,
        ),
        ServerSpec(
            "aiohttp",
            "aiohttp (stdlib json)",
            _python_server("aiohttp_server.py"),
            _check_python_modules("aiohttp"),
        ),
        ServerSpec("node_ws", "Node ws 8.23.0", _node_cmd, _check_node),
    )
}
