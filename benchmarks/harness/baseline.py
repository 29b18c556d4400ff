"""A/B by git revision: Switchboard from another revision's source tree, as one more server.

``baseline_worktree(rev)`` checks ``rev`` out with ``git worktree add --detach`` into a fresh
temporary directory (the work tree in the repository is never touched) and removes it with
``git worktree remove --force`` on the way out, whatever the way out is. The server it
describes runs the venv's interpreter as ``python -P -m switchboard serve ...`` with
``PYTHONPATH=<worktree>/src``: PYTHONPATH precedes site-packages, where the editable install
of the current tree lives, and ``-P`` keeps the working directory off ``sys.path``. The check
proves it by importing ``switchboard`` with that environment and comparing its path.
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

from harness.config import ROOT
from harness.procs import run_bounded
from harness.servers import SERVERS, ServerSpec, python, switchboard_args

SUBJECT = "switchboard"
GIT_TIMEOUT_S = 120.0


class BaselineError(RuntimeError):
    """The revision cannot be resolved or checked out."""


@dataclass(frozen=True)
class Baseline:
    """A checked-out revision and the server that runs from it."""

    rev: str  # as given on the command line
    commit: str  # full SHA-1
    short: str
    tree: Path  # the worktree
    spec: ServerSpec

    def describe(self) -> dict[str, str]:
        return {
            "server": self.spec.name,
            "label": self.spec.label,
            "rev": self.rev,
            "commit": self.commit,
            "short": self.short,
        }


def _git(*args: str) -> subprocess.CompletedProcess[str]:
    return run_bounded(["git", "-C", str(ROOT), *args], timeout_s=GIT_TIMEOUT_S)


def resolve(rev: str) -> tuple[str, str]:
    """(full SHA-1, short SHA-1) of ``rev``, or BaselineError."""
    proc = _git("rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}")
    if proc.returncode != 0 or not proc.stdout.strip():
        raise BaselineError(f"--baseline {rev!r} is not a commit in {ROOT}")
    commit = proc.stdout.strip()
    short = _git("rev-parse", "--short", commit).stdout.strip() or commit[:7]
    return commit, short


def _module_check(tree: Path, env: dict[str, str]) -> str | None:
    """None if ``python -P -m switchboard serve --help`` works and imports from ``tree``."""
    src = (tree / "src").resolve()
    code = "import switchboard; print(switchboard.__file__)"
    try:
        proc = run_bounded([python(), "-P", "-c", code], timeout_s=30, env=env)
    except subprocess.TimeoutExpired:
        return "importing switchboard did not finish within 30s"
    found = proc.stdout.strip()
    if proc.returncode != 0 or not found:
        return f"cannot import switchboard from {src}: {proc.stderr.strip()[-300:]}"
    if not Path(found).resolve().is_relative_to(src):
        return f"imports switchboard from {found}, not from the worktree {src}"
    print(f"[baseline] switchboard imported from {found}", flush=True)
    help_argv = [python(), "-P", "-m", "switchboard", "serve", "--help"]
    try:
        proc = run_bounded(help_argv, timeout_s=30, env=env)
    except subprocess.TimeoutExpired:
        return "`python -m switchboard serve --help` did not finish within 30s"
    if proc.returncode != 0:
        last = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["(no output)"]
        return f"`python -m switchboard serve --help` exited {proc.returncode}: {last[0]}"
    return None


def _spec(short: str, tree: Path) -> ServerSpec:
    env = {"PYTHONPATH": str(tree / "src")}

    def command(port: str) -> list[str]:
        return [python(), "-P", "-m", "switchboard", *switchboard_args(port)]

    # Same features as the current tree: it takes part in every scenario "switchboard" does.
    return replace(
        SERVERS[SUBJECT],
        name=f"{SUBJECT}@{short}",
        label=f"Switchboard at {short}",
        command=command,
        check=lambda: _module_check(tree, env),
        env=env,
        display_aliases=((str(tree), f"<worktree of {short}>"),),
    )


@contextlib.contextmanager
def baseline_worktree(rev: str) -> Iterator[Baseline]:
    """Check ``rev`` out into a temporary worktree for the duration of the block."""
    commit, short = resolve(rev)
    parent = Path(tempfile.mkdtemp(prefix=f"switchboard-{short}-"))
    tree = parent / "tree"
    try:
        proc = _git("worktree", "add", "--detach", str(tree), commit)
        if proc.returncode != 0:
            raise BaselineError(f"git worktree add failed: {proc.stderr.strip()[-300:]}")
        print(f"[baseline] {rev} = {short}: worktree at {tree}", flush=True)
        yield Baseline(rev, commit, short, tree, _spec(short, tree))
    finally:
        _remove(parent, tree)


def _remove(parent: Path, tree: Path) -> None:
    """Remove the worktree and its directory; a second Ctrl-C must not cut this short."""
    previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        failed = False
        if tree.exists():
            proc = _git("worktree", "remove", "--force", str(tree))
            if proc.returncode != 0:
                failed = True
                print(f"[baseline] git worktree remove: {proc.stderr.strip()}", flush=True)
        shutil.rmtree(parent, ignore_errors=True)
        if failed:
            _git("worktree", "prune")  # forget the entry whose directory is now gone
        print(f"[baseline] worktree {tree} removed", flush=True)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
