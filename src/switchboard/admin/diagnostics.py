"""The management API's node routes: statistics, the cluster's nodes and the route to the
least-loaded one, event-loop lag and allocation reports."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Annotated

import msgspec
from fastapi import APIRouter, Query

from ..cluster.routing import pick, route_to
from ..observability.diagnostics import AllocationTracer, loop_pass_lag
from . import models
from .errors import ApiError, documented
from .view import running

if TYPE_CHECKING:
    from .view import NodeView


def add_diagnostics_routes(router: APIRouter, view: NodeView) -> None:
    """Add ``/stats`` and the ``/diagnostics`` routes to ``router``."""
    allocations = AllocationTracer()

    @router.get("/stats", response_model=models.Stats, summary="Node statistics", tags=["node"])
    async def get_stats() -> models.Stats:
        n = running(view)
        s = n.stats
        monitor = view.monitor
        busiest = monitor.busiest_channels(10) if monitor is not None else []
        return models.Stats(
            node=n.node_id,
            version=view.version,
            uptime_s=round(time.monotonic() - view.started_at, 3),
            draining=view.draining,
            connections=len(n.registry),
            connections_total=n.connections_total,
            channels=len(n.channels.subscribers),
            subscriptions=sum(len(c) for c in n.channels.subscribers.values()),
            messages_in=n.messages_in(),
            messages_out=n.outbox.frames_written,
            bytes_in=n.bytes_in(),
            bytes_out=n.outbox.bytes_written,
            errors=dict(s.errors),
            rate_limited=dict(s.rate_limited),
            handshake_rejections=dict(s.handshake_rejected),
            slow_consumers=n.outbox.slow_consumers,
            dropped_frames=n.outbox.dropped_frames,
            busiest_channels=[models.ChannelInfo(**c) for c in busiest],
            latest_sample=monitor.samples[-1] if monitor is not None and monitor.samples else None,
        )

    @router.get(
        "/nodes",
        response_model=models.Nodes,
        summary="Every node of the cluster",
        description="The node registry: every live node (this one included) with its URL, "
        "state and load, refreshed every second; a node that stopped refreshing drops out "
        "after `registry_ttl`. With the embedded broker: this node alone.",
        responses=documented(503),
        tags=["node"],
    )
    async def list_nodes() -> models.Nodes:
        found = await running(view).broker.nodes()
        entries = [models.NodeEntry(**msgspec.structs.asdict(info)) for info in found]
        return models.Nodes(nodes=entries)

    @router.get(
        "/route",
        response_model=models.Route,
        summary="The least-loaded ready node",
        description="Where a new client should connect: of the nodes the registry lists as "
        "`ready` (an entry younger than `registry_ttl`), the one with the lowest load score, "
        "ties to the smallest `node_id`. Read from the broker at each request; the "
        "WebSocket port's `GET /route` (with `route_endpoint`) answers the same from a "
        "copy refreshed every second.",
        responses=documented(
            503, meaning={503: "No node is ready, or the broker (Redis) did not answer in time."}
        ),
        tags=["node"],
    )
    async def get_route() -> models.Route:
        found = await running(view).broker.nodes()
        best = pick(found, max_age=view.settings.registry_ttl)
        if best is None:
            raise ApiError(503, "no node is ready (starting, draining or silent)", "UNAVAILABLE")
        return models.Route(**msgspec.structs.asdict(route_to(best)))

    @router.get(
        "/diagnostics/loop-lag",
        response_model=models.LoopLag,
        summary="Event-loop lag",
        tags=["diagnostics"],
    )
    async def get_loop_lag() -> models.LoopLag:
        monitor = view.monitor
        recent = list(monitor.samples)[-60:] if monitor is not None else []
        return models.LoopLag(
            now_ms=round(await loop_pass_lag() * 1000, 3),
            last_sample_ms=round((monitor.loop_lag if monitor is not None else 0.0) * 1000, 3),
            max_recent_ms=max((s["loop_lag_ms"] for s in recent), default=0.0),
        )

    @router.get(
        "/diagnostics/allocations",
        response_model=models.Allocations,
        summary="Top memory allocation sites (tracemalloc)",
        description="Traces new allocations for `seconds`, then reports the biggest sites "
        "still alive. Tracing slows the server while it runs; one report at a time (409).",
        responses=documented(409),
        tags=["diagnostics"],
    )
    async def get_allocations(
        seconds: Annotated[float, Query(ge=0, le=60)] = 1.0,
        top: Annotated[int, Query(ge=1, le=200)] = 20,
    ) -> models.Allocations:
        if allocations.busy:
            raise ApiError(409, "an allocation report is already running", "CONFLICT")
        report = await allocations.report(seconds, top)
        return models.Allocations(
            traced_seconds=report.traced_seconds,
            total_bytes=report.total_bytes,
            top=[
                models.AllocationSite(where=a.where, size_bytes=a.size_bytes, count=a.count)
                for a in report.top
            ],
        )
