"""One worker process: the ``switchboard serve`` command it runs, its start, its exit."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import signal
import sys
from collections.abc import Callable, Sequence

from .backoff import Backoff

#: ``prctl(PR_SET_PDEATHSIG, sig)`` (linux/prctl.h): the kernel signals the child when the
#: thread that forked it exits.
_PR_SET_PDEATHSIG = 1


def worker_command(
    argv: Sequence[str], *, index: int, port: int, admin_port: int, node_id: str
) -> list[str]:
    """``python -m switchboard`` with the supervisor's own arguments (``serve``, the App
    target, every flag) and, after them so they win, what makes it one worker: one process,
    SO_REUSEPORT on the shared port, a loopback admin port and a node id of its own."""
    own = ["--workers", "1", "--reuse-port", "--port", str(port)]
    own += ["--admin-host", "127.0.0.1", "--admin-port", str(admin_port)]
    own += ["--node-id", f"{node_id}-w{index}"]
    args = list(argv)
    end = args.index("--") if "--" in args else len(args)  # flags stop at "--"
    return [sys.executable, "-m", "switchboard", *args[:end], *own, *args[end:]]


def exit_fields(returncode: int) -> dict[str, int | str]:
    """How a process ended, as log fields: ``exit_status``, or ``signal`` when killed."""
    if returncode < 0:
        try:
            return {"signal": signal.Signals(-returncode).name}
        except ValueError:
            return {"signal": str(-returncode)}
    return {"exit_status": returncode}


class Worker:
    """A worker slot: its number and admin port stay, its process changes with each start."""

    def __init__(self, index: int, admin_port: int, command: list[str]) -> None:
        self.index = index
        self.admin_port = admin_port
        self.command = command
        self.backoff = Backoff()
        self.starts = 0
        self.started_at = 0.0
        self._process: asyncio.subprocess.Process | None = None

    @property
    def pid(self) -> int | None:
        """The running process's id; None while there is none (not started, or exited)."""
        process = self._process
        if process is None or process.returncode is not None:
            return None
        return process.pid

    async def start(self) -> int:
        """Start the process (stdout and stderr are the supervisor's); its pid."""
        self._process = await asyncio.create_subprocess_exec(
            *self.command, preexec_fn=_die_with(os.getpid())
        )
        self.starts += 1
        self.started_at = asyncio.get_running_loop().time()
        return self._process.pid

    async def wait(self) -> int:
        """Until the process exits: its return code (negative: the signal that killed it)."""
        assert self._process is not None, "wait() before start()"
        return await self._process.wait()

    def uptime(self) -> float:
        return asyncio.get_running_loop().time() - self.started_at

    def send(self, sig: int) -> None:
        """Signal the process, if it is running."""
        if self.pid is not None and self._process is not None:
            with contextlib.suppress(ProcessLookupError):  # exited since: nothing to do
                self._process.send_signal(sig)


def _die_with(parent: int) -> Callable[[], None] | None:
    """What the child runs before exec so it gets SIGTERM (and drains) when the supervisor
    dies, even by SIGKILL: orphaned workers would go on serving the port unsupervised."""
    if not sys.platform.startswith("linux"):
        return None
    prctl = ctypes.CDLL(None, use_errno=True).prctl

    def die_with_parent() -> None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != parent:  # it died before the prctl: no signal would come
            os._exit(1)

    return die_with_parent
