"""The machine's one admin port: probes and metrics of all workers, the rest sent to one.

``/health``: 200 while the supervisor runs. ``/ready``: 200 only when every worker's own
``/ready`` says 200 (its body lists each worker); 503 otherwise, so a balancer sends a
machine with a worker starting, stuck or draining no new clients. ``/metrics``: every
worker's, merged (``metrics.py``), and the supervisor's own. Any other path (the management
API, ``/docs``, the dashboard) goes to the ready worker of the lowest number (``proxy.py``):
the cluster's state is the same from every worker, over the broker.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import httpx
import structlog
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from ..admin.errors import error_response
from ..admin.hosts import HostCheck, HostPolicy
from ..admin.server import AdminServer
from .metrics import MergedMetrics
from .proxy import forward
from .readiness import admin_url, first_ready, probe_all
from .worker import Worker

if TYPE_CHECKING:
    from ..config import Settings

log = structlog.get_logger("switchboard.workers")

#: Seconds a worker has to answer a scrape of its ``/metrics``.
SCRAPE_TIMEOUT = 5.0
#: Every method the pass-through carries.
METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


def create_machine_app(
    workers: Sequence[Worker],
    settings: Settings,
    client: httpx.AsyncClient,
    restarts: Callable[[], int],
) -> FastAPI:
    """The ASGI app of the machine admin port; ``restarts()``: workers restarted so far.

    Raises ``ValueError`` when an ``admin_allowed_hosts`` entry is not a host name.
    """
    hosts = HostPolicy(settings.admin_allowed_hosts, settings.admin_host)
    keep_host = bool(settings.admin_allowed_hosts)
    # No docs of its own: /docs and /openapi.json are a worker's, the management API's.
    api = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    api.add_middleware(HostCheck, policy=hosts)

    @api.get("/health")
    async def health() -> dict[str, object]:
        return {"status": "ok", "workers": len(workers)}

    @api.get("/ready")
    async def ready() -> JSONResponse:
        found = await probe_all(client, workers)
        every = all(r.ready for r in found)
        degraded = every and any(r.status == "degraded" for r in found)
        status = "degraded" if degraded else "ready" if every else "not_ready"
        body = {"status": status, "workers": [r.as_dict() for r in found]}
        return JSONResponse(body, status_code=200 if every else 503)

    @api.get("/metrics")
    async def metrics() -> Response:
        texts = await asyncio.gather(*(_scrape(client, worker) for worker in workers))
        merged = MergedMetrics()
        up = merged.add_all(texts)
        for family in _own_families(len(workers), up, restarts()):
            merged.add_family(family)
        return Response(merged.render(), media_type=CONTENT_TYPE_PLAIN_0_0_4)

    @api.api_route("/{path:path}", methods=METHODS, include_in_schema=False)
    async def elsewhere(request: Request) -> Response:
        worker = await first_ready(client, workers)
        if worker is None:
            message = "no worker is ready (see /ready)"
            return error_response(503, "UNAVAILABLE", message, **{"Retry-After": "1"})
        return await forward(request, client, worker, keep_host)

    return api


async def _scrape(client: httpx.AsyncClient, worker: Worker) -> str | None:
    if worker.pid is None:
        return None
    try:
        answer = await client.get(admin_url(worker, "/metrics"), timeout=SCRAPE_TIMEOUT)
    except httpx.HTTPError:
        return None
    return answer.text if answer.status_code == 200 else None


def _own_families(workers: int, up: int, restarts: int) -> list[Metric]:
    return [
        GaugeMetricFamily("switchboard_workers", "Worker processes configured.", value=workers),
        GaugeMetricFamily(
            "switchboard_workers_scraped",
            "Workers whose /metrics this scrape merged (the others' samples are missing).",
            value=up,
        ),
        CounterMetricFamily(
            "switchboard_worker_restarts",
            "Workers started again after they exited.",
            value=restarts,
        ),
    ]


class MachineAdmin:
    """The machine admin port's server, and the HTTP client it reaches the workers with."""

    def __init__(
        self, workers: Sequence[Worker], settings: Settings, restarts: Callable[[], int]
    ) -> None:
        self.settings = settings
        # trust_env off: an HTTP(S)_PROXY of the environment must not carry loopback calls.
        self.client = httpx.AsyncClient(
            trust_env=False,
            timeout=httpx.Timeout(60.0, connect=2.0),
            limits=httpx.Limits(max_connections=64, max_keepalive_connections=8),
        )
        app = create_machine_app(workers, settings, self.client, restarts)
        self.server = AdminServer(app, settings.admin_host, settings.admin_port)

    async def start(self) -> None:
        """Bind and serve; raises ``OSError`` when the address cannot be bound."""
        try:
            await self.server.start()
        except BaseException:
            await self.client.aclose()
            raise
        s = self.settings
        log.info("admin_started", host=s.admin_host, port=self.server.port, machine=True)

    @property
    def port(self) -> int:
        return self.server.port

    async def stop(self) -> None:
        await self.server.stop()
        await self.client.aclose()
