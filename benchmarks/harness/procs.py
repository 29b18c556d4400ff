"""Process plumbing: pinned spawning, readiness polling, clean shutdown, descriptor limits.

Every child gets PR_SET_PDEATHSIG so that it dies with the harness even if the harness is
killed, and every wait is bounded.
"""

from __future__ import annotations

import base64
import contextlib
import ctypes
import json
import os
import resource
import signal
import socket
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, Any

from harness.config import HOST

_PR_SET_PDEATHSIG = 1
_libc = ctypes.CDLL(None, use_errno=True)


def _die_with_parent() -> None:
    """Runs in the child between fork and exec."""
    _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def raise_nofile(needed: int) -> tuple[int, int]:
    """Raise RLIMIT_NOFILE (inherited by children) to at least ``needed``; return (soft, hard)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < needed:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (needed, needed))
            soft, hard = needed, needed
    target = hard if hard != resource.RLIM_INFINITY else max(soft, needed)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def pinned(cpu: str, argv: Sequence[str]) -> list[str]:
    """``taskset -c CPU argv...``; taskset execs, so the child's PID is the program's PID."""
    return ["taskset", "-c", cpu, *argv]


def spawn(
    argv: Sequence[str],
    log: IO[bytes],
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> subprocess.Popen[bytes]:
    """Start ``argv`` in its own session; ``env`` is added to the harness's environment."""
    return subprocess.Popen(
        list(argv),
        env={**os.environ, **env} if env else None,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=cwd,
        start_new_session=True,
        preexec_fn=_die_with_parent,
    )


def log_tail(log: IO[bytes], limit: int = 400) -> str:
    """The last ``limit`` characters a child wrote to ``log`` (a temporary file)."""
    log.flush()
    log.seek(0)
    return log.read().decode(errors="replace").strip()[-limit:] or "(no output)"


def interrupt_on_sigterm() -> None:
    """Make SIGTERM raise KeyboardInterrupt, so a script's Ctrl-C clean-up also runs for it."""

    def handler(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, handler)


def spawn_piped(
    argv: Sequence[str], log: IO[bytes], env: Mapping[str, str] | None = None
) -> subprocess.Popen[str]:
    """Start a generator that the harness talks to in lines of text: stdin and stdout are pipes,
    stderr goes to ``log``; its own session, and it dies with the harness."""
    return subprocess.Popen(
        list(argv),
        env={**os.environ, **env} if env else None,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
        start_new_session=True,
        preexec_fn=_die_with_parent,
    )


def kill_all(procs: Sequence[subprocess.Popen[str]]) -> None:
    """SIGKILL the processes (by id) that still run and reap them."""
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
    for proc in procs:
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=5)


def run_bounded(
    argv: Sequence[str], timeout_s: float, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run to completion (killed after ``timeout_s``) and capture text output."""
    return subprocess.run(
        list(argv),
        env={**os.environ, **env} if env else None,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout_s,
        preexec_fn=_die_with_parent,
        check=False,
    )


def stop(proc: subprocess.Popen[bytes], grace_s: float = 5.0) -> None:
    """SIGTERM the process group we created, then SIGKILL it if it lingers."""
    if proc.poll() is not None:
        return
    for sig, wait_s in ((signal.SIGTERM, grace_s), (signal.SIGKILL, 5.0)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout=wait_s)
            return
        except subprocess.TimeoutExpired:
            continue


def websocket_ready(port: int, path: str, timeout_s: float = 1.0) -> bool:
    """True if a WebSocket upgrade on ``path`` is answered with ``101``."""
    key = base64.b64encode(os.urandom(16)).decode()  # RFC 6455: 16 random bytes
    request = (
        f"GET {path} HTTP/1.1\r\nHost: {HOST}:{port}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
        "Sec-WebSocket-Version: 13\r\n\r\n"
    ).encode()
    try:
        with socket.create_connection((HOST, port), timeout=timeout_s) as sock:
            sock.sendall(request)
            head = b""
            while b"\r\n" not in head and len(head) < 4096:
                chunk = sock.recv(4096)
                if not chunk:
                    break
                head += chunk
            return head.startswith(b"HTTP/1.1 101")
    except OSError:
        return False


def wait_ready(proc: subprocess.Popen[bytes], port: int, path: str, timeout_s: float) -> str | None:
    """Poll until the server upgrades a connection; return None when ready, else the reason."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return f"exited with code {proc.returncode} before becoming ready"
        if websocket_ready(port, path):
            return None
        time.sleep(0.1)
    return f"not ready within {timeout_s:.0f}s"


def hand_over(out: str, result: Any) -> None:
    """A generator's last step: its result to the file the harness named (``--out``), then a
    line saying so. A result holds every latency, far past a pipe's 64 KiB, which came
    through a pipe cut short."""
    Path(out).write_text(json.dumps(result))
    print(json.dumps({"done": True}), flush=True)


def handed_over(gen: subprocess.Popen[str], out: Path, timeout_s: float) -> dict[str, Any]:
    """Wait for ``gen`` to end; the result it left in ``out`` (:func:`hand_over`)."""
    gen.communicate(timeout=timeout_s)
    return dict(json.loads(out.read_text()))
