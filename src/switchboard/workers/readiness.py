"""Whether each worker is ready: its own ``/ready``, asked over loopback."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

import httpx

from .worker import Worker

#: Seconds a worker has to answer ``/ready``; one that does not is stuck (or stopped).
PROBE_TIMEOUT = 1.0


@dataclass(frozen=True, slots=True)
class Readiness:
    """One worker's answer. ``status``: its own (``ready``, ``degraded``, ``starting``,
    ``draining``), or ``down`` (no process: exited, waiting for its restart) or
    ``unreachable`` (running, but its admin port did not answer in time)."""

    worker: int
    pid: int | None
    admin_port: int
    ready: bool
    status: str

    def as_dict(self) -> dict[str, object]:
        return {
            "worker": self.worker,
            "pid": self.pid,
            "admin_port": self.admin_port,
            "ready": self.ready,
            "status": self.status,
        }


def admin_url(worker: Worker, path: str) -> str:
    return f"http://127.0.0.1:{worker.admin_port}{path}"


async def probe(client: httpx.AsyncClient, worker: Worker) -> Readiness:
    """Ask one worker's ``/ready``: 200 is ready (``degraded`` included), anything else not."""
    pid = worker.pid
    if pid is None:
        return Readiness(worker.index, None, worker.admin_port, False, "down")
    try:
        answer = await client.get(admin_url(worker, "/ready"), timeout=PROBE_TIMEOUT)
        status = str(answer.json().get("status", answer.status_code))
    except (httpx.HTTPError, ValueError, AttributeError):  # no answer, or not its JSON
        return Readiness(worker.index, pid, worker.admin_port, False, "unreachable")
    return Readiness(worker.index, pid, worker.admin_port, answer.status_code == 200, status)


async def probe_all(client: httpx.AsyncClient, workers: Sequence[Worker]) -> list[Readiness]:
    """Every worker's readiness, asked at once (so within ``PROBE_TIMEOUT`` in all)."""
    return list(await asyncio.gather(*(probe(client, worker) for worker in workers)))


async def first_ready(client: httpx.AsyncClient, workers: Sequence[Worker]) -> Worker | None:
    """The ready worker of the lowest number, or None when none is."""
    for worker, readiness in zip(workers, await probe_all(client, workers), strict=True):
        if readiness.ready:
            return worker
    return None
