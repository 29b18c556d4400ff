"""The Dockerfile, read with BuildKit's own parser (the ``dockerfile`` package binds it), says
what the issue asks: two stages on a slim Python 3.11, the runtime dependencies only, a
non-root numeric user, the three ports, SIGTERM, a healthcheck on /health; and .dockerignore
lets in only what it copies. (No engine runs here: the image itself is not built.)"""

from __future__ import annotations

import fnmatch
import subprocess
import sys
import tomllib
from typing import Any

import dockerfile

from .files import ROOT

COMMANDS = dockerfile.parse_file(str(ROOT / "Dockerfile"))


def stages() -> list[list[Any]]:
    """The instructions of each stage, its FROM first."""
    found: list[list[Any]] = []
    for command in COMMANDS:
        if command.cmd == "FROM":
            found.append([])
        if found:
            found[-1].append(command)
    return found


def runtime(cmd: str) -> list[Any]:
    return [command for command in stages()[-1] if command.cmd == cmd]


def build_args() -> dict[str, str]:
    args = [c for c in COMMANDS if c.cmd == "ARG"]
    return dict(arg.value[0].split("=", 1) for arg in args)


def test_two_stages_on_a_slim_python_311() -> None:
    assert len(stages()) == 2
    bases = [stage[0].value[0] for stage in stages()]
    assert bases == ["${PYTHON_IMAGE}", "${PYTHON_IMAGE}"]
    assert build_args()["PYTHON_IMAGE"].startswith("python:3.11-slim")
    copied = [c for c in stages()[1] if c.cmd == "COPY"]
    assert [c.flags for c in copied] == [("--from=build",)]  # nothing from the context


def test_only_the_runtime_dependencies_are_installed() -> None:
    """``pip install .``: no extras, no requirement named outside [project.dependencies]."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    extras = {
        requirement.split("[")[0].split(">")[0].split("=")[0].strip().lower()
        for group in pyproject["project"]["optional-dependencies"].values()
        for requirement in group
    }
    runs = " ".join(c.value[0] for c in stages()[0] if c.cmd == "RUN")
    assert "pip install . " in runs + " "
    assert "[" not in runs and "-r " not in runs and "requirements" not in runs
    assert not {word.lower() for word in runs.split()} & extras, extras
    assert "pip uninstall --yes pip setuptools" in runs
    assert not [c for c in stages()[1] if c.cmd == "RUN" and "pip" in c.value[0]]


def test_the_runtime_user_is_numeric_and_not_root() -> None:
    [user] = runtime("USER")
    uid, _, gid = user.value[0].partition(":")
    assert uid.isdigit() and int(uid) != 0 and gid.isdigit() and int(gid) != 0
    assert int(uid) == 10001  # the Deployment's runAsUser
    [entrypoint] = runtime("ENTRYPOINT")
    assert entrypoint.json and entrypoint.value == ("switchboard",)  # exec form: PID 1 gets SIGTERM


def test_ports_stop_signal_and_healthcheck() -> None:
    [expose] = runtime("EXPOSE")
    assert set(expose.value) == {"8080", "8081", "9090"}
    [stop] = runtime("STOPSIGNAL")
    assert stop.value == ("SIGTERM",)
    [check] = runtime("HEALTHCHECK")
    assert check.json and check.value[0] == "CMD"
    assert "http://127.0.0.1:9090/health" in check.value[-1]
    flags = dict(flag.lstrip("-").split("=") for flag in check.flags)
    assert set(flags) >= {"interval", "timeout", "start-period", "retries"}


def test_the_healthcheck_command_is_valid_python() -> None:
    """What the image runs (exec form): compiled here; tests/deploy/test_container_boot.py
    runs it against a node."""
    [check] = runtime("HEALTHCHECK")
    program, flag, code = check.value[1:]
    assert (program, flag) == ("python", "-c")
    compile(code, "HEALTHCHECK", "exec")
    failed = subprocess.run(
        [sys.executable, "-c", code.replace("127.0.0.1:9090", "127.0.0.1:1")],
        capture_output=True,
        check=False,
    )
    assert failed.returncode == 1  # unhealthy when nothing answers


def test_the_default_command_serves() -> None:
    [cmd] = runtime("CMD")
    assert cmd.json and cmd.value[0] == "serve"


def dockerignore() -> list[str]:
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def ignored(path: str) -> bool:
    """Docker's rule: the last pattern that matches a path (or a parent of it) decides."""
    verdict = False
    for pattern in dockerignore():
        negated = pattern.startswith("!")
        pattern = pattern.lstrip("!").rstrip("/")
        parts = path.split("/")
        prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
        if pattern.startswith("**/"):
            hit = any(fnmatch.fnmatch(part, pattern[3:]) for part in parts)
        else:
            hit = any(fnmatch.fnmatch(prefix, pattern) for prefix in prefixes)
        if hit:
            verdict = not negated
    return verdict


def test_dockerignore_lets_in_what_the_dockerfile_copies_and_nothing_else() -> None:
    copied = [c.value[:-1] for c in stages()[0] if c.cmd == "COPY"]
    for sources in copied:
        for source in sources:
            assert not ignored(source.rstrip("/")), source
    tracked = subprocess.run(
        ["git", "-C", str(ROOT), "ls-files"], capture_output=True, text=True, check=True
    ).stdout.split()
    sent = {path for path in tracked if not ignored(path)}
    assert sent, "nothing would be sent"
    assert {path.split("/")[0] for path in sent} <= {"pyproject.toml", "README.md", "src"}
    assert ignored("tests/conftest.py") and ignored(".venv/bin/python")
    assert ignored("src/switchboard/__pycache__/app.cpython-311.pyc")
