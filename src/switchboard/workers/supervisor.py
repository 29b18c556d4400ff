"""The supervisor: starts the workers, starts again one that exits, stops them all on a signal.

It serves no WebSocket itself. It holds the WebSocket port bound (never listening) so the
port stays its own while workers restart, serves the machine admin port (``machine.py``),
and forwards SIGTERM (and SIGHUP, the TLS reload) to the workers, each of which drains
itself. A worker that exits while the supervisor is not stopping is started again after
a backoff (``backoff.py``); one that exits 2 at its very first start (its settings or its App
target were refused) would only fail again, so the supervisor stops the others and exits 2.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
from typing import TYPE_CHECKING

import structlog

from ..observability.logging import configure_logging
from .machine import MachineAdmin
from .ports import free_loopback_port, reserve_port
from .worker import Worker, exit_fields, worker_command

if TYPE_CHECKING:
    from ..config import Settings

log = structlog.get_logger("switchboard.workers")

#: The exit status of a ``switchboard serve`` refused its settings or App target.
USAGE_ERROR = 2
#: Seconds on top of a worker's drain (``drain_timeout`` + ``drain_grace``) before SIGKILL.
STOP_SLACK = 10.0


def worker_count(workers: int | str) -> int:
    """``workers`` as a number: ``auto`` is the cores this process may run on."""
    if workers == "auto":
        return len(os.sched_getaffinity(0))
    return int(workers)


def supervise(settings: Settings, argv: list[str]) -> int:
    """Run the workers until SIGTERM/SIGINT; the process's exit status.

    ``argv``: the command line after the program name (``serve``, its flags, maybe an App
    target), given to every worker with the flags that make it one.
    """
    count = worker_count(settings.workers)
    if count > 1 and settings.broker == "memory":
        given = f"{settings.workers} ({count} cores)" if settings.workers == "auto" else count
        print(
            f"switchboard: cannot start: --workers {given} needs a shared broker "
            "(--broker redis://...): workers that cannot see each other would split broadcasts",
            file=sys.stderr,
        )
        return USAGE_ERROR
    configure_logging(
        settings.log_level,
        settings.log_format,
        settings.node_id,
        log_file=settings.log_file,
        error_log_file=settings.error_log_file,
    )
    for chatty in ("httpx", "httpcore"):  # a line per probe and scrape of a worker
        logging.getLogger(chatty).setLevel(logging.WARNING)
    try:
        reserved = reserve_port(settings.host, settings.port)
    except OSError as exc:
        where = f"{settings.host}:{settings.port}"
        print(f"switchboard: cannot start: cannot bind {where} ({exc})", file=sys.stderr)
        return 1
    with reserved:
        port = int(reserved.getsockname()[1])
        return asyncio.run(Supervisor(settings, argv, count, port).run())


class Supervisor:
    """``count`` workers serving ``port``, until :meth:`stop`."""

    def __init__(self, settings: Settings, argv: list[str], count: int, port: int) -> None:
        self.settings = settings
        self.port = port
        self.workers: list[Worker] = []
        for index in range(count):
            admin_port = free_loopback_port()  # kept across the worker's restarts
            command = worker_command(
                argv, index=index, port=port, admin_port=admin_port, node_id=settings.node_id
            )
            self.workers.append(Worker(index, admin_port, command))
        self.restarts = 0
        self.status = 0
        self._stopping: asyncio.Event | None = None

    def stop(self, status: int = 0) -> None:
        """Begin the stop: every worker gets SIGTERM; ``run()`` then returns ``status``."""
        if self._stopping is None or self._stopping.is_set():
            return
        self.status = status
        self._stopping.set()

    def forward(self, sig: int) -> None:
        """Send ``sig`` to every running worker."""
        for worker in self.workers:
            worker.send(sig)

    async def run(self) -> int:
        """Serve until a signal or :meth:`stop`; the exit status."""
        loop = asyncio.get_running_loop()
        stopping = self._stopping = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stop)
        loop.add_signal_handler(signal.SIGHUP, self.forward, signal.SIGHUP)
        admin = None
        if self.settings.admin:
            admin = MachineAdmin(self.workers, self.settings, lambda: self.restarts)
            try:
                await admin.start()
            except (OSError, ValueError) as exc:
                where = f"{self.settings.admin_host}:{self.settings.admin_port}"
                print(f"switchboard: cannot start the admin port {where}: {exc}", file=sys.stderr)
                return 1
        kept = [loop.create_task(self._keep(worker)) for worker in self.workers]
        await stopping.wait()
        await self._stop_workers(kept)
        if admin is not None:
            await admin.stop()
        log.info("workers_stopped", exit_status=self.status)
        return self.status

    async def _keep(self, worker: Worker) -> None:
        """Start ``worker`` again and again until the stop."""
        stopping = self._stopping
        assert stopping is not None
        while not stopping.is_set():
            try:
                pid = await worker.start()
            except OSError as exc:  # no process at all (out of memory, of pids)
                delay = worker.backoff.after_exit(0.0)
                log.error(
                    "worker_not_started", worker=worker.index, error=str(exc), restart_in=delay
                )
                await self._pause(delay)
                continue
            log.info("worker_started", worker=worker.index, pid=pid, admin_port=worker.admin_port)
            if stopping.is_set():  # the stop came while it was starting: it missed SIGTERM
                worker.send(signal.SIGTERM)
            returncode = await worker.wait()
            if stopping.is_set():
                return
            if returncode == USAGE_ERROR and worker.starts == 1:
                log.error("worker_refused", worker=worker.index, pid=pid, exit_status=returncode)
                self.stop(USAGE_ERROR)
                return
            uptime = worker.uptime()
            delay = worker.backoff.after_exit(uptime)
            log.warning(
                "worker_exited",
                worker=worker.index,
                pid=pid,
                **exit_fields(returncode),
                uptime=round(uptime, 3),
                restart_in=delay,
            )
            await self._pause(delay)
            if not stopping.is_set():
                self.restarts += 1

    async def _pause(self, delay: float) -> None:
        """Sleep ``delay`` seconds, or less when the stop comes first."""
        assert self._stopping is not None
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), delay)

    async def _stop_workers(self, kept: list[asyncio.Task[None]]) -> None:
        """SIGTERM to every worker, then wait for their drains; SIGKILL past the bound."""
        s = self.settings
        bound = s.drain_timeout + s.drain_grace + STOP_SLACK
        running = [w.pid for w in self.workers if w.pid is not None]
        log.info("workers_stopping", pids=running, within=bound)
        self.forward(signal.SIGTERM)
        self.forward(signal.SIGCONT)  # a stopped worker (SIGSTOP) would never see it
        _, late = await asyncio.wait(kept, timeout=bound)
        if late:
            for worker in self.workers:
                if worker.pid is not None:
                    log.warning("worker_killed", worker=worker.index, pid=worker.pid, after=bound)
            self.forward(signal.SIGKILL)
            _, late = await asyncio.wait(late, timeout=STOP_SLACK)
        for task in late:
            task.cancel()
